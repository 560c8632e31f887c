//! Errors of the hub client, each with a stable [`HubError::code`]. The hub's own JSON errors
//! (`{code, message, retryAfter?}`) map onto the variants by their `code`.

use std::time::Duration;

use enlace_hub_api::whatsapp::MessageTemplate;
use enlace_hub_api::ApiErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// Wrong user or password.
    #[error("wrong user or password")]
    BadCredentials,
    /// Too many failed logins; wait `retry_after` (when the hub said how long).
    #[error("too many failed logins; try again in {} s", retry_after.map(|d| d.as_secs()).unwrap_or(60))]
    Throttled { retry_after: Option<Duration> },
    /// The agent was disabled by an administrator.
    #[error("this agent is disabled")]
    AgentDisabled,
    /// The session ended (logout, Salida, expiry, disabled agent): log in again.
    #[error("the session has expired; log in again")]
    SessionExpired,
    /// Only supervisors may do this.
    #[error("only supervisors may do this")]
    Forbidden,
    /// The hub cannot reach the phone system.
    #[error("the phone system is not reachable: {0}")]
    PbxOffline(String),
    /// The phone system refused the action.
    #[error("the phone system refused: {0}")]
    PbxRefused(String),
    /// The hub refused the request as malformed (bad number, unknown reason, …).
    #[error("the hub refused the request: {0}")]
    InvalidRequest(String),
    /// The thing asked for does not exist on the hub.
    #[error("not found on the hub: {0}")]
    NotFound(String),
    /// More than 24 hours since the customer's last message: only a template can go out;
    /// `templates` are the approved ones the hub offers.
    #[error("the 24-hour window is closed: send a template ({message})")]
    WindowClosed {
        message: String,
        templates: Vec<MessageTemplate>,
    },
    /// WhatsApp would refuse the message or file as given (the message says why).
    #[error("WhatsApp cannot send this: {0}")]
    WhatsappInvalidMessage(String),
    /// The hub refused a file to send for WhatsApp's limits (api-facts C4): empty, too large, a
    /// type WhatsApp does not take, or bytes that are not what the type says.
    #[error("WhatsApp does not accept this file: {1}")]
    MediaRefused(MediaRefusal, String),
    /// WhatsApp is not configured on the hub.
    #[error("WhatsApp is not configured on the hub")]
    WhatsappNotConfigured,
    /// Meta refused or could not be reached (templates, media).
    #[error("WhatsApp is not available: {0}")]
    WhatsappUnavailable(String),
    /// A file is larger than the caller allows (`limit` bytes): not downloaded.
    #[error("the file is larger than {limit} bytes")]
    MediaTooLarge { limit: u64 },
    /// The hub could not be reached (DNS, connection refused, timeout, TLS).
    #[error("the hub is not reachable: {0}")]
    Unreachable(String),
    /// The hub answered something that is not its API (HTML page, redirect, bad JSON, too big).
    #[error("the hub answered something unexpected: {0}")]
    BadReply(String),
    /// The hub failed internally (HTTP 5xx with its own error code).
    #[error("the hub failed: {0}")]
    Server(String),
    /// The hub address is not an `http(s)://host[:port]` origin.
    #[error("invalid hub address: {0}")]
    InvalidUrl(String),
    /// The hub address is `http://` on another computer: the password and the session token
    /// would cross the network in the clear.
    #[error(
        "the hub address must start with https:// ({0} is not this computer; http:// is only \
         allowed for localhost, 127.0.0.1 or ::1)"
    )]
    InsecureUrl(String),
}

/// Why the hub refused a file (the `whatsapp_media_*` codes of `enlace_whatsapp::media`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaRefusal {
    Empty,
    TooLarge,
    Type,
    Content,
}

impl MediaRefusal {
    /// `whatsapp_media_empty`, `whatsapp_media_too_large`, `whatsapp_media_type` or
    /// `whatsapp_media_content`.
    pub fn code(self) -> &'static str {
        match self {
            MediaRefusal::Empty => "whatsapp_media_empty",
            MediaRefusal::TooLarge => "whatsapp_media_too_large",
            MediaRefusal::Type => "whatsapp_media_type",
            MediaRefusal::Content => "whatsapp_media_content",
        }
    }
}

impl HubError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            HubError::BadCredentials => "bad_credentials",
            HubError::Throttled { .. } => "throttled",
            HubError::AgentDisabled => "agent_disabled",
            HubError::SessionExpired => "session_expired",
            HubError::Forbidden => "forbidden",
            HubError::PbxOffline(_) => "pbx_offline",
            HubError::PbxRefused(_) => "pbx_refused",
            HubError::InvalidRequest(_) => "invalid_request",
            HubError::NotFound(_) => "not_found",
            HubError::WindowClosed { .. } => "window_closed",
            HubError::WhatsappInvalidMessage(_) => "whatsapp_invalid_message",
            HubError::MediaRefused(r, _) => r.code(),
            HubError::WhatsappNotConfigured => "whatsapp_not_configured",
            HubError::WhatsappUnavailable(_) => "whatsapp_unavailable",
            HubError::MediaTooLarge { .. } => "media_too_large",
            HubError::Unreachable(_) => "hub_unreachable",
            HubError::BadReply(_) => "hub_bad_reply",
            HubError::Server(_) => "hub_error",
            HubError::InvalidUrl(_) => "invalid_setting",
            HubError::InsecureUrl(_) => "insecure_hub_address",
        }
    }

    /// How long to wait before retrying, when known (throttled logins).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HubError::Throttled { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The templates a `window_closed` refusal offered (empty for other errors).
    pub fn templates(&self) -> &[MessageTemplate] {
        match self {
            HubError::WindowClosed { templates, .. } => templates,
            _ => &[],
        }
    }

    /// Builds the error from the hub's JSON error body (`{code, message, retryAfter?}`);
    /// `window_closed` carries no templates here (the caller reads them from the body).
    pub(crate) fn from_api(
        status: u16,
        code: ApiErrorCode,
        message: String,
        retry_after: Option<Duration>,
    ) -> HubError {
        match code {
            ApiErrorCode::BadCredentials => HubError::BadCredentials,
            ApiErrorCode::Throttled => HubError::Throttled { retry_after },
            ApiErrorCode::AgentDisabled => HubError::AgentDisabled,
            ApiErrorCode::SessionExpired => HubError::SessionExpired,
            ApiErrorCode::Forbidden => HubError::Forbidden,
            ApiErrorCode::PbxOffline => HubError::PbxOffline(message),
            ApiErrorCode::PbxRefused => HubError::PbxRefused(message),
            ApiErrorCode::InvalidRequest => HubError::InvalidRequest(message),
            ApiErrorCode::PayloadTooLarge => {
                HubError::InvalidRequest(format!("{}{message}", crate::TOO_LARGE_PREFIX))
            }
            ApiErrorCode::NotFound => HubError::NotFound(message),
            ApiErrorCode::WindowClosed => HubError::WindowClosed {
                message,
                templates: Vec::new(),
            },
            ApiErrorCode::WhatsappInvalidMessage => HubError::WhatsappInvalidMessage(message),
            ApiErrorCode::WhatsappNotConfigured => HubError::WhatsappNotConfigured,
            ApiErrorCode::WhatsappUnavailable => HubError::WhatsappUnavailable(message),
            ApiErrorCode::WhatsappMediaEmpty => {
                HubError::MediaRefused(MediaRefusal::Empty, message)
            }
            ApiErrorCode::WhatsappMediaTooLarge => {
                HubError::MediaRefused(MediaRefusal::TooLarge, message)
            }
            ApiErrorCode::WhatsappMediaType => HubError::MediaRefused(MediaRefusal::Type, message),
            ApiErrorCode::WhatsappMediaContent => {
                HubError::MediaRefused(MediaRefusal::Content, message)
            }
            // `internal`, a code this version does not know, and codes of features this
            // client has no variant for yet (add one here when the desktop acts on it).
            other if status >= 500 => {
                HubError::Server(format!("HTTP {status} ({}): {message}", other.as_str()))
            }
            other => HubError::BadReply(format!(
                "HTTP {status} with code `{}`: {message}",
                other.as_str()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_codes_map_to_variants_with_stable_codes() {
        let cases = [
            ("bad_credentials", 401, "bad_credentials"),
            ("throttled", 429, "throttled"),
            ("agent_disabled", 403, "agent_disabled"),
            ("session_expired", 401, "session_expired"),
            ("forbidden", 403, "forbidden"),
            ("pbx_offline", 503, "pbx_offline"),
            ("pbx_refused", 502, "pbx_refused"),
            ("invalid_request", 400, "invalid_request"),
            ("payload_too_large", 413, "invalid_request"),
            ("not_found", 404, "not_found"),
            ("internal", 500, "hub_error"),
            ("window_closed", 409, "window_closed"),
            ("whatsapp_invalid_message", 400, "whatsapp_invalid_message"),
            ("whatsapp_not_configured", 503, "whatsapp_not_configured"),
            ("whatsapp_unavailable", 502, "whatsapp_unavailable"),
            ("whatsapp_media_empty", 400, "whatsapp_media_empty"),
            ("whatsapp_media_too_large", 413, "whatsapp_media_too_large"),
            ("whatsapp_media_type", 415, "whatsapp_media_type"),
            ("whatsapp_media_content", 400, "whatsapp_media_content"),
            ("something_new", 418, "hub_bad_reply"),
        ];
        for (api, status, ours) in cases {
            // The body as the hub sends it, read into the shared enum (no string matching).
            let body = format!(r#"{{"code":"{api}","message":"m"}}"#);
            let reply: enlace_hub_api::ApiError = serde_json::from_str(&body).unwrap();
            let e = HubError::from_api(status, reply.code, reply.message, None);
            assert_eq!(e.code(), ours, "{api}");
        }
        // Every code a hub sends maps to a variant other than "unknown code".
        for code in ApiErrorCode::ALL {
            let e = HubError::from_api(500, *code, "m".into(), None);
            assert!(!matches!(e, HubError::BadReply(_)), "{code:?}");
        }
        let t = HubError::from_api(
            429,
            ApiErrorCode::Throttled,
            "m".into(),
            Some(Duration::from_secs(8)),
        );
        assert_eq!(t.retry_after(), Some(Duration::from_secs(8)));
        assert!(t.to_string().contains("8 s"));
    }
}
