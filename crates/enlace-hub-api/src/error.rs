//! `ApiErrorCode`: the stable codes of the hub's error replies (`{code, message, retryAfter?}`).
//!
//! To add a code: add a variant here (its wire name is the snake_case of the variant), add it
//! to [`ApiErrorCode::ALL`] (a test checks the list against the OpenAPI schema), map the hub's
//! error onto it (`enlace-hub/src/error.rs`) and the client's (`enlace-hub-client/src/error.rs`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why the hub refused a request. Clients act on the code, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorCode {
    /// Wrong user or password (401).
    BadCredentials,
    /// Too many failed logins; `retryAfter` says how long to wait (429).
    Throttled,
    /// The agent was disabled by an administrator (403).
    AgentDisabled,
    /// The session ended or never existed: log in again (401).
    SessionExpired,
    /// No such route or thing (404).
    NotFound,
    /// The request is malformed (400).
    InvalidRequest,
    /// The request body is over the limit (413).
    PayloadTooLarge,
    /// Only supervisors may do this (403).
    Forbidden,
    /// The hub cannot reach the phone system (503).
    PbxOffline,
    /// The phone system refused the action (502).
    PbxRefused,
    /// The hub failed; the message says nothing more (500).
    Internal,
    /// WhatsApp: more than 24 hours since the customer wrote; send a template (409, with
    /// `templates`).
    WindowClosed,
    /// WhatsApp: the message or file cannot be sent as given (400; the message says why).
    WhatsappInvalidMessage,
    /// WhatsApp is not configured on this hub (503).
    WhatsappNotConfigured,
    /// WhatsApp (Meta) refused or could not be reached (502).
    WhatsappUnavailable,
    /// An uploaded file is empty (400).
    WhatsappMediaEmpty,
    /// An uploaded file is over WhatsApp's limit for its kind (413; the message names it).
    WhatsappMediaTooLarge,
    /// WhatsApp does not take files of that type as that kind (415; the message lists those it does).
    WhatsappMediaType,
    /// The file's bytes are not of its declared type (400).
    WhatsappMediaContent,
    /// Never sent: what a client reads for a code that a newer hub added.
    #[serde(other)]
    Unknown,
}

impl ApiErrorCode {
    /// Every code a hub sends (not [`ApiErrorCode::Unknown`]).
    pub const ALL: &'static [ApiErrorCode] = &[
        ApiErrorCode::BadCredentials,
        ApiErrorCode::Throttled,
        ApiErrorCode::AgentDisabled,
        ApiErrorCode::SessionExpired,
        ApiErrorCode::NotFound,
        ApiErrorCode::InvalidRequest,
        ApiErrorCode::PayloadTooLarge,
        ApiErrorCode::Forbidden,
        ApiErrorCode::PbxOffline,
        ApiErrorCode::PbxRefused,
        ApiErrorCode::Internal,
        ApiErrorCode::WindowClosed,
        ApiErrorCode::WhatsappInvalidMessage,
        ApiErrorCode::WhatsappNotConfigured,
        ApiErrorCode::WhatsappUnavailable,
        ApiErrorCode::WhatsappMediaEmpty,
        ApiErrorCode::WhatsappMediaTooLarge,
        ApiErrorCode::WhatsappMediaType,
        ApiErrorCode::WhatsappMediaContent,
    ];

    /// The wire form (`bad_credentials`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiErrorCode::BadCredentials => "bad_credentials",
            ApiErrorCode::Throttled => "throttled",
            ApiErrorCode::AgentDisabled => "agent_disabled",
            ApiErrorCode::SessionExpired => "session_expired",
            ApiErrorCode::NotFound => "not_found",
            ApiErrorCode::InvalidRequest => "invalid_request",
            ApiErrorCode::PayloadTooLarge => "payload_too_large",
            ApiErrorCode::Forbidden => "forbidden",
            ApiErrorCode::PbxOffline => "pbx_offline",
            ApiErrorCode::PbxRefused => "pbx_refused",
            ApiErrorCode::Internal => "internal",
            ApiErrorCode::WindowClosed => "window_closed",
            ApiErrorCode::WhatsappInvalidMessage => "whatsapp_invalid_message",
            ApiErrorCode::WhatsappNotConfigured => "whatsapp_not_configured",
            ApiErrorCode::WhatsappUnavailable => "whatsapp_unavailable",
            ApiErrorCode::WhatsappMediaEmpty => "whatsapp_media_empty",
            ApiErrorCode::WhatsappMediaTooLarge => "whatsapp_media_too_large",
            ApiErrorCode::WhatsappMediaType => "whatsapp_media_type",
            ApiErrorCode::WhatsappMediaContent => "whatsapp_media_content",
            ApiErrorCode::Unknown => "unknown",
        }
    }
}

/// The body of every error reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub code: ApiErrorCode,
    /// For people; may change. Never parsed.
    #[serde(default)]
    pub message: String,
    /// Seconds to wait before retrying (throttled logins), also in the `Retry-After` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_tolerated() {
        for code in ApiErrorCode::ALL {
            let text = serde_json::to_string(code).unwrap();
            assert_eq!(text, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ApiErrorCode>(&text).unwrap(), *code);
        }
        let newer: ApiError =
            serde_json::from_str(r#"{"code":"quota_exceeded","message":"m"}"#).unwrap();
        assert_eq!(newer.code, ApiErrorCode::Unknown);
    }
}
