//! The secrets error type. Every variant maps to a stable [`ErrorCode`]; no variant ever
//! carries secret material.

use enlace_core::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// No usable keyring: no Secret Service on the session bus, the keyring is locked, or the
    /// OS refused access. The app keeps working without CRM sign-in and says what to do.
    #[error("the OS keyring is unavailable (is it installed and unlocked?): {detail}")]
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
            SecretsError::Unavailable { .. } | SecretsError::BadEncoding { .. } => {
                ErrorCode::Storage
            }
            SecretsError::NotFound { .. } => ErrorCode::NotFound,
            SecretsError::TooLarge { .. } => ErrorCode::TooLong,
            SecretsError::InvalidAccount { .. } | SecretsError::Keyring { .. } => {
                ErrorCode::Internal
            }
        }
    }

    pub(crate) fn from_keyring(error: keyring::Error, account: &str) -> SecretsError {
        use keyring::Error as K;
        match error {
            K::NoStorageAccess(e) => SecretsError::Unavailable {
                detail: format!("access to the keyring was refused or it is locked: {e}"),
            },
            K::PlatformFailure(e) => SecretsError::Unavailable {
                detail: e.to_string(),
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
