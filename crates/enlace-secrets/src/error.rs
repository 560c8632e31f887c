//! The secrets error type. Every variant maps to a stable [`ErrorCode`]; no variant ever
//! carries secret material.

use enlace_core::ErrorCode;

/// How the detail of [`SecretsError::Unavailable`] starts when a keyring answered but is
/// locked or refused access (as opposed to no keyring at all).
pub const LOCKED_DETAIL: &str = "the keyring is locked or refused access";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// No usable keyring: no Secret Service on the session bus, the keyring is locked, or the
    /// OS refused access. The app keeps working without CRM sign-in and says what to do;
    /// `detail` says whether the keyring is locked (it starts with [`LOCKED_DETAIL`]) or
    /// missing.
    #[error("the OS keyring is unavailable: {detail}")]
    Unavailable { detail: String },
    /// Nothing is stored under that account reference.
    #[error("no secret is stored for {account}")]
    NotFound { account: String },
    /// The secret exceeds what every supported OS can store (Windows: 2,560 bytes of UTF-16).
    #[error(
        "the secret is too large for the OS keyring: {size} bytes as UTF-16, the limit is {limit}"
    )]
    TooLarge { size: usize, limit: usize },
    /// The account reference is empty, too long or contains control characters.
    #[error("invalid account reference: {reason}")]
    InvalidAccount { reason: &'static str },
    /// The stored value is not UTF-8 text (written by another program).
    #[error("the secret stored for {account} is not text")]
    BadEncoding { account: String },
    /// Any other keyring failure (an attribute the platform refused, several matching items).
    #[error("keyring error: {detail}")]
    Keyring { detail: String },
}

impl SecretsError {
    /// The stable code the UI acts on.
    pub fn code(&self) -> ErrorCode {
        match self {
            SecretsError::Unavailable { .. } => ErrorCode::KeyringUnavailable,
            SecretsError::BadEncoding { .. } => ErrorCode::Storage,
            SecretsError::NotFound { .. } => ErrorCode::NotFound,
            SecretsError::TooLarge { .. } => ErrorCode::TooLong,
            SecretsError::InvalidAccount { .. } | SecretsError::Keyring { .. } => {
                ErrorCode::Internal
            }
        }
    }

    /// Whether this is [`SecretsError::Unavailable`] for a keyring that is there but locked
    /// (unlocking it fixes it) rather than missing.
    pub fn is_locked(&self) -> bool {
        matches!(self, SecretsError::Unavailable { detail } if detail.starts_with(LOCKED_DETAIL))
    }

    pub(crate) fn from_keyring(error: keyring::Error, account: &str) -> SecretsError {
        use keyring::Error as K;
        match error {
            K::NoStorageAccess(e) => SecretsError::Unavailable {
                detail: format!("{LOCKED_DETAIL}; unlock it and try again ({e})"),
            },
            // Secret Service reports a locked collection as a plain D-Bus error ("Cannot
            // create an item in a locked collection"): still the locked case for the agent.
            K::PlatformFailure(e) if e.to_string().to_lowercase().contains("locked") => {
                SecretsError::Unavailable {
                    detail: format!("{LOCKED_DETAIL}; unlock it and try again ({e})"),
                }
            }
            K::PlatformFailure(e) => SecretsError::Unavailable {
                detail: format!("no keyring service answered or it failed ({e})"),
            },
            K::NoEntry => SecretsError::NotFound {
                account: account.to_owned(),
            },
            // Never keep the bytes: they are the secret.
            K::BadEncoding(_) => SecretsError::BadEncoding {
                account: account.to_owned(),
            },
            K::TooLong(attribute, limit) => SecretsError::Keyring {
                detail: format!("{attribute} is longer than the platform limit of {limit}"),
            },
            K::Invalid(attribute, reason) => SecretsError::Keyring {
                detail: format!("{attribute} is invalid: {reason}"),
            },
            K::Ambiguous(items) => SecretsError::Keyring {
                detail: format!("{} keyring items match {account}", items.len()),
            },
            other => SecretsError::Keyring {
                detail: other.to_string(),
            },
        }
    }
}
