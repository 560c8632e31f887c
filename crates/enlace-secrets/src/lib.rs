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
//!   [`SecretsError::Unavailable`] (code `keyring_unavailable`, its detail says which of the
//!   two), which the app shows as a degraded state rather than crashing.
//! - There is no silent fallback: a machine without a keyring gets `Unavailable`, never an
//!   in-memory store. [`SecretStore::in_memory`] exists for tests and the demo mode and must be
//!   asked for explicitly.
//! - CRM tokens are stored under [`crm_account_ref`]`(crm, account key)`, so every CRM entry
//!   is namespaced `crm/<crm>/<key>` and cannot collide with another kind of secret. The
//!   agent's OAuth client secret for a CRM (Zoho's) sits under [`crm_client_secret_ref`]
//!   (`crm-client/<crm>`), beside the tokens and never in the database.
//!
//! To extend: add methods to [`SecretStore`] that build on `put`/`get`/`delete`; map any new
//! keyring failure in `error.rs`; keep `keyring` types out of the public API.

mod error;
mod sensitive;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use enlace_core::Crm;
use keyring::Entry;

pub use error::{SecretsError, LOCKED_DETAIL};
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

/// The account reference of a linked CRM account's tokens: `crm/<crm>/<account key>`
/// (`crm/salesforce/00Dxx:005xx`). The key is the CRM account's own stable key; the database
/// stores it, never the tokens.
pub fn crm_account_ref(crm: Crm, account_key: &str) -> String {
    format!("crm/{}/{account_key}", crm.as_str())
}

/// The account reference of the OAuth client secret the agent typed for `crm`
/// (`crm-client/zoho`): outside the `crm/` namespace of tokens, so no account key can collide.
pub fn crm_client_secret_ref(crm: Crm) -> String {
    format!("crm-client/{}", crm.as_str())
}

/// The channel's secrets in the OS keyring (or, when asked for explicitly, in this process's
/// memory). Cheap to create and clone; every call on a keyring store talks to the keyring
/// (blocking: run it off the UI thread).
#[derive(Clone)]
pub struct SecretStore {
    channel: Channel,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Os,
    /// Shared by the clones of one [`SecretStore::in_memory`] store; gone with the process.
    Memory(Arc<Mutex<HashMap<String, String>>>),
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets, nor their account references.
        let backend = match self.backend {
            Backend::Os => "os keyring",
            Backend::Memory(_) => "process memory",
        };
        f.debug_struct("SecretStore")
            .field("channel", &self.channel)
            .field("backend", &backend)
            .finish()
    }
}

impl SecretStore {
    /// The OS keyring, namespaced by `channel`.
    pub fn new(channel: Channel) -> SecretStore {
        SecretStore {
            channel,
            backend: Backend::Os,
        }
    }

    /// An empty store in this process's memory, for tests and the demo mode: nothing is
    /// persisted and nothing reaches the OS keyring. Clones share the same entries; each call
    /// makes a new, empty store. Same checks (size, account reference) as the keyring. Never
    /// use it as a fallback for a missing keyring: report [`SecretsError::Unavailable`].
    /// Its [`channel`](SecretStore::channel) is `Dev`.
    pub fn in_memory() -> SecretStore {
        SecretStore {
            channel: Channel::Dev,
            backend: Backend::Memory(Arc::default()),
        }
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// Check that this store works (see [`probe`]); an in-memory store always does.
    pub fn probe(&self) -> Result<(), SecretsError> {
        match self.backend {
            Backend::Os => probe(self.channel),
            Backend::Memory(_) => Ok(()),
        }
    }

    /// The account references an in-memory store holds (empty for the OS keyring, which is
    /// never listed). For tests that check where secrets went.
    pub fn accounts_in_memory(&self) -> Vec<String> {
        match &self.backend {
            Backend::Os => Vec::new(),
            Backend::Memory(entries) => {
                let mut names: Vec<String> = entries
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .keys()
                    .cloned()
                    .collect();
                names.sort();
                names
            }
        }
    }

    /// Whether this store keeps its secrets in process memory ([`SecretStore::in_memory`]).
    pub fn is_in_memory(&self) -> bool {
        matches!(self.backend, Backend::Memory(_))
    }

    /// Store `secret` under `account`, replacing any previous value.
    pub fn put(&self, account: &str, secret: &Sensitive<String>) -> Result<(), SecretsError> {
        check_account(account)?;
        check_size(secret.expose())?;
        match &self.backend {
            Backend::Os => write(&self.entry(account)?, account, secret.expose()),
            Backend::Memory(map) => {
                lock(map).insert(account.to_owned(), secret.expose().clone());
                Ok(())
            }
        }
    }

    /// The secret stored under `account`; [`SecretsError::NotFound`] if there is none.
    pub fn get(&self, account: &str) -> Result<Sensitive<String>, SecretsError> {
        check_account(account)?;
        match &self.backend {
            Backend::Os => read(&self.entry(account)?, account),
            Backend::Memory(map) => lock(map)
                .get(account)
                .cloned()
                .map(Sensitive::new)
                .ok_or_else(|| not_found(account)),
        }
    }

    /// Remove the secret under `account`; [`SecretsError::NotFound`] if there was none.
    pub fn delete(&self, account: &str) -> Result<(), SecretsError> {
        check_account(account)?;
        match &self.backend {
            Backend::Os => remove(&self.entry(account)?, account),
            Backend::Memory(map) => lock(map)
                .remove(account)
                .map(drop)
                .ok_or_else(|| not_found(account)),
        }
    }

    fn entry(&self, account: &str) -> Result<Entry, SecretsError> {
        Entry::new(self.channel.service(), account)
            .map_err(|e| SecretsError::from_keyring(e, account))
    }
}

/// A panic while holding the lock cannot leave the map half-written (one insert or remove),
/// so a poisoned lock is still safe to use.
fn lock(
    map: &Mutex<HashMap<String, String>>,
) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

fn not_found(account: &str) -> SecretsError {
    SecretsError::NotFound {
        account: account.to_owned(),
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
        assert_eq!(err.code(), enlace_core::ErrorCode::KeyringUnavailable);
        assert!(err.is_locked(), "{err}");
        assert!(err.to_string().contains("unlock it"), "{err}");

        fail_next(
            &entry,
            keyring::Error::PlatformFailure(Box::new(std::io::Error::other("no bus"))),
        );
        let err = write(&entry, "a", "tok").unwrap_err();
        assert!(
            matches!(&err, SecretsError::Unavailable { detail } if detail.contains("no bus")),
            "{err:?}"
        );
        assert_eq!(err.code(), enlace_core::ErrorCode::KeyringUnavailable);
        assert!(!err.is_locked(), "missing, not locked: {err}");

        // gnome-keyring's answer when its collection is locked comes as a platform failure.
        fail_next(
            &entry,
            keyring::Error::PlatformFailure(Box::new(std::io::Error::other(
                "DBus error: Cannot create an item in a locked collection",
            ))),
        );
        let err = write(&entry, "a", "tok").unwrap_err();
        assert!(err.is_locked(), "{err}");
        assert_eq!(err.code(), enlace_core::ErrorCode::KeyringUnavailable);

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
    fn in_memory_store_keeps_crm_tokens_for_the_process_only() {
        let store = SecretStore::in_memory();
        assert!(store.is_in_memory());
        assert!(!SecretStore::new(Channel::Dev).is_in_memory());
        let account = crm_account_ref(Crm::Salesforce, "00Dxx:005xx");
        assert_eq!(account, "crm/salesforce/00Dxx:005xx");
        assert_eq!(crm_account_ref(Crm::Zoho, "a@b.c"), "crm/zoho/a@b.c");
        assert_eq!(crm_client_secret_ref(Crm::Zoho), "crm-client/zoho");
        assert!(!crm_client_secret_ref(Crm::Zoho).starts_with("crm/"));

        let err = store.get(&account).map(|_| ()).unwrap_err();
        assert!(matches!(err, SecretsError::NotFound { .. }), "{err:?}");
        store
            .put(&account, &Sensitive::new("{\"access\":\"tok\"}".into()))
            .unwrap();
        // Clones share the entries; another in-memory store does not.
        let clone = store.clone();
        assert_eq!(
            clone.get(&account).unwrap().expose(),
            "{\"access\":\"tok\"}"
        );
        assert!(matches!(
            SecretStore::in_memory().get(&account),
            Err(SecretsError::NotFound { .. })
        ));
        clone
            .put(&account, &Sensitive::new("second".into()))
            .unwrap();
        assert_eq!(store.get(&account).unwrap().expose(), "second");
        // Debug shows neither the secret nor the account.
        let debug = format!("{store:?}");
        assert!(
            !debug.contains("second") && !debug.contains("00Dxx"),
            "{debug}"
        );
        assert!(debug.contains("process memory"), "{debug}");

        store.delete(&account).unwrap();
        assert!(matches!(
            clone.delete(&account),
            Err(SecretsError::NotFound { .. })
        ));
        // The same checks as the keyring.
        assert!(matches!(
            store.put(&account, &Sensitive::new("x".repeat(1_281))),
            Err(SecretsError::TooLarge { .. })
        ));
        assert!(matches!(
            store.get(""),
            Err(SecretsError::InvalidAccount { .. })
        ));
        let long_key = crm_account_ref(Crm::Zoho, &"k".repeat(300));
        assert!(matches!(
            store.put(&long_key, &Sensitive::new("x".into())),
            Err(SecretsError::InvalidAccount { .. })
        ));
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
