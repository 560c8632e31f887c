//! `enlace-hub-client`: the desktop's client of `enlace-hub`, the organization's server.
//!
//! It owns the hub's HTTP API as Rust calls ([`HubClient`]: login, logout, me, pause reasons,
//! state changes, click-to-dial, the day summary, the supervisors' overview, the WhatsApp
//! inbox: conversations, messages, comments, templates, numbers, media) and the agent's
//! event stream ([`HubStream`]: a WebSocket that reconnects with back-off and resumes from the
//! last event id, so no event is lost or repeated).
//!
//! HTTP is blocking (`reqwest::blocking` over rustls, one client for the process) with fixed
//! timeouts, no redirects and a body cap: call it from a blocking thread
//! (`tokio::task::spawn_blocking`), never from async code. Plain `http://` is accepted only for
//! a loopback hub (`localhost`, 127.0.0.0/8, `::1`): the password and the session token never
//! cross a network in the clear. Session tokens are [`enlace_secrets::Sensitive`] and are never
//! logged or put in errors.
//!
//! The shapes are `enlace-hub-api`'s, shared with the hub (re-exported as [`api`]); stream
//! events are typed ([`api::HubEvent`], `Unknown` for what a newer hub added) and error codes
//! are [`api::ApiErrorCode`], never compared as strings.
//!
//! To extend: add the route's types to `enlace-hub-api`, a method here that calls `request` and
//! parses it, and a test against the real hub in `tests/`.

mod error;
mod model;
mod stream;

#[doc(hidden)]
pub mod fuzzing;

use std::error::Error as _;
use std::io::Read;
use std::path::Path;
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use enlace_hub_api::whatsapp::{
    AssignRequest, BusinessNumber, CannedResponse, Comment, CommentRequest, Conversation,
    ConversationStarted, MediaUploaded, Message, MessagePage, MessageTemplate, QuickAddress,
    SendMessageRequest, StartConversationRequest, WindowClosedError,
};
use enlace_secrets::Sensitive;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The hub protocol (shared with the hub): `HubEvent`, `ApiErrorCode`, request and reply types.
pub use enlace_hub_api as api;
pub use error::{HubError, MediaRefusal};
pub use model::{
    Agent, AgentLive, AgentState, AgentStateKind, DayPause, DaySummary, DialOutcome, HangupCause,
    HubCall, HubCallDirection, HubCallPhase, HubDialAttempt, HubDialFailure, Me, PauseReason,
    Session, StateChange, StreamEvent,
};
pub use stream::{HubEvent, HubStream, StreamOptions};

/// Largest reply body read from the hub.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;
/// Largest conversation list or message page (500 items with their content).
pub const LIST_BODY_BYTES: u64 = 32 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Click-to-dial waits for the agent's phone to be answered (the hub's originate timeout).
const DIAL_TIMEOUT: Duration = Duration::from_secs(90);
/// A page of up to 500 messages.
const MESSAGES_TIMEOUT: Duration = Duration::from_secs(30);
/// A file of up to 100 MB.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(300);
/// An upload's time-out: a minute, plus a second per 64 KB (a 100 MB document gets 27 minutes,
/// enough at 0.5 Mbit/s).
fn upload_timeout(size: u64) -> Duration {
    Duration::from_secs(60 + size / (64 * 1024))
}

/// A file downloaded from the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// The hub's `Content-Type` (`application/octet-stream` when it sent none).
    pub mime_type: String,
    /// The file's name when the hub knows it (documents), without path separators.
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// A client of one hub (cheap to clone).
#[derive(Clone)]
pub struct HubClient {
    /// `http(s)://host[:port]`, no trailing slash.
    origin: String,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl PartialEq for HubClient {
    fn eq(&self, other: &Self) -> bool {
        self.origin == other.origin
    }
}

impl Eq for HubClient {}

enum Method {
    Get,
    Post(Value),
    Delete,
}

/// Checks that `base_url` is an `https://host[:port]` origin, or `http://` on a loopback host
/// (a trailing `/` is allowed), and returns it normalized without the trailing slash.
fn parse_origin(base_url: &str) -> Result<String, HubError> {
    let invalid = |why: &str| HubError::InvalidUrl(format!("{why} (expected https://host[:port])"));
    let url = url::Url::parse(base_url.trim()).map_err(|_| invalid("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https are supported"));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(invalid("no host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("user names in the address are not supported"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "the address must not have a path, query or fragment",
        ));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(HubError::InsecureUrl(host.to_owned()));
    }
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// `localhost`, 127.0.0.0/8 or `::1`: traffic that never leaves this computer.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The process-wide HTTP client, built on first use (from a blocking thread), or why not.
fn http() -> Result<&'static reqwest::blocking::Client, HubError> {
    static CLIENT: OnceLock<Result<reqwest::blocking::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // One crypto provider in the process, also for the stream's WebSocket. Already
            // installed is fine.
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
        .map_err(|why| HubError::Unreachable(why.clone()))
}

/// rustls with ring and the webpki roots, the root store the stream's WebSocket uses.
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

impl HubClient {
    /// A client of the hub at `base_url` (`https://hub.example.com`, or `http://` on this
    /// computer: `http://127.0.0.1:8640`). Nothing is contacted yet.
    pub fn new(base_url: &str) -> Result<HubClient, HubError> {
        let origin = parse_origin(base_url)?;
        Ok(HubClient { origin })
    }

    /// The normalized origin (`https://hub.example.com`).
    pub fn base_url(&self) -> &str {
        &self.origin
    }

    /// `ws(s)://…` form of the origin, for the stream.
    pub(crate) fn ws_origin(&self) -> String {
        match self.origin.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", self.origin.trim_start_matches("http://")),
        }
    }

    /// Logs in (`POST /api/v1/sessions`). The agent becomes available and joins its queues
    /// unless it was already logged in elsewhere.
    pub fn login(&self, user: &str, password: &Sensitive<String>) -> Result<Session, HubError> {
        let body = serde_json::json!({ "user": user, "password": password.expose() });
        let wire: model::SessionWire = self.call(
            "/api/v1/sessions",
            None,
            Method::Post(body),
            REQUEST_TIMEOUT,
        )?;
        Ok(Session::from(wire))
    }

    /// Ends this session (`DELETE /api/v1/sessions/current`). The agent is logged out of the
    /// queues when it was its last session.
    pub fn logout(&self, token: &Sensitive<String>) -> Result<(), HubError> {
        self.call::<Option<Value>>(
            "/api/v1/sessions/current",
            Some(token),
            Method::Delete,
            REQUEST_TIMEOUT,
        )
        .map(|_| ())
    }

    /// The agent and its current state (`GET /api/v1/me`); also renews the session.
    pub fn me(&self, token: &Sensitive<String>) -> Result<Me, HubError> {
        self.get("/api/v1/me", token)
    }

    /// The organization's pause reasons (`GET /api/v1/pause-reasons`).
    pub fn pause_reasons(&self, token: &Sensitive<String>) -> Result<Vec<PauseReason>, HubError> {
        self.get("/api/v1/pause-reasons", token)
    }

    /// Pauses, unpauses or exits (`POST /api/v1/me/state`); returns the new state.
    pub fn set_state(
        &self,
        token: &Sensitive<String>,
        change: StateChange,
    ) -> Result<AgentState, HubError> {
        self.call(
            "/api/v1/me/state",
            Some(token),
            Method::Post(to_value(&change.to_request())?),
            REQUEST_TIMEOUT,
        )
    }

    /// Click-to-dial (`POST /api/v1/calls`): the PBX rings the agent's phone, then the number.
    /// Blocks until the agent's phone answers or gives up (up to 90 s).
    pub fn dial(&self, token: &Sensitive<String>, number: &str) -> Result<DialOutcome, HubError> {
        let wire: model::DialWire = self.call(
            "/api/v1/calls",
            Some(token),
            Method::Post(to_value(&enlace_hub_api::DialRequest {
                number: number.to_owned(),
            })?),
            DIAL_TIMEOUT,
        )?;
        Ok(model::dial_outcome(wire))
    }

    /// The agent's day since local midnight of the hub (`GET /api/v1/me/day`).
    pub fn day(&self, token: &Sensitive<String>) -> Result<DaySummary, HubError> {
        self.get("/api/v1/me/day", token)
    }

    /// The agent's calls and pauses since `since_ms` (ms since the epoch).
    pub fn day_since(
        &self,
        token: &Sensitive<String>,
        since_ms: i64,
    ) -> Result<DaySummary, HubError> {
        self.get(&format!("/api/v1/me/day?since={since_ms}"), token)
    }

    /// Every agent with its state (`GET /api/v1/agents`, supervisors only: others get
    /// [`HubError::Forbidden`]).
    pub fn agents(&self, token: &Sensitive<String>) -> Result<Vec<AgentLive>, HubError> {
        let wire: Vec<model::AgentLiveWire> = self.get("/api/v1/agents", token)?;
        Ok(wire.into_iter().map(AgentLive::from).collect())
    }

    /// Opens the agent's event stream after event `after` (`None`: the whole retained log).
    /// Must be called inside a Tokio runtime; the stream's task stops when it is dropped.
    pub fn stream(&self, token: &Sensitive<String>, after: Option<u64>) -> HubStream {
        self.stream_with(token, after, StreamOptions::default())
    }

    /// [`HubClient::stream`] with explicit back-off and liveness settings.
    pub fn stream_with(
        &self,
        token: &Sensitive<String>,
        after: Option<u64>,
        options: StreamOptions,
    ) -> HubStream {
        stream::start(self.ws_origin(), token.clone(), after, options)
    }

    // ---- WhatsApp conversations ----

    /// The conversations this agent sees (`GET /api/v1/conversations`), newest activity
    /// first: its own open ones and every open one of its queues, assigned to others or not
    /// (supervisors: all open ones); with `search`, attended ones too, by number or name.
    pub fn conversations(
        &self,
        token: &Sensitive<String>,
        search: Option<&str>,
    ) -> Result<Vec<Conversation>, HubError> {
        let path = match search.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => format!("/api/v1/conversations?search={}", query_value(s)),
            None => "/api/v1/conversations".to_owned(),
        };
        self.call_capped(
            &path,
            Some(token),
            Method::Get,
            MESSAGES_TIMEOUT,
            LIST_BODY_BYTES,
        )
    }

    /// A page of a conversation's messages, oldest first: the newest `limit` (1–500), or
    /// those before message `before` (`MessagePage::next_before` of the previous page).
    pub fn messages(
        &self,
        token: &Sensitive<String>,
        conversation_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<MessagePage, HubError> {
        let mut path = format!(
            "/api/v1/conversations/{conversation_id}/messages?limit={}",
            limit.clamp(1, 500)
        );
        if let Some(before) = before {
            path.push_str(&format!("&before={before}"));
        }
        self.call_capped(
            &path,
            Some(token),
            Method::Get,
            MESSAGES_TIMEOUT,
            LIST_BODY_BYTES,
        )
    }

    /// Queues a message (`POST /api/v1/conversations/{id}/messages`). A repeated `clientId`
    /// returns the first message and sends nothing, so resending after a lost reply is safe.
    /// Outside the 24-hour window a free-form message is [`HubError::WindowClosed`], which
    /// carries the templates that can go instead.
    pub fn send_message(
        &self,
        token: &Sensitive<String>,
        conversation_id: i64,
        request: &SendMessageRequest,
    ) -> Result<Message, HubError> {
        self.call(
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            Some(token),
            Method::Post(to_value(request)?),
            REQUEST_TIMEOUT,
        )
    }

    /// Starts (or continues) a conversation from a call card (`POST /api/v1/conversations`);
    /// the conversation becomes this agent's.
    pub fn start_conversation(
        &self,
        token: &Sensitive<String>,
        request: &StartConversationRequest,
    ) -> Result<ConversationStarted, HubError> {
        self.call(
            "/api/v1/conversations",
            Some(token),
            Method::Post(to_value(request)?),
            REQUEST_TIMEOUT,
        )
    }

    /// Marks the conversation read (`POST /api/v1/conversations/{id}/read`).
    pub fn mark_read(&self, token: &Sensitive<String>, id: i64) -> Result<(), HubError> {
        self.call::<Option<Value>>(
            &format!("/api/v1/conversations/{id}/read"),
            Some(token),
            Method::Post(Value::Null),
            REQUEST_TIMEOUT,
        )
        .map(|_| ())
    }

    /// Marks the conversation attended (`POST /api/v1/conversations/{id}/attended`).
    pub fn mark_attended(
        &self,
        token: &Sensitive<String>,
        id: i64,
    ) -> Result<Conversation, HubError> {
        self.call(
            &format!("/api/v1/conversations/{id}/attended"),
            Some(token),
            Method::Post(Value::Null),
            REQUEST_TIMEOUT,
        )
    }

    /// The conversation's internal comments, oldest first.
    pub fn comments(&self, token: &Sensitive<String>, id: i64) -> Result<Vec<Comment>, HubError> {
        self.get(&format!("/api/v1/conversations/{id}/comments"), token)
    }

    /// Adds an internal comment (never sent to the customer).
    pub fn add_comment(
        &self,
        token: &Sensitive<String>,
        id: i64,
        body: &str,
    ) -> Result<Comment, HubError> {
        self.call(
            &format!("/api/v1/conversations/{id}/comments"),
            Some(token),
            Method::Post(to_value(&CommentRequest {
                body: body.to_owned(),
            })?),
            REQUEST_TIMEOUT,
        )
    }

    /// Takes an unassigned conversation of one of the agent's queues
    /// (`POST /api/v1/conversations/{id}/assign` without `agentId`).
    pub fn take(&self, token: &Sensitive<String>, id: i64) -> Result<Conversation, HubError> {
        self.call(
            &format!("/api/v1/conversations/{id}/assign"),
            Some(token),
            Method::Post(to_value(&AssignRequest::default())?),
            REQUEST_TIMEOUT,
        )
    }

    /// Hands the conversation back to its queue (`POST /api/v1/conversations/{id}/release`):
    /// only its agent or a supervisor.
    pub fn release(&self, token: &Sensitive<String>, id: i64) -> Result<Conversation, HubError> {
        self.call(
            &format!("/api/v1/conversations/{id}/release"),
            Some(token),
            Method::Post(Value::Null),
            REQUEST_TIMEOUT,
        )
    }

    /// The WhatsApp Business Account's templates (the hub's cache; `refresh` asks Meta again).
    pub fn templates(
        &self,
        token: &Sensitive<String>,
        refresh: bool,
    ) -> Result<Vec<MessageTemplate>, HubError> {
        let path = if refresh {
            "/api/v1/whatsapp/templates?refresh=true"
        } else {
            "/api/v1/whatsapp/templates"
        };
        self.get(path, token)
    }

    /// The organization's canned responses.
    pub fn canned_responses(
        &self,
        token: &Sensitive<String>,
    ) -> Result<Vec<CannedResponse>, HubError> {
        self.get("/api/v1/canned-responses", token)
    }

    /// The organization's quick addresses.
    pub fn quick_addresses(
        &self,
        token: &Sensitive<String>,
    ) -> Result<Vec<QuickAddress>, HubError> {
        self.get("/api/v1/quick-addresses", token)
    }

    /// The business numbers the agent may send from (`GET /api/v1/whatsapp/numbers`).
    pub fn whatsapp_numbers(
        &self,
        token: &Sensitive<String>,
    ) -> Result<Vec<BusinessNumber>, HubError> {
        self.get("/api/v1/whatsapp/numbers", token)
    }

    /// Downloads a file kept by the hub (`GET /api/v1/media/{id}`). A file over `max_bytes`
    /// is [`HubError::MediaTooLarge`] and is not read past the limit. `media_id` comes from
    /// messages (untrusted): it is percent-encoded as one path segment.
    pub fn download_media(
        &self,
        token: &Sensitive<String>,
        media_id: &str,
        max_bytes: u64,
    ) -> Result<MediaFile, HubError> {
        if media_id.is_empty() {
            return Err(HubError::InvalidRequest("empty media id".into()));
        }
        let mut response = self.send(
            &format!("/api/v1/media/{}", path_segment(media_id)),
            Some(token),
            Method::Get,
            MEDIA_TIMEOUT,
        )?;
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mime_type = header(CONTENT_TYPE).unwrap_or_else(|| "application/octet-stream".into());
        let filename = header(reqwest::header::CONTENT_DISPOSITION)
            .as_deref()
            .and_then(disposition_filename);
        let declared = response.content_length();
        let bytes = read_limited(&mut response, declared, max_bytes, || {
            HubError::MediaTooLarge { limit: max_bytes }
        })?;
        Ok(MediaFile {
            mime_type,
            filename,
            bytes,
        })
    }

    /// Uploads the file at `path` for sending (`POST /api/v1/media?kind=&filename=`), streamed
    /// as the raw body with type `mime` (never read into memory). `progress(sent, total)` is
    /// called on this thread as the bytes go out, last with `sent == total`. The hub's refusal
    /// of the file (WhatsApp's limits, api-facts C4) is [`HubError::MediaRefused`].
    pub fn upload_media(
        &self,
        token: &Sensitive<String>,
        path: &Path,
        mime: &str,
        kind: &str,
        filename: Option<&str>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<MediaUploaded, HubError> {
        let file = std::fs::File::open(path)
            .map_err(|e| HubError::InvalidRequest(format!("cannot read the file: {}", e.kind())))?;
        let total = file
            .metadata()
            .map_err(|e| HubError::InvalidRequest(format!("cannot read the file: {}", e.kind())))?
            .len();
        let mut query = format!("/api/v1/media?kind={}", query_value(kind));
        if let Some(name) = filename {
            query.push_str(&format!("&filename={}", query_value(name)));
        }
        let mime = HeaderValue::from_str(mime)
            .map_err(|_| HubError::InvalidRequest("invalid MIME type".into()))?;
        let (tx, rx) = mpsc::channel::<u64>();
        let body = reqwest::blocking::Body::sized(
            CountingReader {
                inner: file,
                sent: 0,
                tx,
            },
            total,
        );
        progress(0, total);
        let reply = std::thread::scope(|scope| {
            let call = scope.spawn(|| {
                let response = self.send_request(
                    &query,
                    Some(token),
                    |client, url| client.post(url).header(CONTENT_TYPE, mime).body(body),
                    upload_timeout(total),
                );
                let mut response = match response {
                    Ok(r) => r,
                    Err(HubError::InvalidRequest(m)) if m.starts_with(TOO_LARGE_PREFIX) => {
                        return Err(HubError::MediaRefused(MediaRefusal::TooLarge, m))
                    }
                    Err(e) => return Err(e),
                };
                let declared = response.content_length();
                let body = read_capped(&mut response, declared, MAX_BODY_BYTES)?;
                serde_json::from_slice::<MediaUploaded>(&body).map_err(|e| {
                    HubError::BadReply(format!("unexpected JSON on /api/v1/media: {e}"))
                })
            });
            // Progress on the caller's thread while the request runs on the scoped one.
            for sent in rx {
                progress(sent, total);
            }
            call.join()
                .unwrap_or_else(|_| Err(HubError::Unreachable("the upload stopped".into())))
        })?;
        progress(total, total);
        Ok(reply)
    }

    /// `GET path` with the session's token and the usual time-out and body cap.
    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        token: &Sensitive<String>,
    ) -> Result<T, HubError> {
        self.call(path, Some(token), Method::Get, REQUEST_TIMEOUT)
    }

    fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&Sensitive<String>>,
        method: Method,
        timeout: Duration,
    ) -> Result<T, HubError> {
        self.call_capped(path, token, method, timeout, MAX_BODY_BYTES)
    }

    /// [`HubClient::call`] with a larger body cap (lists).
    fn call_capped<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&Sensitive<String>>,
        method: Method,
        timeout: Duration,
        cap: u64,
    ) -> Result<T, HubError> {
        let route = path.split('?').next().unwrap_or(path);
        let mut response = self.send(path, token, method, timeout)?;
        let status = response.status().as_u16();
        let declared = response.content_length();
        let body = read_capped(&mut response, declared, cap)?;
        if status == 204 || body.iter().all(u8::is_ascii_whitespace) {
            return serde_json::from_value(Value::Null).map_err(|_| {
                HubError::BadReply(format!("HTTP {status} without a body on {route}"))
            });
        }
        serde_json::from_slice(&body)
            .map_err(|e| HubError::BadReply(format!("unexpected JSON on {route}: {e}")))
    }

    /// Sends the request; a 2xx reply is returned unread, anything else becomes the error.
    fn send(
        &self,
        path: &str,
        token: Option<&Sensitive<String>>,
        method: Method,
        timeout: Duration,
    ) -> Result<reqwest::blocking::Response, HubError> {
        self.send_request(
            path,
            token,
            |client, url| match method {
                Method::Get => client.get(url),
                Method::Delete => client.delete(url),
                Method::Post(body) => client
                    .post(url)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string()),
            },
            timeout,
        )
    }

    /// [`HubClient::send`] with the request built by `build` (method, body) from the URL.
    fn send_request(
        &self,
        path: &str,
        token: Option<&Sensitive<String>>,
        build: impl FnOnce(&reqwest::blocking::Client, &str) -> reqwest::blocking::RequestBuilder,
        timeout: Duration,
    ) -> Result<reqwest::blocking::Response, HubError> {
        let url = format!("{}{path}", self.origin);
        let route = path.split('?').next().unwrap_or(path);
        tracing::debug!(route, "hub request");
        let client = http()?;
        // The time-out covers the whole exchange, body included.
        let mut req = build(client, &url)
            .timeout(timeout)
            .header(ACCEPT, "application/json");
        if let Some(token) = token {
            let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| HubError::SessionExpired)?;
            bearer.set_sensitive(true);
            req = req.header(AUTHORIZATION, bearer);
        }
        let mut response = req
            .send()
            .map_err(|e| HubError::Unreachable(describe(&e)))?;
        let status = response.status().as_u16();
        tracing::debug!(route, status, "hub reply");
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let retry_header = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let declared = response.content_length();
        let body = read_capped(&mut response, declared, MAX_BODY_BYTES)?;
        if (300..400).contains(&status) {
            return Err(HubError::BadReply(format!(
                "HTTP {status} redirect; Enlace does not follow redirects (check the hub address)"
            )));
        }
        match serde_json::from_slice::<enlace_hub_api::ApiError>(&body) {
            Ok(e) if e.code == enlace_hub_api::ApiErrorCode::WindowClosed => {
                // The refusal lists the templates that can go instead.
                let templates = serde_json::from_slice::<WindowClosedError>(&body)
                    .map(|w| w.templates)
                    .unwrap_or_default();
                Err(HubError::WindowClosed {
                    message: e.message,
                    templates,
                })
            }
            Ok(e) => {
                let retry = e.retry_after.map(Duration::from_secs).or(retry_header);
                Err(HubError::from_api(status, e.code, e.message, retry))
            }
            Err(_) if status >= 500 => Err(HubError::Unreachable(format!(
                "HTTP {status} without the hub's error body (a proxy in front of it?)"
            ))),
            Err(_) => Err(HubError::BadReply(format!(
                "HTTP {status} without the hub's error body on {route}"
            ))),
        }
    }
}

/// How `HubError::from_api` words `payload_too_large` (kept as `invalid_request` elsewhere).
const TOO_LARGE_PREFIX: &str = "payload too large: ";

/// A file read for an upload body, telling how many bytes went out so far.
struct CountingReader {
    inner: std::fs::File,
    sent: u64,
    tx: mpsc::Sender<u64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent += n as u64;
        // The caller may have stopped listening (the request failed): not an error here.
        let _ = self.tx.send(self.sent);
        Ok(n)
    }
}

/// A request body as JSON.
fn to_value(body: &impl serde::Serialize) -> Result<Value, HubError> {
    serde_json::to_value(body).map_err(|e| HubError::InvalidRequest(e.to_string()))
}

/// A query value, form-encoded.
fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A path segment from untrusted text: every byte but `A-Z a-z 0-9 - _ ~` percent-encoded
/// (dots too, so `.` and `..` cannot climb the path).
fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The file name of a `Content-Disposition` header: `filename*=UTF-8''…` first, then
/// `filename="…"`; path separators and control characters never survive.
fn disposition_filename(header: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for part in header.split(';').map(str::trim) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let value = value.trim();
                if let Some(encoded) = value
                    .get(..7)
                    .filter(|p| p.eq_ignore_ascii_case("utf-8''"))
                    .map(|_| &value[7..])
                {
                    let bytes: Vec<u8> = url::form_urlencoded::parse(
                        format!("x={}", encoded.replace('+', "%2B")).as_bytes(),
                    )
                    .next()
                    .map(|(_, v)| v.into_owned().into_bytes())
                    .unwrap_or_default();
                    extended = String::from_utf8(bytes).ok();
                }
            }
            "filename" => plain = Some(value.trim().trim_matches('"').to_owned()),
            _ => {}
        }
    }
    let name: String = extended
        .or(plain)?
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .collect();
    let name = name.trim().to_owned();
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

/// Reads `body` up to `cap` bytes, chunk by chunk; one byte more (or a `declared`
/// Content-Length over the cap) is a bad reply.
fn read_capped(body: impl Read, declared: Option<u64>, cap: u64) -> Result<Vec<u8>, HubError> {
    read_limited(body, declared, cap, || {
        HubError::BadReply(format!("the reply is larger than {cap} bytes"))
    })
}

/// [`read_capped`] with the error for "too large" given.
fn read_limited(
    body: impl Read,
    declared: Option<u64>,
    cap: u64,
    too_large: impl Fn() -> HubError,
) -> Result<Vec<u8>, HubError> {
    if declared.is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let mut read = Vec::new();
    body.take(cap.saturating_add(1))
        .read_to_end(&mut read)
        .map_err(|e| {
            let timed_out = e.kind() == std::io::ErrorKind::TimedOut
                || e.get_ref()
                    .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                    .is_some_and(reqwest::Error::is_timeout);
            let what = if timed_out {
                "timed out".to_owned()
            } else {
                format!("network error: {:?}", e.kind())
            };
            HubError::Unreachable(format!("the reply was cut short ({what})"))
        })?;
    if read.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(read)
}

/// A transport error as text without the URL (reqwest's Display quotes it, and the query could
/// carry data).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_builder() {
        return "invalid address".into();
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

    #[test]
    fn origins_are_validated_and_normalized() {
        let ok = [
            ("https://hub.example.com", "https://hub.example.com"),
            ("https://hub.example.com/", "https://hub.example.com"),
            ("http://127.0.0.1:8640", "http://127.0.0.1:8640"),
            (" https://HUB.example.com:443 ", "https://hub.example.com"),
        ];
        for (input, want) in ok {
            assert_eq!(HubClient::new(input).unwrap().base_url(), want, "{input}");
        }
        for bad in [
            "",
            "hub.example.com",
            "ftp://hub.example.com",
            "https://hub.example.com/api",
            "https://u:p@hub.example.com",
            "https://hub.example.com/?x=1",
            "file:///etc/passwd",
        ] {
            let e = HubClient::new(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_setting", "{bad}");
        }
    }

    #[test]
    fn bodies_are_read_up_to_the_cap() {
        assert_eq!(read_capped(&b"1234"[..], None, 4).unwrap(), b"1234");
        for (body, declared) in [(&b"12345"[..], None), (&b""[..], Some(5))] {
            let e = read_capped(body, declared, 4).unwrap_err();
            assert_eq!(e.code(), "hub_bad_reply");
        }
        // An endless body stops one byte past the cap.
        let e = read_capped(std::io::repeat(b'x'), None, 4).unwrap_err();
        assert_eq!(e.code(), "hub_bad_reply");
    }

    #[test]
    fn untrusted_text_stays_one_path_segment_and_one_file_name() {
        assert_eq!(path_segment("abc-1_2~"), "abc-1_2~");
        assert_eq!(path_segment("../a/b?c#d"), "%2E%2E%2Fa%2Fb%3Fc%23d");
        assert_eq!(path_segment("ñ"), "%C3%B1");
        let cases = [
            ("attachment; filename=\"a.pdf\"", Some("a.pdf")),
            (
                "attachment; filename=\"_.pdf\"; filename*=UTF-8''a%C3%B1o%2F1.pdf",
                Some("año_1.pdf"),
            ),
            (
                "attachment; filename=\"../../etc/passwd\"",
                Some(".._.._etc_passwd"),
            ),
            ("attachment; filename=\"..\"", None),
            ("attachment; filename*=UTF-8''%0A", None),
            ("attachment", None),
            ("attachment; filename*=latin1''x", None),
        ];
        for (header, want) in cases {
            assert_eq!(disposition_filename(header).as_deref(), want, "{header}");
        }
    }

    #[test]
    fn stream_origin_follows_the_scheme() {
        let c = HubClient::new("https://hub.example.com").unwrap();
        assert_eq!(c.ws_origin(), "wss://hub.example.com");
        let c = HubClient::new("http://127.0.0.1:9").unwrap();
        assert_eq!(c.ws_origin(), "ws://127.0.0.1:9");
    }

    #[test]
    fn unreachable_hub_is_reported_as_such() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let c = HubClient::new(&format!("http://{addr}")).unwrap();
        let e = c
            .login("1234567", &Sensitive::new("123456".to_owned()))
            .unwrap_err();
        assert_eq!(e.code(), "hub_unreachable");
    }

    /// A loopback server that answers one request with `head`, then `chunks` chunks of 64 KiB
    /// (chunked encoding) when `chunks > 0`. It stops when the client hangs up.
    fn raw_server(head: &'static str, chunks: usize) -> std::net::SocketAddr {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
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
        addr
    }

    #[test]
    fn a_reply_over_the_cap_is_cut_off_and_a_bad_reply() {
        // 2 MiB without a length: reading stops at the cap.
        let addr = raw_server(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            32,
        );
        let c = HubClient::new(&format!("http://{addr}")).unwrap();
        let e = c.me(&Sensitive::new("t".to_owned())).unwrap_err();
        assert_eq!(e.code(), "hub_bad_reply");
        assert!(e.to_string().contains("larger than"), "{e}");

        // A declared length over the cap is refused before reading.
        let addr = raw_server(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n",
            0,
        );
        let c = HubClient::new(&format!("http://{addr}")).unwrap();
        let e = c.me(&Sensitive::new("t".to_owned())).unwrap_err();
        assert_eq!(e.code(), "hub_bad_reply");
        assert!(e.to_string().contains("larger than"), "{e}");
    }

    #[test]
    fn redirects_are_not_followed() {
        let addr = raw_server(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: https://elsewhere.example/api/v1/me\r\nContent-Length: 0\r\n\r\n",
            0,
        );
        let c = HubClient::new(&format!("http://{addr}")).unwrap();
        let e = c.me(&Sensitive::new("t".to_owned())).unwrap_err();
        assert_eq!(e.code(), "hub_bad_reply");
        assert!(e.to_string().contains("redirect"), "{e}");
    }
}
