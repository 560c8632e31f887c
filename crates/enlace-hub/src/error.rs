//! The hub's error type. Every variant has a stable `code` the desktop acts on; messages are
//! for people and may change.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("wrong user or password")]
    BadCredentials,
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("this agent is disabled")]
    AgentDisabled,
    #[error("the session has expired or does not exist; log in again")]
    SessionExpired,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("the request body is too large")]
    TooLarge,
    #[error("only supervisors may do this")]
    Forbidden,
    #[error("the phone system is not reachable: {0}")]
    PbxOffline(String),
    #[error("the phone system refused: {0}")]
    PbxRefused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl HubError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            HubError::BadCredentials => "bad_credentials",
            HubError::Throttled { .. } => "throttled",
            HubError::AgentDisabled => "agent_disabled",
            HubError::SessionExpired => "session_expired",
            HubError::NotFound(_) => "not_found",
            HubError::InvalidRequest(_) => "invalid_request",
            HubError::TooLarge => "payload_too_large",
            HubError::Forbidden => "forbidden",
            HubError::PbxOffline(_) => "pbx_offline",
            HubError::PbxRefused(_) => "pbx_refused",
            HubError::Store(_) | HubError::Internal(_) => "internal",
        }
    }

    /// Seconds the client should wait before retrying, when that is known.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            HubError::Throttled { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}
