//! The one error type of the use-cases. Each variant maps to a stable [`ErrorCode`].

use enlace_core::{DialError, ErrorCode};
use enlace_store::StoreError;
use enlace_telephony::LineError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Dial(#[from] DialError),
    #[error("{0}")]
    Line(String, ErrorCode),
    #[error("{0}")]
    Store(String, ErrorCode),
    #[error("{field}: {reason}")]
    InvalidSetting {
        field: &'static str,
        reason: &'static str,
    },
    #[error("no call with id {0}")]
    CallNotFound(String),
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Dial(e) => e.code(),
            AppError::Line(_, code) | AppError::Store(_, code) => *code,
            AppError::InvalidSetting { .. } => ErrorCode::InvalidSetting,
            AppError::CallNotFound(_) => ErrorCode::NotFound,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The settings field an `invalid_setting` error is about (camelCase, as in the UI).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::InvalidSetting { field, .. } => Some(field),
            _ => None,
        }
    }

    pub(crate) fn invalid_setting(field: &'static str, reason: &'static str) -> Self {
        AppError::InvalidSetting { field, reason }
    }
}

impl From<LineError> for AppError {
    fn from(e: LineError) -> Self {
        let code = e.code();
        AppError::Line(e.to_string(), code)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        let code = e.code();
        AppError::Store(e.to_string(), code)
    }
}
