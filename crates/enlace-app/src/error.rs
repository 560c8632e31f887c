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
    /// A CRM or keyring failure; the contact-form field (`last_name`, `company`…) or the
    /// settings field (`zohoClientSecret`) when one is at fault.
    #[error("{0}")]
    Crm(String, ErrorCode, Option<&'static str>),
    /// A failure reported by the organization's server; the wait in seconds when throttled.
    #[error("{0}")]
    Hub(String, ErrorCode, Option<u64>),
    /// A map tile could not be served (bad coordinates, the tile server failed).
    #[error("{0}")]
    Tile(String, ErrorCode),
    /// Recording or reading a voice note (`microphone_*`, `recording_empty`, …).
    #[error("{0}")]
    Voice(String, ErrorCode),
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Dial(e) => e.code(),
            AppError::Line(_, code)
            | AppError::Store(_, code)
            | AppError::Crm(_, code, _)
            | AppError::Hub(_, code, _)
            | AppError::Tile(_, code)
            | AppError::Voice(_, code) => *code,
            AppError::InvalidSetting { .. } => ErrorCode::InvalidSetting,
            AppError::CallNotFound(_) => ErrorCode::NotFound,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The field an error is about, named as the UI names it: a settings field (camelCase)
    /// for `invalid_setting`, a contact-form field (`last_name`, `company`…) for CRM errors.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::InvalidSetting { field, .. } => Some(field),
            AppError::Crm(_, _, field) => *field,
            _ => None,
        }
    }

    /// How long to wait before trying again (a throttled login), in seconds.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            AppError::Hub(_, _, wait) => *wait,
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
