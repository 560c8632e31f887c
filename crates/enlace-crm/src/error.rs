//! [`CrmError`]: every way a CRM call can fail, each with a stable [`ErrorCode`].
//!
//! No variant ever carries a token, a password or a raw URL with its query (Zoho puts the
//! refresh token in the revoke URL); hosts and CRM messages are fine.

use std::time::Duration;

use enlace_core::{Crm, ErrorCode, RecordRef};

/// Back-off used when a rate-limited reply has no usable `Retry-After` header.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmError {
    /// No account of that CRM is linked (or its tokens are gone).
    #[error("{} is not linked: sign in under Configuración", crm_name(*crm))]
    NotLinked { crm: Crm },

    /// The CRM refused the credentials or the client (wrong password, unknown client id…).
    #[error("{} rejected the sign-in: {detail}", crm_name(*crm))]
    AuthFailed { crm: Crm, detail: String },

    /// The org does not allow the username-password flow at all: use the browser sign-in.
    #[error(
        "Salesforce does not allow the username-password sign-in for this app or org ({detail}); \
         use \"Iniciar sesión\" in the browser instead"
    )]
    PasswordFlowBlocked { detail: String },

    /// The stored grant no longer works (refresh token revoked or expired, no refresh token):
    /// the agent must sign in again.
    #[error("the {} session has ended ({detail}); sign in again", crm_name(*crm))]
    ReauthRequired { crm: Crm, detail: String },

    /// The agent (or the CRM) declined the authorization in the browser.
    #[error("{} sign-in was cancelled or denied in the browser ({detail})", crm_name(*crm))]
    AccessDenied { crm: Crm, detail: String },

    /// The browser never came back to Enlace in time.
    #[error("the browser did not return to Enlace within {} s; try signing in again", .waited.as_secs())]
    SignInTimeout { waited: Duration },

    /// The loopback port for the OAuth redirect could not be used.
    #[error("cannot listen for the sign-in redirect on port {port}: {detail}")]
    RedirectPort { port: u16, detail: String },

    /// The CRM asks us to slow down (API limit, concurrency, credits).
    #[error("{} is limiting requests; retrying in {} s", crm_name(*crm), .retry_after.as_secs())]
    RateLimited { crm: Crm, retry_after: Duration },

    /// Network failure, timeout or a 5xx reply: try again later.
    #[error("cannot reach {host}: {detail}")]
    Unavailable { host: String, detail: String },

    /// A reply that is not what the API sends (HTML page, truncated or unexpected JSON, a
    /// redirect elsewhere). `transient` when it looks like a passing proxy or network glitch.
    #[error("unexpected reply from {host}: {detail}")]
    BadReply {
        host: String,
        detail: String,
        transient: bool,
    },

    /// A field the CRM (or our own check) refused. `field` is ours: "first_name", "last_name",
    /// "email", "phone", "mobile", "company" — or `None` when the CRM named a field we don't
    /// send.
    #[error("{message}")]
    InvalidField {
        crm: Crm,
        field: Option<String>,
        message: String,
    },

    /// The CRM's duplicate rules refused the record. `existing` is the record it matched, when
    /// the CRM named one (Salesforce `duplicateResut` — sic —, Zoho `duplicate_record`): the
    /// agent can attach the call to it instead of creating another.
    #[error("{message}")]
    Duplicate {
        crm: Crm,
        field: Option<String>,
        existing: Option<RecordRef>,
        message: String,
    },

    /// The record a write points at was deleted (Salesforce `ENTITY_IS_DELETED` or a 404 on the
    /// record's own URL; Zoho "the related id given seems to be invalid").
    #[error("{detail} (the {} record no longer exists; choose another one)", crm_name(*crm))]
    RecordDeleted { crm: Crm, detail: String },

    /// The CRM has no such endpoint: the API version is not served, or the object or module is
    /// disabled for this org. A configuration problem, never a missing record.
    #[error(
        "{} does not offer this API ({detail}): the API version is not available or the object \
         is disabled for this org; check the CRM configuration",
        crm_name(*crm)
    )]
    EndpointNotFound { crm: Crm, detail: String },

    /// The CRM user lacks a permission or scope for this operation.
    #[error("the {} user may not do this: {detail}", crm_name(*crm))]
    NoPermission { crm: Crm, detail: String },

    /// A search needs at least two characters (or two digits for a number).
    #[error("type at least 2 characters to search")]
    SearchTooShort,

    /// The tokens do not fit one OS keyring entry (Windows' 2,560 bytes of UTF-16).
    #[error("the CRM tokens are too large for the OS keyring: {size} bytes as UTF-16, the limit is {limit}")]
    TokensTooLarge { size: usize, limit: usize },

    /// A stored account or token secret cannot be read back (written by another version?).
    #[error("the stored {what} cannot be read ({detail}); sign in again")]
    Corrupt { what: &'static str, detail: String },

    /// A programming error on our side (a record of the other CRM, for instance).
    #[error("internal error: {detail}")]
    Internal { detail: String },
}

impl CrmError {
    /// The stable code the UI acts on.
    pub fn code(&self) -> ErrorCode {
        match self {
            CrmError::NotLinked { .. } => ErrorCode::CrmNotLinked,
            CrmError::AuthFailed { .. } => ErrorCode::CrmAuthFailed,
            CrmError::PasswordFlowBlocked { .. } => ErrorCode::CrmPasswordFlowBlocked,
            CrmError::ReauthRequired { .. } | CrmError::Corrupt { .. } => {
                ErrorCode::CrmReauthRequired
            }
            CrmError::AccessDenied { .. } => ErrorCode::CrmAccessDenied,
            CrmError::SignInTimeout { .. } => ErrorCode::CrmSignInTimeout,
            CrmError::RedirectPort { .. } => ErrorCode::InvalidSetting,
            CrmError::RateLimited { .. } => ErrorCode::CrmRateLimited,
            CrmError::Unavailable { .. } => ErrorCode::CrmUnavailable,
            CrmError::BadReply { .. } => ErrorCode::CrmBadReply,
            CrmError::InvalidField { .. } => ErrorCode::CrmInvalidField,
            CrmError::Duplicate { .. } => ErrorCode::CrmDuplicate,
            CrmError::RecordDeleted { .. } => ErrorCode::CrmRecordDeleted,
            CrmError::EndpointNotFound { .. } => ErrorCode::CrmEndpointNotFound,
            CrmError::NoPermission { .. } => ErrorCode::CrmNoPermission,
            CrmError::SearchTooShort => ErrorCode::SearchTooShort,
            CrmError::TokensTooLarge { .. } => ErrorCode::TooLong,
            CrmError::Internal { .. } => ErrorCode::Internal,
        }
    }

    /// Which field of the "Nuevo contacto" form is wrong, if the error is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            CrmError::InvalidField { field, .. } | CrmError::Duplicate { field, .. } => {
                field.as_deref()
            }
            _ => None,
        }
    }

    /// The record a duplicate matched, when the CRM named it.
    pub fn existing_record(&self) -> Option<&RecordRef> {
        match self {
            CrmError::Duplicate { existing, .. } => existing.as_ref(),
            _ => None,
        }
    }

    /// How long to wait before trying again, when the CRM said so (or a default back-off).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CrmError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Trying the same request later may succeed (network, 5xx, rate limit, a garbled reply).
    pub fn is_transient(&self) -> bool {
        match self {
            CrmError::Unavailable { .. } | CrmError::RateLimited { .. } => true,
            CrmError::BadReply { transient, .. } => *transient,
            _ => false,
        }
    }

    /// Only the agent can fix this (a field, a duplicate, signing in again, a permission):
    /// show it in the UI instead of retrying.
    pub fn needs_agent(&self) -> bool {
        matches!(
            self,
            CrmError::NotLinked { .. }
                | CrmError::AuthFailed { .. }
                | CrmError::PasswordFlowBlocked { .. }
                | CrmError::ReauthRequired { .. }
                | CrmError::AccessDenied { .. }
                | CrmError::SignInTimeout { .. }
                | CrmError::RedirectPort { .. }
                | CrmError::InvalidField { .. }
                | CrmError::Duplicate { .. }
                | CrmError::RecordDeleted { .. }
                | CrmError::EndpointNotFound { .. }
                | CrmError::NoPermission { .. }
                | CrmError::SearchTooShort
                | CrmError::TokensTooLarge { .. }
                | CrmError::Corrupt { .. }
        )
    }

    pub(crate) fn bad_reply(host: &str, detail: impl Into<String>) -> CrmError {
        CrmError::BadReply {
            host: host.to_owned(),
            detail: detail.into(),
            transient: false,
        }
    }
}

pub(crate) fn crm_name(crm: Crm) -> &'static str {
    match crm {
        Crm::Salesforce => "Salesforce",
        Crm::Zoho => "Zoho CRM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_is_consistent() {
        let limited = CrmError::RateLimited {
            crm: Crm::Zoho,
            retry_after: Duration::from_secs(7),
        };
        assert_eq!(limited.code(), ErrorCode::CrmRateLimited);
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        assert!(limited.is_transient());
        assert!(!limited.needs_agent());

        let field = CrmError::InvalidField {
            crm: Crm::Salesforce,
            field: Some("company".into()),
            message: "Company is required for a lead".into(),
        };
        assert_eq!(field.code(), ErrorCode::CrmInvalidField);
        assert_eq!(field.field(), Some("company"));
        assert!(field.needs_agent());
        assert!(!field.is_transient());

        let down = CrmError::Unavailable {
            host: "x.my.salesforce.com".into(),
            detail: "503".into(),
        };
        assert!(down.is_transient() && !down.needs_agent());
        assert_eq!(down.retry_after(), None);

        assert_eq!(CrmError::SearchTooShort.code(), ErrorCode::SearchTooShort);
        assert_eq!(
            CrmError::Corrupt {
                what: "tokens",
                detail: "x".into()
            }
            .code(),
            ErrorCode::CrmReauthRequired
        );
    }
}
