//! The one HTTP client of the crate (ureq 3, blocking): fixed timeouts, no automatic
//! redirects, a body size cap, statuses returned as values. Callers classify replies with the
//! helpers here, then apply their provider's error format.
//!
//! Nothing here logs or returns a URL query or a header value: Zoho's revoke puts the refresh
//! token in the query and every data call carries a bearer token.

use std::time::Duration;

use enlace_core::Crm;
use serde::de::DeserializeOwned;

use crate::error::{CrmError, DEFAULT_RETRY_AFTER};

/// Largest reply body read; anything bigger is a bad reply.
pub(crate) const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) enum Body {
    Empty,
    Form(String),
    Json(String),
}

/// One reply, fully read.
pub(crate) struct Reply {
    pub status: u16,
    /// `host[:port]` of the request, for error messages.
    pub host: String,
    pub content_type: String,
    pub location: Option<String>,
    pub retry_after: Option<Duration>,
    pub limit_info: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub(crate) struct Http {
    agent: ureq::Agent,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http")
    }
}

impl Http {
    pub fn new() -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("enlace/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Http { agent }
    }

    pub fn get(&self, url: &str, auth: Option<&str>) -> Result<Reply, CrmError> {
        self.send("GET", url, auth, Body::Empty)
    }

    pub fn post(&self, url: &str, auth: Option<&str>, body: Body) -> Result<Reply, CrmError> {
        self.send("POST", url, auth, body)
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        auth: Option<&str>,
        body: Body,
    ) -> Result<Reply, CrmError> {
        let host = host_label(url);
        let path = url::Url::parse(url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        tracing::debug!(method, host = %host, path = %path, "CRM request");
        let result = if method == "GET" {
            let mut req = self.agent.get(url).header("Accept", "application/json");
            if let Some(auth) = auth {
                req = req.header("Authorization", auth);
            }
            req.call()
        } else {
            let mut req = self.agent.post(url).header("Accept", "application/json");
            if let Some(auth) = auth {
                req = req.header("Authorization", auth);
            }
            match body {
                Body::Empty => req.send_empty(),
                Body::Form(text) => req
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .send(text.as_bytes()),
                Body::Json(text) => req
                    .header("Content-Type", "application/json")
                    .send(text.as_bytes()),
            }
        };
        let mut response = result.map_err(|e| CrmError::Unavailable {
            host: host.clone(),
            detail: describe(&e),
        })?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
        let limit_info = header("sforce-limit-info");
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => CrmError::bad_reply(
                    &host,
                    format!("the reply is larger than {} MiB", MAX_BODY_BYTES >> 20),
                ),
                ureq::Error::Timeout(_) => CrmError::Unavailable {
                    host: host.clone(),
                    detail: "timed out while reading the reply".into(),
                },
                other => CrmError::BadReply {
                    host: host.clone(),
                    detail: format!("the reply was cut short ({})", describe(&other)),
                    transient: true,
                },
            })?;
        tracing::debug!(method, host = %host, path = %path, status, "CRM reply");
        Ok(Reply {
            status,
            host,
            content_type,
            location,
            retry_after,
            limit_info,
            body,
        })
    }
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// An HTML page (a proxy, a login page, a maintenance page) instead of the API's JSON.
    pub fn is_html(&self) -> bool {
        let ct = self.content_type.to_ascii_lowercase();
        if ct.contains("text/html") || ct.contains("application/xhtml") {
            return true;
        }
        let start = self
            .body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| &self.body[i..])
            .unwrap_or(&[]);
        start.starts_with(b"<")
    }

    /// The checks every API reply gets before provider-specific ones: redirects, HTML pages,
    /// server errors.
    pub fn check_common(&self) -> Result<(), CrmError> {
        if (300..400).contains(&self.status) {
            let target = self
                .location
                .as_deref()
                .map(host_label)
                .unwrap_or_else(|| "nowhere".into());
            return Err(CrmError::bad_reply(
                &self.host,
                format!(
                    "HTTP {} redirect to {target}; Enlace does not follow redirects (check the \
                     configured host)",
                    self.status
                ),
            ));
        }
        if self.is_html() {
            return Err(CrmError::BadReply {
                host: self.host.clone(),
                detail: format!(
                    "an HTML page (HTTP {}) instead of the API's JSON",
                    self.status
                ),
                transient: self.status >= 500 || self.status == 429,
            });
        }
        if self.status >= 500 {
            return Err(CrmError::Unavailable {
                host: self.host.clone(),
                detail: format!("HTTP {}", self.status),
            });
        }
        Ok(())
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CrmError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let truncated = e.is_eof();
            CrmError::BadReply {
                host: self.host.clone(),
                detail: if truncated {
                    format!("truncated JSON (HTTP {})", self.status)
                } else {
                    format!("unexpected JSON (HTTP {}): {}", self.status, safe_serde(&e))
                },
                transient: truncated,
            }
        })
    }

    /// Retry-After or the default back-off.
    pub fn retry_after_or_default(&self) -> Duration {
        self.retry_after.unwrap_or(DEFAULT_RETRY_AFTER)
    }

    /// The rate-limit error of `crm` for this reply (its `Retry-After`, or the default wait).
    pub fn rate_limited(&self, crm: Crm) -> CrmError {
        CrmError::RateLimited {
            crm,
            retry_after: self.retry_after_or_default(),
        }
    }

    /// `Err` with [`Reply::rate_limited`] when the reply is a 429.
    pub fn check_rate_limit(&self, crm: Crm) -> Result<(), CrmError> {
        if self.status == 429 {
            return Err(self.rate_limited(crm));
        }
        Ok(())
    }
}

/// serde_json's message names the expected type and position, never a token — but it can
/// quote a field name or a value fragment; keep only the category and the position.
fn safe_serde(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "wrong shape",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// `host[:port]` of a URL, or `"?"`.
pub(crate) fn host_label(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => "?".into(),
        },
        Err(_) => "?".into(),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs; it falls back to the default).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs.clamp(1, 24 * 3600)))
}

/// What went wrong, without ureq's Display (which may quote the URL and its query).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection refused or failed".into(),
        ureq::Error::Io(io) => format!("network error ({:?})", io.kind()),
        ureq::Error::Tls(what) => format!("TLS error ({what})"),
        ureq::Error::BadUri(_) => "invalid URL".into(),
        ureq::Error::Protocol(_) => {
            "the connection closed or spoke something other than HTTP".into()
        }
        _ => "HTTP client error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, ct: &str, body: &str) -> Reply {
        Reply {
            status,
            host: "api.example".into(),
            content_type: ct.into(),
            location: Some("https://evil.example:8443/x?token=abc".into()),
            retry_after: None,
            limit_info: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn redirects_html_and_server_errors_are_classified() {
        let err = reply(302, "", "").check_common().expect_err("redirect");
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmBadReply);
        assert!(err.to_string().contains("evil.example:8443"));
        assert!(!err.to_string().contains("token=abc"));

        let html = reply(502, "text/html; charset=utf-8", "<html>Bad gateway</html>");
        let err = html.check_common().expect_err("html");
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmBadReply);
        assert!(err.is_transient());
        let sniffed = reply(200, "application/json", "  <!DOCTYPE html>");
        assert!(sniffed.check_common().is_err());

        let down = reply(503, "application/json", "[]")
            .check_common()
            .expect_err("503");
        assert_eq!(down.code(), enlace_core::ErrorCode::CrmUnavailable);
        assert!(reply(200, "application/json", "{}").check_common().is_ok());
    }

    #[test]
    fn truncated_json_is_a_bad_reply() {
        let err = reply(200, "application/json", "{\"searchRecords\":[{\"Id\"")
            .json::<serde_json::Value>()
            .expect_err("truncated");
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmBadReply);
        assert!(err.to_string().contains("truncated"));
    }

    #[test]
    fn retry_after_is_seconds_with_a_default() {
        assert_eq!(parse_retry_after(" 12 "), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(
            reply(429, "", "").retry_after_or_default(),
            DEFAULT_RETRY_AFTER
        );
    }
}
