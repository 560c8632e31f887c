//! `enlace-secrets` owns the agent's secrets (CRM tokens, passwords) and is the only crate that
//! touches the OS keyring (`keyring` 3: Secret Service on Linux, Keychain on macOS, Credential
//! Manager on Windows).
//!
//! Invariants:
//! - A secret in memory is a [`Sensitive`]: no `Debug`, `Display` or `Serialize`, so it cannot
//!   reach a log, an error message or the UI by accident; [`Sensitive::expose`] is the one
//!   explicit way to read it.
//! - Entries are namespaced by build channel: service `enlace.dev` for dev builds, `enlace` for
//!   release builds, plus an account reference chosen by the caller (e.g. `salesforce:005xx`).
//!   The database stores that account reference, never the secret.
//! - Secrets larger than Windows allows (2,560 bytes as UTF-16) are rejected on every OS, so a
//!   token that works on Linux cannot fail on Windows.
//! - Every keyring failure becomes a typed [`SecretsError`]; "no keyring / locked keyring" is
//!   [`SecretsError::Unavailable`], which the app shows as a degraded state rather than crashing.
//!
//! To extend: add methods to [`SecretStore`] that build on `put`/`get`/`delete`; map any new
//! keyring failure in `error.rs`; keep `keyring` types out of the public API.

mod error;
mod sensitive;

use std::sync::atomic::{AtomicU64, Ordering};

use keyring::Entry;

pub use error::SecretsError;
pub use sensitive::Sensitive;

/// Largest secret accepted, in bytes of its UTF-16 form (Windows' `CRED_MAX_CREDENTIAL_BLOB_SIZE`;
/// ASCII text may thus be up to 1,280 characters).
pub const MAX_SECRET_BYTES: usize = 2_560;

/// Longest account reference accepted, in characters.
pub const MAX_ACCOUNT_CHARS: usize = 256;

/// Build channel: dev and release builds never see each other's secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Dev,
    Release,
}

impl Channel {
    /// The keyring service name of the channel.
    pub fn service(self) -> &'static str {
        match self {
            Channel::Dev => "enlace.dev",
            Channel::Release => "enlace",
        }
    }
}

/// The channel's secrets in the OS keyring. Cheap to create; every call talks to the keyring
/// (blocking: run it off the UI thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretStore {
    channel: Channel,
}

impl SecretStore {
    pub fn new(channel: Channel) -> SecretStore {
        SecretStore { channel }
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// Store `secret` under `account`, replacing any previous value.
    pub fn put(&self, account: &str, secret: &Sensitive<String>) -> Result<(), SecretsError> {
        check_size(secret.expose())?;
        write(&self.entry(account)?, account, secret.expose())
    }

    /// The secret stored under `account`; [`SecretsError::NotFound`] if there is none.
    pub fn get(&self, account: &str) -> Result<Sensitive<String>, SecretsError> {
        read(&self.entry(account)?, account)
    }

    /// Remove the secret under `account`; [`SecretsError::NotFound`] if there was none.
    pub fn delete(&self, account: &str) -> Result<(), SecretsError> {
        remove(&self.entry(account)?, account)
    }

    fn entry(&self, account: &str) -> Result<Entry, SecretsError> {
        check_account(account)?;
        Entry::new(self.channel.service(), account)
            .map_err(|e| SecretsError::from_keyring(e, account))
    }
}

/// Check that the keyring works for `channel`: write a probe entry, read it back, delete it.
/// Used by `enlace doctor` and at start-up to decide whether CRM sign-in can be offered.
pub fn probe(channel: Channel) -> Result<(), SecretsError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let account = format!("doctor-probe-{}-{n}", std::process::id());
    let value = format!("enlace probe {n} of process {}", std::process::id());
    let store = SecretStore::new(channel);
    store.put(&account, &Sensitive::new(value.clone()))?;
    let read_back = store.get(&account);
    let deleted = store.delete(&account);
    if read_back?.expose() != &value {
        return Err(SecretsError::Unavailable {
            detail: "the keyring returned a different value than was written".into(),
        });
    }
    deleted
}

fn check_account(account: &str) -> Result<(), SecretsError> {
    let reason = if account.is_empty() {
        "it is empty"
    } else if account.chars().count() > MAX_ACCOUNT_CHARS {
        "it is longer than 256 characters"
    } else if account.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(SecretsError::InvalidAccount { reason })
}

fn check_size(secret: &str) -> Result<(), SecretsError> {
    let size = secret.encode_utf16().count() * 2;
    if size > MAX_SECRET_BYTES {
        return Err(SecretsError::TooLarge {
            size,
            limit: MAX_SECRET_BYTES,
        });
    }
    Ok(())
}

fn write(entry: &Entry, account: &str, secret: &str) -> Result<(), SecretsError> {
    entry
        .set_password(secret)
        .map_err(|e| SecretsError::from_keyring(e, account))
}

fn read(entry: &Entry, account: &str) -> Result<Sensitive<String>, SecretsError> {
    entry
        .get_password()
        .map(Sensitive::new)
        .map_err(|e| SecretsError::from_keyring(e, account))
}

fn remove(entry: &Entry, account: &str) -> Result<(), SecretsError> {
    entry
        .delete_credential()
        .map_err(|e| SecretsError::from_keyring(e, account))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyring::mock::MockCredential;

    /// Every test installs the same process-global mock builder before creating entries.
    fn mock_entry() -> Entry {
        keyring::set_default_credential_builder(keyring::mock::default_credential_builder());
        Entry::new(Channel::Dev.service(), "salesforce:005A").unwrap()
    }

    fn fail_next(entry: &Entry, error: keyring::Error) {
        let mock: &MockCredential = entry.get_credential().downcast_ref().unwrap();
        mock.set_error(error);
    }

    #[test]
    fn channels_have_separate_services() {
        assert_eq!(Channel::Dev.service(), "enlace.dev");
        assert_eq!(Channel::Release.service(), "enlace");
    }

    #[test]
    fn round_trip_then_not_found_after_delete() {
        let entry = mock_entry();
        write(&entry, "a", "tok-1").unwrap();
        assert_eq!(read(&entry, "a").unwrap().expose(), "tok-1");
        write(&entry, "a", "tok-2 ñ 💥").unwrap();
        assert_eq!(read(&entry, "a").unwrap().expose(), "tok-2 ñ 💥");
        remove(&entry, "a").unwrap();
        let err = read(&entry, "a").map(|_| ()).unwrap_err();
        assert!(
            matches!(&err, SecretsError::NotFound { account } if account == "a"),
            "{err:?}"
        );
        assert_eq!(err.code(), enlace_core::ErrorCode::NotFound);
        assert!(matches!(
            remove(&entry, "a"),
            Err(SecretsError::NotFound { .. })
        ));
    }

    #[test]
    fn locked_or_missing_keyring_is_unavailable() {
        let entry = mock_entry();
        write(&entry, "a", "tok").unwrap();
        fail_next(
            &entry,
            keyring::Error::NoStorageAccess(Box::new(std::io::Error::other("locked"))),
        );
        let err = read(&entry, "a").map(|_| ()).unwrap_err();
        assert!(
            matches!(&err, SecretsError::Unavailable { detail } if detail.contains("locked")),
            "{err:?}"
        );
        assert_eq!(err.code(), enlace_core::ErrorCode::Storage);

        fail_next(
            &entry,
            keyring::Error::PlatformFailure(Box::new(std::io::Error::other("no bus"))),
        );
        let err = write(&entry, "a", "tok").unwrap_err();
        assert!(
            matches!(&err, SecretsError::Unavailable { detail } if detail.contains("no bus")),
            "{err:?}"
        );

        fail_next(
            &entry,
            keyring::Error::PlatformFailure(Box::new(std::io::Error::other("gone"))),
        );
        assert!(matches!(
            remove(&entry, "a"),
            Err(SecretsError::Unavailable { .. })
        ));
        // The failures were transient: the entry works again.
        assert_eq!(read(&entry, "a").unwrap().expose(), "tok");
    }

    #[test]
    fn bad_encoding_never_shows_the_bytes() {
        let entry = mock_entry();
        write(&entry, "a", "x").unwrap();
        fail_next(
            &entry,
            keyring::Error::BadEncoding(b"\xffsecret-bytes".to_vec()),
        );
        let err = read(&entry, "a").map(|_| ()).unwrap_err();
        assert!(matches!(err, SecretsError::BadEncoding { .. }), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("secret-bytes"));
        fail_next(&entry, keyring::Error::Invalid("user".into(), "bad".into()));
        let err = read(&entry, "a").map(|_| ()).unwrap_err();
        assert_eq!(err.code(), enlace_core::ErrorCode::Internal, "{err:?}");
    }

    #[test]
    fn secrets_over_the_windows_limit_are_rejected_everywhere() {
        mock_entry();
        let store = SecretStore::new(Channel::Dev);
        store.put("a", &Sensitive::new("x".repeat(1_280))).unwrap();
        let err = store
            .put("a", &Sensitive::new("x".repeat(1_281)))
            .unwrap_err();
        assert!(
            matches!(
                err,
                SecretsError::TooLarge {
                    size: 2_562,
                    limit: 2_560
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.code(), enlace_core::ErrorCode::TooLong);
        // Characters outside the BMP take two UTF-16 units: 640 of them is exactly the limit.
        store.put("a", &Sensitive::new("𝄞".repeat(640))).unwrap();
        assert!(matches!(
            store.put("a", &Sensitive::new("𝄞".repeat(641))),
            Err(SecretsError::TooLarge { .. })
        ));
        // 1,000 two-byte UTF-8 characters are 2,000 bytes of UTF-16: fine.
        store.put("a", &Sensitive::new("ñ".repeat(1_000))).unwrap();
    }

    #[test]
    fn account_references_are_checked_before_the_keyring() {
        mock_entry();
        let store = SecretStore::new(Channel::Release);
        for bad in ["", "a\nb", "nul\u{0}", &"a".repeat(257)] {
            let err = store.get(bad).map(|_| ()).unwrap_err();
            assert!(
                matches!(err, SecretsError::InvalidAccount { .. }),
                "{bad:?}: {err:?}"
            );
        }
        // A fresh mock entry is empty, so a valid reference gets as far as the keyring.
        let err = store.get("zoho:42 ñ").map(|_| ()).unwrap_err();
        assert!(matches!(err, SecretsError::NotFound { .. }), "{err:?}");
    }

    #[test]
    fn probe_fails_on_a_keyring_that_does_not_persist() {
        // The mock keeps nothing between entries, like a keyring that drops writes: the probe
        // must notice instead of reporting success.
        mock_entry();
        let err = probe(Channel::Dev).unwrap_err();
        assert!(matches!(err, SecretsError::NotFound { .. }), "{err:?}");
    }
}
