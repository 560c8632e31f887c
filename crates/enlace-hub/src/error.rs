//! The hub's error type. Every variant has a stable `code` the desktop acts on; messages are
//! for people and may change.

use enlace_hub_api::ApiErrorCode;

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
    /// Stable machine-readable code, as the API sends it.
    pub fn api_code(&self) -> ApiErrorCode {
        match self {
            HubError::BadCredentials => ApiErrorCode::BadCredentials,
            HubError::Throttled { .. } => ApiErrorCode::Throttled,
            HubError::AgentDisabled => ApiErrorCode::AgentDisabled,
            HubError::SessionExpired => ApiErrorCode::SessionExpired,
            HubError::NotFound(_) => ApiErrorCode::NotFound,
            HubError::InvalidRequest(_) => ApiErrorCode::InvalidRequest,
            HubError::TooLarge => ApiErrorCode::PayloadTooLarge,
            HubError::Forbidden => ApiErrorCode::Forbidden,
            HubError::PbxOffline(_) => ApiErrorCode::PbxOffline,
            HubError::PbxRefused(_) => ApiErrorCode::PbxRefused,
            HubError::Store(_) | HubError::Internal(_) => ApiErrorCode::Internal,
        }
    }

    /// [`HubError::api_code`] as text.
    pub fn code(&self) -> &'static str {
        self.api_code().as_str()
    }

    /// Seconds the client should wait before retrying, when that is known.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            HubError::Throttled { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}
