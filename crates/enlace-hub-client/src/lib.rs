//! `enlace-hub-client`: the desktop's client of `enlace-hub`, the organization's server.
//!
//! It owns the hub's HTTP API as Rust calls ([`HubClient`]: login, logout, me, pause reasons,
//! state changes, click-to-dial, the day summary, the supervisors' overview) and the agent's
//! event stream ([`HubStream`]: a WebSocket that reconnects with back-off and resumes from the
//! last event id, so no event is lost or repeated).
//!
//! HTTP is blocking (ureq) with fixed timeouts, no redirects and a body cap: call it from a
//! blocking thread (`tokio::task::spawn_blocking`). Session tokens are
//! [`enlace_secrets::Sensitive`] and are never logged or put in errors.
//!
//! To extend: add the route's reply type to `model`, a method here that calls `request` and
//! parses it, and a test against the real hub in `tests/`.

mod error;
mod model;
mod stream;

use std::error::Error as _;
use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use enlace_secrets::Sensitive;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use error::HubError;
pub use model::{
    Agent, AgentLive, AgentState, AgentStateKind, DayPause, DaySummary, DialOutcome, HangupCause,
    HubCall, HubCallDirection, HubCallPhase, HubDialAttempt, HubDialFailure, Me, PauseReason,
    Session, StateChange, StreamEvent,
};
pub use stream::{HubEvent, HubStream, StreamOptions};

/// Largest reply body read from the hub.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Click-to-dial waits for the agent's phone to be answered (the hub's originate timeout).
const DIAL_TIMEOUT: Duration = Duration::from_secs(90);

/// A client of one hub (cheap to clone).
#[derive(Clone)]
pub struct HubClient {
    /// `http(s)://host[:port]`, no trailing slash.
    origin: String,
    agent: ureq::Agent,
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

/// Checks that `base_url` is an `http(s)://host[:port]` origin (a trailing `/` is allowed) and
/// returns it normalized without the trailing slash.
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
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

impl HubClient {
    /// A client of the hub at `base_url` (`https://hub.example.com` or
    /// `http://127.0.0.1:8640`). Nothing is contacted yet.
    pub fn new(base_url: &str) -> Result<HubClient, HubError> {
        let origin = parse_origin(base_url)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("enlace/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(HubClient { origin, agent })
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
        Ok(Session {
            token: Sensitive::new(wire.token),
            expires_at: wire.expires_at,
            agent: wire.agent,
            state: wire.state,
        })
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
        self.call("/api/v1/me", Some(token), Method::Get, REQUEST_TIMEOUT)
    }

    /// The organization's pause reasons (`GET /api/v1/pause-reasons`).
    pub fn pause_reasons(&self, token: &Sensitive<String>) -> Result<Vec<PauseReason>, HubError> {
        self.call(
            "/api/v1/pause-reasons",
            Some(token),
            Method::Get,
            REQUEST_TIMEOUT,
        )
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
            Method::Post(change.to_json()),
            REQUEST_TIMEOUT,
        )
    }

    /// Click-to-dial (`POST /api/v1/calls`): the PBX rings the agent's phone, then the number.
    /// Blocks until the agent's phone answers or gives up (up to 90 s).
    pub fn dial(&self, token: &Sensitive<String>, number: &str) -> Result<DialOutcome, HubError> {
        let wire: model::DialWire = self.call(
            "/api/v1/calls",
            Some(token),
            Method::Post(serde_json::json!({ "number": number })),
            DIAL_TIMEOUT,
        )?;
        Ok(wire.into_outcome())
    }

    /// The agent's day since local midnight of the hub (`GET /api/v1/me/day`).
    pub fn day(&self, token: &Sensitive<String>) -> Result<DaySummary, HubError> {
        self.call("/api/v1/me/day", Some(token), Method::Get, REQUEST_TIMEOUT)
    }

    /// The agent's calls and pauses since `since_ms` (ms since the epoch).
    pub fn day_since(
        &self,
        token: &Sensitive<String>,
        since_ms: i64,
    ) -> Result<DaySummary, HubError> {
        self.call(
            &format!("/api/v1/me/day?since={since_ms}"),
            Some(token),
            Method::Get,
            REQUEST_TIMEOUT,
        )
    }

    /// Every agent with its state (`GET /api/v1/agents`, supervisors only: others get
    /// [`HubError::Forbidden`]).
    pub fn agents(&self, token: &Sensitive<String>) -> Result<Vec<AgentLive>, HubError> {
        let wire: Vec<model::AgentLiveWire> =
            self.call("/api/v1/agents", Some(token), Method::Get, REQUEST_TIMEOUT)?;
        Ok(wire
            .into_iter()
            .map(|w| AgentLive {
                agent: w.agent,
                disabled: w.disabled,
                state: w.state,
            })
            .collect())
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

    fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&Sensitive<String>>,
        method: Method,
        timeout: Duration,
    ) -> Result<T, HubError> {
        let url = format!("{}{path}", self.origin);
        let route = path.split('?').next().unwrap_or(path);
        tracing::debug!(route, "hub request");
        let bearer = token.map(|t| format!("Bearer {}", t.expose()));
        let result = match method {
            Method::Get | Method::Delete => {
                let mut req = if matches!(method, Method::Get) {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                req = req.header("Accept", "application/json");
                if let Some(b) = &bearer {
                    req = req.header("Authorization", b);
                }
                req.config().timeout_global(Some(timeout)).build().call()
            }
            Method::Post(body) => {
                let mut req = self
                    .agent
                    .post(&url)
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json");
                if let Some(b) = &bearer {
                    req = req.header("Authorization", b);
                }
                req.config()
                    .timeout_global(Some(timeout))
                    .build()
                    .send(body.to_string().as_bytes())
            }
        };
        let mut response = result.map_err(|e| HubError::Unreachable(describe(&e)))?;
        let status = response.status().as_u16();
        let retry_header = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    HubError::BadReply(format!("the reply is larger than {MAX_BODY_BYTES} bytes"))
                }
                other => {
                    HubError::Unreachable(format!("the reply was cut short ({})", describe(&other)))
                }
            })?;
        tracing::debug!(route, status, "hub reply");
        if (200..300).contains(&status) {
            if status == 204 || body.iter().all(u8::is_ascii_whitespace) {
                return serde_json::from_value(Value::Null).map_err(|_| {
                    HubError::BadReply(format!("HTTP {status} without a body on {route}"))
                });
            }
            return serde_json::from_slice(&body)
                .map_err(|e| HubError::BadReply(format!("unexpected JSON on {route}: {e}")));
        }
        if (300..400).contains(&status) {
            return Err(HubError::BadReply(format!(
                "HTTP {status} redirect; Enlace does not follow redirects (check the hub address)"
            )));
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ApiError {
            code: String,
            #[serde(default)]
            message: String,
            #[serde(default)]
            retry_after: Option<u64>,
        }
        match serde_json::from_slice::<ApiError>(&body) {
            Ok(e) => {
                let retry = e.retry_after.map(Duration::from_secs).or(retry_header);
                Err(HubError::from_api(status, &e.code, e.message, retry))
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

/// A transport error as text without the URL (the query could carry data).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Io(io) => format!("network error: {}", io.kind()),
        ureq::Error::Tls(what) => format!("TLS error: {what}"),
        other => format!("{other}"),
    }
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
}
