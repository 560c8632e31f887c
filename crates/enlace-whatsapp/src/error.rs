//! Errors: the Graph API error body (api-facts C5) as [`ApiError`], classified by `code` into
//! [`ErrorClass`] (what the caller does about it), and [`WhatsAppError`], everything a call of
//! this crate can fail with, each with a stable code.
//!
//! Branch on `code`, never on `message`. No error carries the access token, a URL query or a
//! header value.

use std::time::Duration;

use serde_json::Value;

/// What to do about a Graph error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// 131047: more than 24 h since the customer's last message; only a template can be sent.
    WindowClosed,
    /// 130429 (throughput), 131056 (pair rate), 4 and 80007 (app/WABA call rate): back off and
    /// retry.
    RateLimited,
    /// 190 (token expired or invalid) and 0 (authentication failure): the organization's token
    /// must be replaced; messages wait, none is lost.
    TokenExpired,
    /// 131026: the recipient cannot receive it (not on WhatsApp, old app, terms not accepted,
    /// blocked).
    Undeliverable,
    /// 132000–132999: the template does not exist, is paused or disabled, or its parameters do
    /// not fit.
    Template,
    /// 131000 (something went wrong), 1 (unknown) and 2 (service unavailable): Meta's side;
    /// retry with back-off.
    Unavailable,
    /// Anything else: shown with its title, not retried.
    Other,
}

impl ErrorClass {
    /// The class of a Graph or webhook error `code`.
    pub fn of(code: i64) -> ErrorClass {
        match code {
            131047 => ErrorClass::WindowClosed,
            130429 | 131056 | 4 | 80007 => ErrorClass::RateLimited,
            190 | 0 => ErrorClass::TokenExpired,
            131026 => ErrorClass::Undeliverable,
            132000..=132999 => ErrorClass::Template,
            131000 | 1 | 2 => ErrorClass::Unavailable,
            _ => ErrorClass::Other,
        }
    }

    /// Stable code: `whatsapp_window_closed`, `whatsapp_rate_limited`, `whatsapp_token_expired`,
    /// `whatsapp_undeliverable`, `whatsapp_template`, `whatsapp_unavailable` or
    /// `whatsapp_api_error`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorClass::WindowClosed => "whatsapp_window_closed",
            ErrorClass::RateLimited => "whatsapp_rate_limited",
            ErrorClass::TokenExpired => "whatsapp_token_expired",
            ErrorClass::Undeliverable => "whatsapp_undeliverable",
            ErrorClass::Template => "whatsapp_template",
            ErrorClass::Unavailable => "whatsapp_unavailable",
            ErrorClass::Other => "whatsapp_api_error",
        }
    }

    /// Whether sending the same request again later can succeed by itself: rate limits and
    /// Meta's own failures. (An expired token waits for an administrator instead.)
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::RateLimited | ErrorClass::Unavailable)
    }
}

/// Longest wait between retries of a retryable error.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// The wait before retry number `attempt` (0 for the first retry) of an error with `code`, with
/// `jitter` in `[0, 1)`; `None` when the error is not retryable. The pair rate limit (131056,
/// about one message per 6 s to the same user) starts at 6 s, the others at 1 s; each attempt
/// doubles up to [`MAX_RETRY_DELAY`], and the wait is between half and all of its step.
pub fn retry_delay(code: i64, attempt: u32, jitter: f64) -> Option<Duration> {
    if !ErrorClass::of(code).is_retryable() {
        return None;
    }
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let base = if code == 131056 {
        Duration::from_secs(6)
    } else {
        Duration::from_secs(1)
    };
    let step = base
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_RETRY_DELAY);
    Some(step / 2 + (step / 2).mul_f64(jitter))
}

/// A Graph API error reply (`{"error":{…}}`), or one entry of a webhook's `errors[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status of the reply; 0 for an error that came in a webhook.
    pub http_status: u16,
    /// The error code (`error.code`); branch on this.
    pub code: i64,
    /// `error.error_subcode` (190 with 463 = expired, 467 = invalid).
    pub subcode: Option<i64>,
    /// `error.message` (Graph) or `title` (webhook), e.g. `(#131047) Re-engagement message`.
    pub title: String,
    /// `error.error_data.details`: the long explanation.
    pub details: Option<String>,
    /// `error.type`, e.g. `OAuthException`.
    pub error_type: Option<String>,
    /// `error.error_user_title` / `error.error_user_msg`, when Meta wrote one for people.
    pub user_title: Option<String>,
    pub user_message: Option<String>,
    /// `error.fbtrace_id`, for Meta support.
    pub fbtrace_id: Option<String>,
}

impl ApiError {
    pub fn class(&self) -> ErrorClass {
        ErrorClass::of(self.code)
    }

    /// The Graph error in a reply body, or `None` when the body is not one.
    pub fn from_body(http_status: u16, body: &[u8]) -> Option<ApiError> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let error = value.get("error")?;
        let code = int(error.get("code")?)?;
        Some(ApiError {
            http_status,
            code,
            subcode: error.get("error_subcode").and_then(int),
            title: text(error, "message").unwrap_or_default(),
            details: error
                .get("error_data")
                .and_then(|d| text(d, "details"))
                .or_else(|| {
                    // error_data is sometimes a JSON string.
                    error
                        .get("error_data")
                        .and_then(Value::as_str)
                        .and_then(|s| serde_json::from_str::<Value>(s).ok())
                        .and_then(|d| text(&d, "details"))
                }),
            error_type: text(error, "type"),
            user_title: text(error, "error_user_title"),
            user_message: text(error, "error_user_msg"),
            fbtrace_id: text(error, "fbtrace_id"),
        })
    }

    /// One entry of a webhook `errors[]` (in a failed status, an unsupported message, or
    /// `value.errors`): `{code, title, message, error_data: {details}, href}`.
    pub fn from_webhook(value: &Value) -> Option<ApiError> {
        let code = int(value.get("code")?)?;
        Some(ApiError {
            http_status: 0,
            code,
            subcode: None,
            title: text(value, "title")
                .or_else(|| text(value, "message"))
                .unwrap_or_default(),
            details: value.get("error_data").and_then(|d| text(d, "details")),
            error_type: None,
            user_title: None,
            user_message: text(value, "message"),
            fbtrace_id: None,
        })
    }

    /// See [`retry_delay`].
    pub fn retry_delay(&self, attempt: u32, jitter: f64) -> Option<Duration> {
        retry_delay(self.code, attempt, jitter)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WhatsApp error {}: {}", self.code, self.title)?;
        if let Some(details) = &self.details {
            write!(f, " ({details})")?;
        }
        Ok(())
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A JSON integer, or a string of one.
pub(crate) fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Everything a call of this crate can fail with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WhatsAppError {
    /// Meta answered with a Graph error.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// Meta could not be reached or the exchange broke off (no URL or token in `detail`).
    #[error("WhatsApp unreachable: {detail}")]
    Unreachable { detail: String },
    /// The reply is not what the API sends: not JSON, cut short, too large, a redirect, an HTML
    /// page, or a downloaded file whose hash differs from the one announced.
    #[error("unexpected reply from WhatsApp: {detail}")]
    BadReply { detail: String },
    /// The request was refused before sending: see [`crate::send::SendError`].
    #[error(transparent)]
    Invalid(#[from] crate::send::SendError),
    /// The file cannot be sent as that media type: see [`crate::media::MediaError`].
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// The client configuration is unusable (an `http://` address that is not loopback, an
    /// empty token).
    #[error("WhatsApp client configuration: {detail}")]
    Config { detail: String },
}

impl WhatsAppError {
    /// Stable code: the [`ErrorClass::code`] of an API error, the [`SendError`] or
    /// [`MediaError`] code, or `whatsapp_unreachable`, `whatsapp_bad_reply`, `whatsapp_config`.
    ///
    /// [`SendError`]: crate::send::SendError
    /// [`MediaError`]: crate::media::MediaError
    pub fn code(&self) -> &'static str {
        match self {
            WhatsAppError::Api(e) => e.class().code(),
            WhatsAppError::Unreachable { .. } => "whatsapp_unreachable",
            WhatsAppError::BadReply { .. } => "whatsapp_bad_reply",
            WhatsAppError::Invalid(e) => e.code(),
            WhatsAppError::Media(e) => e.code(),
            WhatsAppError::Config { .. } => "whatsapp_config",
        }
    }

    /// The API error's class, when Meta answered with one.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            WhatsAppError::Api(e) => Some(e.class()),
            _ => None,
        }
    }

    /// Whether the same call may succeed later by itself: retryable API errors and transport
    /// failures (the request may not have reached Meta). Invalid requests and files never do.
    pub fn is_retryable(&self) -> bool {
        match self {
            WhatsAppError::Api(e) => e.class().is_retryable(),
            WhatsAppError::Unreachable { .. } => true,
            WhatsAppError::BadReply { .. } => false,
            WhatsAppError::Invalid(_) | WhatsAppError::Media(_) | WhatsAppError::Config { .. } => {
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        let table = [
            (131047, ErrorClass::WindowClosed, "whatsapp_window_closed"),
            (130429, ErrorClass::RateLimited, "whatsapp_rate_limited"),
            (131056, ErrorClass::RateLimited, "whatsapp_rate_limited"),
            (4, ErrorClass::RateLimited, "whatsapp_rate_limited"),
            (80007, ErrorClass::RateLimited, "whatsapp_rate_limited"),
            (190, ErrorClass::TokenExpired, "whatsapp_token_expired"),
            (0, ErrorClass::TokenExpired, "whatsapp_token_expired"),
            (131026, ErrorClass::Undeliverable, "whatsapp_undeliverable"),
            (132000, ErrorClass::Template, "whatsapp_template"),
            (132001, ErrorClass::Template, "whatsapp_template"),
            (132005, ErrorClass::Template, "whatsapp_template"),
            (132012, ErrorClass::Template, "whatsapp_template"),
            (132016, ErrorClass::Template, "whatsapp_template"),
            (131000, ErrorClass::Unavailable, "whatsapp_unavailable"),
            (2, ErrorClass::Unavailable, "whatsapp_unavailable"),
            (100, ErrorClass::Other, "whatsapp_api_error"),
            (131051, ErrorClass::Other, "whatsapp_api_error"),
            (133010, ErrorClass::Other, "whatsapp_api_error"),
            (131048, ErrorClass::Other, "whatsapp_api_error"),
            (368, ErrorClass::Other, "whatsapp_api_error"),
        ];
        for (code, class, stable) in table {
            assert_eq!(ErrorClass::of(code), class, "{code}");
            assert_eq!(class.code(), stable, "{code}");
        }
        assert!(ErrorClass::RateLimited.is_retryable());
        assert!(ErrorClass::Unavailable.is_retryable());
        assert!(!ErrorClass::TokenExpired.is_retryable());
        assert!(!ErrorClass::WindowClosed.is_retryable());
    }

    #[test]
    fn graph_error_bodies_are_read_field_by_field() {
        let body = br#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,
          "error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},
          "error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#;
        let e = ApiError::from_body(400, body).expect("graph error");
        assert_eq!(e.code, 130429);
        assert_eq!(e.subcode, Some(2494055));
        assert_eq!(e.title, "(#130429) Rate limit hit");
        assert_eq!(
            e.details.as_deref(),
            Some("Cloud API message throughput has been reached.")
        );
        assert_eq!(e.error_type.as_deref(), Some("OAuthException"));
        assert_eq!(e.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
        assert_eq!(e.class(), ErrorClass::RateLimited);
        let err = WhatsAppError::Api(Box::new(e));
        assert_eq!(err.code(), "whatsapp_rate_limited");
        assert!(err.is_retryable());

        let expired = ApiError::from_body(
            401,
            br#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"x"}}"#,
        )
        .expect("graph error");
        assert_eq!(expired.class(), ErrorClass::TokenExpired);
        assert_eq!(expired.subcode, Some(463));
        assert_eq!(expired.details, None);

        for not_graph in [
            &b""[..],
            b"<html>",
            br#"{"error":"x"}"#,
            br#"{"error":{"message":"no code"}}"#,
            br#"{"data":[]}"#,
        ] {
            assert_eq!(ApiError::from_body(500, not_graph), None);
        }
    }

    #[test]
    fn webhook_errors_are_read() {
        let v: Value = serde_json::from_str(
            r#"{"code":131047,"title":"Re-engagement message","message":"Re-engagement message",
                "error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                "href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}"#,
        )
        .expect("json");
        let e = ApiError::from_webhook(&v).expect("error");
        assert_eq!(e.code, 131047);
        assert_eq!(e.title, "Re-engagement message");
        assert!(e.details.as_deref().is_some_and(|d| d.contains("24 hours")));
        assert_eq!(e.class(), ErrorClass::WindowClosed);
        assert!(e.to_string().contains("131047"));
    }

    #[test]
    fn retry_delays_grow_and_stop() {
        assert_eq!(retry_delay(131047, 0, 0.5), None);
        assert_eq!(retry_delay(190, 0, 0.5), None);
        assert_eq!(
            retry_delay(130429, 0, 0.0),
            Some(Duration::from_millis(500))
        );
        assert_eq!(retry_delay(130429, 0, 1.0), Some(Duration::from_secs(1)));
        assert_eq!(retry_delay(130429, 3, 1.0), Some(Duration::from_secs(8)));
        assert_eq!(retry_delay(131056, 0, 1.0), Some(Duration::from_secs(6)));
        assert_eq!(retry_delay(4, 40, 1.0), Some(MAX_RETRY_DELAY));
        assert_eq!(retry_delay(4, 40, f64::NAN), Some(MAX_RETRY_DELAY / 2));
    }
}
