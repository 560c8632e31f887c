//! The agent's event stream: `GET /api/v1/stream?after=<id>` as a WebSocket with
//! `Authorization: Bearer <token>`.
//!
//! One task owns the connection. It yields [`HubEvent::Online`] when connected, every event in
//! id order, and [`HubEvent::Offline`] when the connection is lost; it then reconnects with
//! exponential back-off asking for the events after the last id it delivered, so nothing is
//! lost or repeated (ids at or below the last one are skipped as well). Pings are answered; a
//! connection silent for longer than [`StreamOptions::idle_timeout`] is treated as lost. When
//! the hub ends the session (close code 4001, or 401/403 at connection) the stream yields
//! [`HubEvent::SessionEnded`] and stops. When the hub no longer keeps some of the events after
//! the id asked for (retention pruned them), it says so first (`stream_truncated`, whose id is
//! the one asked for) and the stream yields [`HubEvent::Truncated`]: what those events said
//! must be read again (`GET /me`, `GET /me/day`). Dropping the [`HubStream`] stops the task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_secrets::Sensitive;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::model::StreamEvent;

/// Close code the hub sends when the session ended (logout, Salida, expiry, disabled agent).
pub const CLOSE_SESSION_ENDED: u16 = 4001;
/// Largest accepted stream message.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// A connection that lived this long resets the back-off.
const HEALTHY_AFTER: Duration = Duration::from_secs(5);

/// What the stream yields.
// Events are the common case and each is moved once through the channel: not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum HubEvent {
    /// Connected (again); events follow.
    Online,
    /// The connection is lost or cannot be made; the stream keeps retrying.
    Offline { reason: String },
    /// One event of the hub's log, in id order, each exactly once.
    Event(StreamEvent),
    /// The hub ended the session: log in again. Nothing follows.
    SessionEnded,
    /// Events after the last id were removed by the hub's retention before this stream read
    /// them; the events that follow start at `oldest_available`. State those events carried
    /// (the agent's state, calls) must be read again.
    Truncated {
        /// The first event id the hub still keeps, when it said.
        oldest_available: Option<u64>,
    },
}

/// Reconnection and liveness settings of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// First reconnect delay; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long one connection attempt (TCP, TLS, upgrade) may take.
    pub connect_timeout: Duration,
    /// A connection without any message (events or the hub's pings) for this long is lost.
    /// Keep it above twice the hub's `heartbeat_seconds`.
    pub idle_timeout: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(45),
        }
    }
}

/// A running stream. Dropping it stops its task.
#[derive(Debug)]
pub struct HubStream {
    rx: mpsc::Receiver<HubEvent>,
    last: Arc<AtomicU64>,
    task: Option<JoinHandle<()>>,
}

impl HubStream {
    /// The next event; `None` once the stream stopped (after [`HubEvent::SessionEnded`]).
    pub async fn next(&mut self) -> Option<HubEvent> {
        self.rx.recv().await
    }

    /// The next event if one is already waiting (never waits): lets a reader handle a burst
    /// (a replay) before doing something once per burst.
    pub fn try_next(&mut self) -> Option<HubEvent> {
        self.rx.try_recv().ok()
    }

    /// Id of the last event delivered by the task (to resume a later stream from it).
    pub fn last_id(&self) -> Option<u64> {
        match self.last.load(Ordering::SeqCst) {
            0 => None,
            id => Some(id),
        }
    }
}

impl Drop for HubStream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub(crate) fn start(
    ws_origin: String,
    token: Sensitive<String>,
    after: Option<u64>,
    options: StreamOptions,
) -> HubStream {
    let (tx, rx) = mpsc::channel(256);
    let last = Arc::new(AtomicU64::new(after.unwrap_or(0)));
    let task = match tokio::runtime::Handle::try_current() {
        Ok(handle) => Some(handle.spawn(run(ws_origin, token, options, last.clone(), tx))),
        Err(_) => {
            let _ = tx.try_send(HubEvent::Offline {
                reason: "the stream needs a Tokio runtime".into(),
            });
            None
        }
    };
    HubStream { rx, last, task }
}

/// How one connection ended.
enum End {
    Lost(String),
    SessionEnded,
    /// The receiver is gone.
    Stopped,
}

async fn run(
    ws_origin: String,
    token: Sensitive<String>,
    options: StreamOptions,
    last: Arc<AtomicU64>,
    tx: mpsc::Sender<HubEvent>,
) {
    let mut backoff = options.backoff_min;
    let mut offline_sent = false;
    loop {
        let started = tokio::time::Instant::now();
        let end = match connect(&ws_origin, &token, &last, options).await {
            Ok(ws) => {
                if tx.send(HubEvent::Online).await.is_err() {
                    return;
                }
                offline_sent = false;
                follow(ws, &last, options, &tx).await
            }
            Err(end) => end,
        };
        let reason = match end {
            End::Stopped => return,
            End::SessionEnded => {
                tracing::info!("hub stream: the session ended");
                let _ = tx.send(HubEvent::SessionEnded).await;
                return;
            }
            End::Lost(reason) => reason,
        };
        tracing::debug!(reason = %reason, "hub stream offline");
        if !offline_sent {
            if tx.send(HubEvent::Offline { reason }).await.is_err() {
                return;
            }
            offline_sent = true;
        }
        if started.elapsed() >= HEALTHY_AFTER {
            backoff = options.backoff_min;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = tx.closed() => return,
        }
        backoff = (backoff * 2).min(options.backoff_max.max(options.backoff_min));
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(
    ws_origin: &str,
    token: &Sensitive<String>,
    last: &AtomicU64,
    options: StreamOptions,
) -> Result<Ws, End> {
    let url = match last.load(Ordering::SeqCst) {
        0 => format!("{ws_origin}/api/v1/stream"),
        id => format!("{ws_origin}/api/v1/stream?after={id}"),
    };
    let mut request = url
        .into_client_request()
        .map_err(|e| End::Lost(format!("invalid stream address: {e}")))?;
    let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| End::SessionEnded)?;
    bearer.set_sensitive(true);
    request.headers_mut().insert("Authorization", bearer);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let attempt = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match tokio::time::timeout(options.connect_timeout, attempt).await {
        Err(_) => Err(End::Lost("timed out connecting to the hub".into())),
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(WsError::Http(response))) => {
            let status = response.status().as_u16();
            if status == 401 || status == 403 {
                Err(End::SessionEnded)
            } else {
                Err(End::Lost(format!("the hub answered HTTP {status}")))
            }
        }
        Ok(Err(e)) => Err(End::Lost(describe(&e))),
    }
}

async fn follow(
    mut ws: Ws,
    last: &AtomicU64,
    options: StreamOptions,
    tx: &mpsc::Sender<HubEvent>,
) -> End {
    loop {
        let received = tokio::select! {
            r = tokio::time::timeout(options.idle_timeout, ws.next()) => r,
            _ = tx.closed() => {
                let _ = ws.close(None).await;
                return End::Stopped;
            }
        };
        let message = match received {
            Err(_) => {
                return End::Lost(format!(
                    "no message from the hub for {} s",
                    options.idle_timeout.as_secs()
                ))
            }
            Ok(None) => return End::Lost("the hub closed the connection".into()),
            Ok(Some(Err(e))) => return End::Lost(describe(&e)),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                let Some(event) = StreamEvent::parse(text.as_str()) else {
                    tracing::warn!("hub stream: ignored a message that is not an event");
                    continue;
                };
                // The notice carries the id asked for (not a new one): never skipped.
                if let enlace_hub_api::HubEvent::StreamTruncated(notice) = &event.event {
                    let oldest_available = notice.oldest_available;
                    tracing::info!(
                        ?oldest_available,
                        "hub stream: events were pruned before we read them"
                    );
                    if tx
                        .send(HubEvent::Truncated { oldest_available })
                        .await
                        .is_err()
                    {
                        return End::Stopped;
                    }
                    continue;
                }
                if event.id <= last.load(Ordering::SeqCst) {
                    continue;
                }
                last.store(event.id, Ordering::SeqCst);
                if tx.send(HubEvent::Event(event)).await.is_err() {
                    return End::Stopped;
                }
            }
            // tungstenite queues the pong; flushing sends it now.
            Message::Ping(_) => {
                if let Err(e) = ws.flush().await {
                    return End::Lost(describe(&e));
                }
            }
            Message::Close(frame) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                if code == CLOSE_SESSION_ENDED {
                    return End::SessionEnded;
                }
                return End::Lost(if reason.is_empty() {
                    format!("the hub closed the stream ({code})")
                } else {
                    format!("the hub closed the stream ({code}: {reason})")
                });
            }
            Message::Binary(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

fn describe(e: &WsError) -> String {
    match e {
        WsError::Io(io) => format!("network error: {}", io.kind()),
        WsError::Tls(tls) => format!("TLS error: {tls}"),
        WsError::ConnectionClosed | WsError::AlreadyClosed => "the connection closed".into(),
        other => other.to_string(),
    }
}
