//! [`GraphClient`]: the async Graph API client (reqwest over rustls with ring and the webpki
//! roots): sends, mark-as-read, media upload and download, templates.
//!
//! Every call has a time-out, follows no redirect and reads at most a capped body. Only the
//! method and the path are logged (at debug); never the token, a query or a media URL.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, WhatsAppError};
use crate::media::check_upload;
use crate::send::{mark_read_json, parse_send_reply, MediaKind, OutboundMessage, SendReceipt};
use crate::templates::{parse_template_page, MessageTemplate};

/// The Graph API version this crate speaks by default.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com/v21.0";
/// Largest JSON reply read.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;
/// Largest media download by default: the largest document WhatsApp carries.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 100 * 1_000_000;
/// At most this many template pages are read (100 templates each).
pub const MAX_TEMPLATE_PAGES: usize = 50;

/// A Graph API access token (System User or temporary). `Debug` shows nothing of it, and it has
/// no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(token: impl Into<String>) -> AccessToken {
        AccessToken(token.into())
    }

    /// The token itself, to store it: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// How to reach the Graph API.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// `https://graph.facebook.com/v21.0` ([`DEFAULT_BASE_URL`]); `http://` only on loopback
    /// (a local double).
    pub base_url: String,
    pub access_token: AccessToken,
    /// Sent on every request: media downloads without one get an error page instead of the
    /// file.
    pub user_agent: String,
    /// Time-out of each API call, body included.
    pub request_timeout: Duration,
    /// Time-out of a media upload or download, body included.
    pub transfer_timeout: Duration,
    /// Largest media download.
    pub max_download_bytes: u64,
}

impl GraphConfig {
    /// The defaults: Meta's Graph API v21.0, 20 s per call, 120 s per transfer, downloads up to
    /// 100 MB.
    pub fn new(access_token: AccessToken) -> GraphConfig {
        GraphConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            access_token,
            user_agent: concat!("enlace/", env!("CARGO_PKG_VERSION")).to_owned(),
            request_timeout: Duration::from_secs(20),
            transfer_timeout: Duration::from_secs(120),
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
        }
    }

    pub fn with_base_url(mut self, base_url: impl Into<String>) -> GraphConfig {
        self.base_url = base_url.into();
        self
    }
}

/// What `GET /{media-id}` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    pub id: String,
    /// Where to download it (with the Bearer token) in the next ~5 minutes. Never log it.
    pub url: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub file_size: Option<u64>,
}

/// A downloaded media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedMedia {
    pub bytes: Vec<u8>,
    pub mime_type: Option<String>,
    /// The SHA-256 of `bytes`, lowercase hex.
    pub sha256_hex: String,
}

/// The Graph API client of one token. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: url::Url,
    token: AccessToken,
    request_timeout: Duration,
    transfer_timeout: Duration,
    max_download_bytes: u64,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// `localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// HTTPS anywhere, or HTTP on this computer.
fn is_safe_for_token(url: &url::Url) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url))
}

/// rustls with ring and the webpki roots: the TLS stack of the rest of the workspace.
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

/// Path ids (phone-number id, media id, WABA id): letters, digits, `_`, `-`, `.`; not `.` or
/// `..`; at most 128 bytes.
fn check_path_id(id: &str, what: &'static str) -> Result<(), WhatsAppError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(WhatsAppError::Invalid(crate::send::SendError::BadField {
            what,
        }))
    }
}

enum Body {
    None,
    Json(Value),
    Multipart(reqwest::multipart::Form),
}

impl GraphClient {
    /// A client for `config`. Nothing is contacted yet.
    pub fn new(config: GraphConfig) -> Result<GraphClient, WhatsAppError> {
        let config_err = |detail: &str| WhatsAppError::Config {
            detail: detail.to_owned(),
        };
        let base = url::Url::parse(config.base_url.trim())
            .map_err(|_| config_err("the Graph API address is not a URL"))?;
        if !is_safe_for_token(&base) {
            return Err(config_err(
                "the Graph API address must be https:// (http:// only on this computer)",
            ));
        }
        if base.query().is_some()
            || base.fragment().is_some()
            || !base.username().is_empty()
            || base.password().is_some()
            || base.cannot_be_a_base()
        {
            return Err(config_err(
                "the Graph API address must be a plain https://host/version address",
            ));
        }
        let token = config.access_token.expose();
        if token.trim().is_empty() || HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(config_err("the access token is empty or not plain text"));
        }
        // One crypto provider in the process; already installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config().map_err(|e| config_err(&e))?)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| WhatsAppError::Config {
                detail: format!("the HTTP client could not start ({})", describe(&e)),
            })?;
        Ok(GraphClient {
            http,
            base,
            token: config.access_token,
            request_timeout: config.request_timeout,
            transfer_timeout: config.transfer_timeout,
            max_download_bytes: config.max_download_bytes,
        })
    }

    /// The base URL with `segments` appended (each percent-encoded).
    fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        url
    }

    /// Sends `message` from the business number `phone_number_id`. A success means Meta
    /// accepted it; delivery (or a failure such as 131047) arrives later as a status.
    pub async fn send_message(
        &self,
        phone_number_id: &str,
        message: &OutboundMessage,
    ) -> Result<SendReceipt, WhatsAppError> {
        check_path_id(phone_number_id, "phone number id")?;
        let url = self.url(&[phone_number_id, "messages"]);
        let body = self
            .call(reqwest::Method::POST, url, Body::Json(message.to_json()))
            .await?;
        parse_send_reply(&body).ok_or_else(|| WhatsAppError::BadReply {
            detail: "the send reply has no message id".into(),
        })
    }

    /// Marks `message_id` (and earlier messages of its thread) read, with a typing indicator
    /// when `typing` (it disappears when we reply, or after 25 s).
    pub async fn mark_read(
        &self,
        phone_number_id: &str,
        message_id: &str,
        typing: bool,
    ) -> Result<(), WhatsAppError> {
        check_path_id(phone_number_id, "phone number id")?;
        let url = self.url(&[phone_number_id, "messages"]);
        let json = mark_read_json(message_id, typing)?;
        let body = self
            .call(reqwest::Method::POST, url, Body::Json(json))
            .await?;
        let ok = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("success").and_then(Value::as_bool));
        match ok {
            Some(true) => Ok(()),
            _ => Err(WhatsAppError::BadReply {
                detail: "mark as read was not confirmed".into(),
            }),
        }
    }

    /// Uploads a file after [`check_upload`] (type, size, content) and returns its media id
    /// (valid 30 days).
    pub async fn upload_media(
        &self,
        phone_number_id: &str,
        kind: MediaKind,
        mime: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<String, WhatsAppError> {
        check_path_id(phone_number_id, "phone number id")?;
        let checked = check_upload(kind, mime, &bytes)?;
        let file_name: String = file_name
            .chars()
            .filter(|c| !c.is_control() && *c != '"' && *c != '/' && *c != '\\')
            .take(200)
            .collect();
        let file_name = if file_name.trim().is_empty() {
            "file".to_owned()
        } else {
            file_name
        };
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name)
            .mime_str(&checked.mime)
            .map_err(|_| {
                WhatsAppError::Invalid(crate::send::SendError::BadField { what: "media type" })
            })?;
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("type", checked.mime.clone())
            .text("messaging_product", "whatsapp");
        let url = self.url(&[phone_number_id, "media"]);
        let body = self
            .call(reqwest::Method::POST, url, Body::Multipart(form))
            .await?;
        serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| WhatsAppError::BadReply {
                detail: "the upload reply has no media id".into(),
            })
    }

    /// `GET /{media-id}`: where to download it now (the URL expires after about 5 minutes).
    pub async fn media_url(&self, media_id: &str) -> Result<MediaInfo, WhatsAppError> {
        check_path_id(media_id, "media id")?;
        let body = self
            .call(reqwest::Method::GET, self.url(&[media_id]), Body::None)
            .await?;
        let v: Value = serde_json::from_slice(&body).map_err(|_| WhatsAppError::BadReply {
            detail: "the media reply is not JSON".into(),
        })?;
        let s = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let url = s("url").ok_or_else(|| WhatsAppError::BadReply {
            detail: "the media reply has no url".into(),
        })?;
        Ok(MediaInfo {
            id: s("id").unwrap_or_else(|| media_id.to_owned()),
            url,
            mime_type: s("mime_type"),
            sha256: s("sha256"),
            file_size: v
                .get("file_size")
                .and_then(crate::error::int)
                .and_then(|n| u64::try_from(n).ok()),
        })
    }

    /// Downloads media `media_id` (ours or a customer's, within 7 days): fetches its URL, then
    /// the file with the Bearer token and the User-Agent, streamed up to the configured cap. An
    /// expired URL (401, 403, 404, 410) is fetched anew once. `expected_sha256` (the webhook's,
    /// base64 or hex) and the hash `GET /{media-id}` announces must match the bytes.
    pub async fn download_media(
        &self,
        media_id: &str,
        expected_sha256: Option<&str>,
    ) -> Result<DownloadedMedia, WhatsAppError> {
        let mut attempt = 0;
        loop {
            let info = self.media_url(media_id).await?;
            match self.fetch_file(&info).await? {
                Fetched::Expired if attempt == 0 => {
                    tracing::debug!(media_id, "media URL expired; fetching a new one");
                    attempt += 1;
                }
                Fetched::Expired => {
                    return Err(WhatsAppError::BadReply {
                        detail: "the media URL was refused twice".into(),
                    })
                }
                Fetched::File(file) => {
                    for announced in [expected_sha256, info.sha256.as_deref()]
                        .into_iter()
                        .flatten()
                    {
                        if sha256_matches(announced, &file.sha256_hex) == Some(false) {
                            return Err(WhatsAppError::BadReply {
                                detail:
                                    "the downloaded file differs from the one announced (SHA-256)"
                                        .into(),
                            });
                        }
                    }
                    return Ok(file);
                }
            }
        }
    }

    async fn fetch_file(&self, info: &MediaInfo) -> Result<Fetched, WhatsAppError> {
        let url = url::Url::parse(&info.url).map_err(|_| WhatsAppError::BadReply {
            detail: "the media URL is not a URL".into(),
        })?;
        if !is_safe_for_token(&url) {
            return Err(WhatsAppError::BadReply {
                detail: "the media URL is not https://".into(),
            });
        }
        tracing::debug!(
            host = url.host_str().unwrap_or(""),
            "WhatsApp media download"
        );
        let mut response = self
            .http
            .get(url)
            .header(AUTHORIZATION, self.bearer()?)
            .timeout(self.transfer_timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        if matches!(status, 401 | 403 | 404 | 410) {
            return Ok(Fetched::Expired);
        }
        if !(200..300).contains(&status) {
            let body = read_capped(&mut response, MAX_REPLY_BYTES as u64).await?;
            return Err(error_reply(status, &body));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if content_type
            .as_deref()
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"))
            && !info
                .mime_type
                .as_deref()
                .is_some_and(|m| m.starts_with("text/html"))
        {
            return Err(WhatsAppError::BadReply {
                detail: "an HTML page came instead of the file".into(),
            });
        }
        let cap = self.max_download_bytes;
        if response.content_length().is_some_and(|n| n > cap) {
            return Err(too_large(cap));
        }
        let mut bytes = Vec::new();
        let mut hasher = Sha256::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if (bytes.len() + chunk.len()) as u64 > cap {
                return Err(too_large(cap));
            }
            hasher.update(&chunk);
            bytes.extend_from_slice(&chunk);
        }
        let sha256_hex = hex(&hasher.finalize());
        Ok(Fetched::File(DownloadedMedia {
            bytes,
            mime_type: info.mime_type.clone().or(content_type),
            sha256_hex,
        }))
    }

    /// Every template of the WABA `waba_id`, all pages (at most [`MAX_TEMPLATE_PAGES`]).
    pub async fn list_templates(
        &self,
        waba_id: &str,
    ) -> Result<Vec<MessageTemplate>, WhatsAppError> {
        check_path_id(waba_id, "WABA id")?;
        let mut templates = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_TEMPLATE_PAGES {
            let mut url = self.url(&[waba_id, "message_templates"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("limit", "100");
                q.append_pair("fields", "id,name,language,status,category,components");
                if let Some(after) = &cursor {
                    q.append_pair("after", after);
                }
            }
            let body = self.call(reqwest::Method::GET, url, Body::None).await?;
            let page = parse_template_page(&body).ok_or_else(|| WhatsAppError::BadReply {
                detail: "the template list is not a list".into(),
            })?;
            templates.extend(page.templates);
            match page.next_cursor {
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => break,
            }
        }
        Ok(templates)
    }

    fn bearer(&self) -> Result<HeaderValue, WhatsAppError> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.token.expose())).map_err(|_| {
                WhatsAppError::Config {
                    detail: "the access token is not plain text".into(),
                }
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// One API call: the 2xx body, or the error.
    async fn call(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Body,
    ) -> Result<Vec<u8>, WhatsAppError> {
        tracing::debug!(method = %method, path = url.path(), "WhatsApp request");
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header(AUTHORIZATION, self.bearer()?)
            .header(ACCEPT, "application/json")
            .timeout(self.request_timeout);
        req = match body {
            Body::None => req,
            Body::Json(json) => req
                .header(CONTENT_TYPE, "application/json")
                .body(json.to_string()),
            Body::Multipart(form) => req.multipart(form).timeout(self.transfer_timeout),
        };
        let mut response = req.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = read_capped(&mut response, MAX_REPLY_BYTES as u64).await?;
        tracing::debug!(method = %method, path = url.path(), status, "WhatsApp reply");
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(error_reply(status, &body))
        }
    }
}

enum Fetched {
    Expired,
    File(DownloadedMedia),
}

fn too_large(cap: u64) -> WhatsAppError {
    WhatsAppError::BadReply {
        detail: format!("the file is larger than {} MB", cap / 1_000_000),
    }
}

/// A non-2xx reply as an error: the Graph error when the body is one; otherwise 429 and 5xx are
/// transient (a proxy, an outage) and anything else is a bad reply.
fn error_reply(status: u16, body: &[u8]) -> WhatsAppError {
    if let Some(api) = ApiError::from_body(status, body) {
        return WhatsAppError::Api(Box::new(api));
    }
    if (300..400).contains(&status) {
        return WhatsAppError::BadReply {
            detail: format!("HTTP {status} redirect; redirects are not followed"),
        };
    }
    if status == 429 || status >= 500 {
        return WhatsAppError::Unreachable {
            detail: format!("HTTP {status}"),
        };
    }
    WhatsAppError::BadReply {
        detail: format!("HTTP {status} without a Graph error"),
    }
}

async fn read_capped(response: &mut reqwest::Response, cap: u64) -> Result<Vec<u8>, WhatsAppError> {
    let large = || WhatsAppError::BadReply {
        detail: format!("the reply is larger than {} KiB", cap / 1024),
    };
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether `announced` (hex or base64) is the hash `actual_hex`; `None` when `announced` is in
/// neither form (nothing to check against).
pub fn sha256_matches(announced: &str, actual_hex: &str) -> Option<bool> {
    let announced = announced.trim();
    if announced.len() == 64 && announced.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(announced.eq_ignore_ascii_case(actual_hex));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(announced)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(announced))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(announced))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(announced))
        .ok()
        .filter(|d| d.len() == 32)?;
    Some(hex(&decoded) == actual_hex.to_ascii_lowercase())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn transport(e: reqwest::Error) -> WhatsAppError {
    WhatsAppError::Unreachable {
        detail: describe(&e),
    }
}

/// A transport error as text without the URL (reqwest's Display quotes it).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_builder() {
        return "invalid request".into();
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
        return format!("TLS error: {tls}");
    }
    if causes.iter().any(|c| c.to_string() == "dns error") {
        return "host not found".into();
    }
    let kinds = causes
        .iter()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    if let Some(kind) = kinds.rev().find(|k| *k != std::io::ErrorKind::Other) {
        return match kind {
            std::io::ErrorKind::ConnectionRefused => "connection failed".into(),
            std::io::ErrorKind::TimedOut => "timed out".into(),
            kind => format!("network error: {kind:?}"),
        };
    }
    if e.is_connect() {
        "connection failed".into()
    } else {
        "the connection closed or spoke something other than HTTP".into()
    }
}

/// `cause` and the errors it carries: an I/O error's `source()` skips the error it wraps, so
/// look inside with `get_ref`.
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

    #[test]
    fn base_urls_are_checked() {
        let token = || AccessToken::new("EAAG-secret");
        for ok in [
            DEFAULT_BASE_URL,
            "http://127.0.0.1:9999/v21.0",
            "http://localhost:1/v21.0/",
            "http://[::1]:8080",
        ] {
            assert!(
                GraphClient::new(GraphConfig::new(token()).with_base_url(ok)).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://graph.facebook.com/v21.0",
            "ftp://127.0.0.1",
            "graph.facebook.com",
            "https://u:p@graph.facebook.com/v21.0",
            "https://graph.facebook.com/v21.0?x=1",
        ] {
            let err =
                GraphClient::new(GraphConfig::new(token()).with_base_url(bad)).expect_err(bad);
            assert_eq!(err.code(), "whatsapp_config", "{bad}");
        }
        for bad_token in ["", "  ", "a\nb"] {
            assert!(GraphClient::new(GraphConfig::new(AccessToken::new(bad_token))).is_err());
        }
    }

    #[test]
    fn the_token_is_not_in_debug() {
        let config = GraphConfig::new(AccessToken::new("EAAG-secret"));
        assert!(!format!("{config:?}").contains("EAAG-secret"));
        let client = GraphClient::new(config).expect("client");
        assert!(!format!("{client:?}").contains("EAAG-secret"));
    }

    #[test]
    fn urls_append_encoded_segments() {
        let client = GraphClient::new(
            GraphConfig::new(AccessToken::new("t")).with_base_url("http://127.0.0.1:1/v21.0/"),
        )
        .expect("client");
        assert_eq!(
            client.url(&["106540352242922", "messages"]).as_str(),
            "http://127.0.0.1:1/v21.0/106540352242922/messages"
        );
        for bad in ["", "..", "a/b", "a?b", "1 2", "%2e"] {
            assert!(check_path_id(bad, "id").is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_in_hex_or_base64() {
        // SHA-256 of "abc".
        let hex_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let b64_abc = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
        assert_eq!(sha256_matches(hex_abc, hex_abc), Some(true));
        assert_eq!(sha256_matches(&hex_abc.to_uppercase(), hex_abc), Some(true));
        assert_eq!(sha256_matches(b64_abc, hex_abc), Some(true));
        assert_eq!(
            sha256_matches(b64_abc.trim_end_matches('='), hex_abc),
            Some(true)
        );
        let other = "0".repeat(64);
        assert_eq!(sha256_matches(&other, hex_abc), Some(false));
        assert_eq!(sha256_matches("…", hex_abc), None);
        assert_eq!(sha256_matches("", hex_abc), None);
    }

    #[test]
    fn replies_without_a_graph_error_are_classified() {
        assert_eq!(error_reply(502, b"<html>").code(), "whatsapp_unreachable");
        assert!(error_reply(429, b"").is_retryable());
        assert_eq!(error_reply(302, b"").code(), "whatsapp_bad_reply");
        assert_eq!(error_reply(404, b"nope").code(), "whatsapp_bad_reply");
        assert_eq!(
            error_reply(
                400,
                br#"{"error":{"message":"(#131047) Re-engagement message","code":131047}}"#
            )
            .code(),
            "whatsapp_window_closed"
        );
    }
}
