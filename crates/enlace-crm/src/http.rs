//! The one HTTP client of the crate (`reqwest::blocking` over rustls): fixed timeouts, no
//! automatic redirects, a body size cap, statuses returned as values. Callers classify replies
//! with the helpers here, then apply their provider's error format.
//!
//! Calls block: make them from a blocking thread (`spawn_blocking`, the outbox courier), never
//! from async code. Every [`Http`] shares one process-wide client, built on first use, so
//! [`Http::new`] is free anywhere.
//!
//! Nothing here logs or returns a URL query or a header value: Zoho's revoke puts the refresh
//! token in the query and every data call carries a bearer token.

use std::error::Error as _;
use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use enlace_core::Crm;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
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
    _private: (),
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http")
    }
}

/// The process-wide client, or why it could not be built.
fn client() -> Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::blocking::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // One crypto provider in the process: any other rustls user (the hub stream) gets
            // ring too. Already installed is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::blocking::Client::builder()
                .tls_backend_preconfigured(tls_config()?)
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .user_agent(concat!("enlace/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("the HTTP client could not start ({})", describe(&e)))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// rustls with ring and the webpki roots: the same TLS stack and root store as the hub client.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS could not start ({e})"))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

impl Http {
    pub fn new() -> Http {
        Http { _private: () }
    }

    pub fn get(&self, url: &str, auth: Option<&str>) -> Result<Reply, CrmError> {
        self.send(reqwest::Method::GET, url, auth, Body::Empty)
    }

    pub fn post(&self, url: &str, auth: Option<&str>, body: Body) -> Result<Reply, CrmError> {
        self.send(reqwest::Method::POST, url, auth, body)
    }

    fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        auth: Option<&str>,
        body: Body,
    ) -> Result<Reply, CrmError> {
        let host = host_label(url);
        let path = url::Url::parse(url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        tracing::debug!(method = %method, host = %host, path = %path, "CRM request");
        let unavailable = |detail: String| CrmError::Unavailable {
            host: host.clone(),
            detail,
        };
        let client = client().map_err(unavailable)?;
        // The time-out covers the whole exchange, body included.
        let mut req = client
            .request(method.clone(), url)
            .timeout(REQUEST_TIMEOUT)
            .header(ACCEPT, "application/json");
        if let Some(auth) = auth {
            let mut value = HeaderValue::from_str(auth).map_err(|_| {
                unavailable("the credentials cannot be sent in an HTTP header".into())
            })?;
            value.set_sensitive(true);
            req = req.header(AUTHORIZATION, value);
        }
        req = match body {
            Body::Empty if method == reqwest::Method::GET => req,
            Body::Empty => req.body(""),
            Body::Form(text) => req
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(text),
            Body::Json(text) => req.header(CONTENT_TYPE, "application/json").body(text),
        };
        let mut response = req.send().map_err(|e| unavailable(describe(&e)))?;
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
        let declared = response.content_length();
        let body = read_capped(&mut response, declared, MAX_BODY_BYTES).map_err(|e| match e {
            ReadError::TooLarge => CrmError::bad_reply(
                &host,
                format!("the reply is larger than {} MiB", MAX_BODY_BYTES >> 20),
            ),
            ReadError::TimedOut => unavailable("timed out while reading the reply".into()),
            ReadError::Cut(detail) => CrmError::BadReply {
                host: host.clone(),
                detail: format!("the reply was cut short ({detail})"),
                transient: true,
            },
        })?;
        tracing::debug!(method = %method, host = %host, path = %path, status, "CRM reply");
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

#[derive(Debug, PartialEq, Eq)]
enum ReadError {
    TooLarge,
    TimedOut,
    Cut(String),
}

/// Reads `body` up to `cap` bytes, chunk by chunk; one byte more is [`ReadError::TooLarge`], and
/// a `declared` length (Content-Length) over the cap is refused before anything is read.
fn read_capped(body: impl Read, declared: Option<u64>, cap: u64) -> Result<Vec<u8>, ReadError> {
    if declared.is_some_and(|n| n > cap) {
        return Err(ReadError::TooLarge);
    }
    let mut read = Vec::new();
    body.take(cap.saturating_add(1))
        .read_to_end(&mut read)
        .map_err(|e| {
            let timed_out = e.kind() == std::io::ErrorKind::TimedOut
                || e.get_ref()
                    .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                    .is_some_and(reqwest::Error::is_timeout);
            if timed_out {
                ReadError::TimedOut
            } else {
                ReadError::Cut(format!("network error ({:?})", e.kind()))
            }
        })?;
    if read.len() as u64 > cap {
        return Err(ReadError::TooLarge);
    }
    Ok(read)
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

/// What went wrong, without reqwest's Display (which quotes the URL and its query).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_builder() {
        return "invalid URL or header".into();
    }
    let mut causes = Vec::new();
    let mut source = e.source();
    while let Some(cause) = source {
        causes.extend(carried(cause));
        source = cause.source();
    }
    if let Some(tls) = causes
        .iter()
        .find_map(|c| c.downcast_ref::<rustls::Error>())
    {
        return format!("TLS error ({tls})");
    }
    // hyper-util names the step that failed, never the URL.
    if causes.iter().any(|c| c.to_string() == "dns error") {
        return "host not found".into();
    }
    let kinds = causes
        .iter()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    if let Some(kind) = kinds.rev().find(|k| *k != std::io::ErrorKind::Other) {
        return match kind {
            std::io::ErrorKind::ConnectionRefused => "connection refused or failed".into(),
            std::io::ErrorKind::TimedOut => "timed out".into(),
            kind => format!("network error ({kind:?})"),
        };
    }
    if e.is_connect() {
        "connection refused or failed".into()
    } else if e.is_request() || e.is_body() || e.is_decode() {
        "the connection closed or spoke something other than HTTP".into()
    } else {
        "HTTP client error".into()
    }
}

/// `cause` and the errors it carries: an I/O error's `source()` skips the error it wraps
/// (where hyper and tokio-rustls put the TLS failure), so look inside with `get_ref`.
fn carried<'a>(
    cause: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut found = vec![cause];
    let mut current = cause;
    while let Some(inner) = current
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
    {
        let inner: &(dyn std::error::Error + 'static) = inner;
        found.push(inner);
        current = inner;
    }
    found
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
    fn bodies_are_read_up_to_the_cap() {
        let cap = 8;
        assert_eq!(
            read_capped(&b"12345678"[..], None, cap),
            Ok(b"12345678".to_vec())
        );
        assert_eq!(
            read_capped(&b"123456789"[..], None, cap),
            Err(ReadError::TooLarge)
        );
        assert_eq!(
            read_capped(&b""[..], Some(cap + 1), cap),
            Err(ReadError::TooLarge)
        );
        // An endless body stops one byte past the cap.
        assert_eq!(
            read_capped(std::io::repeat(b'x'), None, cap),
            Err(ReadError::TooLarge)
        );
    }

    /// A loopback server that answers one request with `head`, then `chunks` chunks of 64 KiB
    /// (chunked encoding). It stops when the client hangs up.
    fn raw_server(head: &'static str, chunks: usize) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let Ok(read_half) = stream.try_clone() else {
                return;
            };
            let mut reader = BufReader::new(read_half);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut out = stream;
            if out.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
            for _ in 0..chunks {
                if out.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
            }
            let _ = out.write_all(b"0\r\n\r\n");
        });
        format!("http://{addr}/services/data")
    }

    #[test]
    fn a_reply_over_the_cap_is_cut_off_and_a_bad_reply() {
        // 5 MiB without a length: reading stops at the 4 MiB cap.
        let url = raw_server(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            80,
        );
        let err = Http::new()
            .get(&url, Some("Bearer t"))
            .err()
            .expect("too large");
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmBadReply);
        assert!(err.to_string().contains("larger than 4 MiB"), "{err}");

        // Under the cap the whole body arrives.
        let url = raw_server(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            2,
        );
        let reply = Http::new().get(&url, None).expect("reply");
        assert_eq!(reply.body.len(), 2 * 0x10000);
    }

    /// TLS is rustls with the webpki roots: a certificate no public authority issued is
    /// refused, and the error names neither the path nor the query.
    #[test]
    fn https_refuses_a_certificate_from_an_unknown_issuer() {
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
        let key =
            rustls::pki_types::PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der());
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key.into())
        .expect("server config");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let Ok((mut tcp, _)) = listener.accept() else {
                return;
            };
            if let Ok(mut tls) = rustls::ServerConnection::new(Arc::new(server)) {
                // Ends when the client refuses the certificate and hangs up.
                let _ = tls.complete_io(&mut tcp);
            }
        });
        let url = format!("https://localhost:{port}/services/oauth2/revoke?token=secret-token");
        let err = Http::new().get(&url, None).err().expect("refused");
        assert_eq!(err.code(), enlace_core::ErrorCode::CrmUnavailable);
        let text = err.to_string();
        assert!(text.contains("TLS error"), "{text}");
        assert!(
            !text.contains("secret-token") && !text.contains("revoke"),
            "{text}"
        );
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
