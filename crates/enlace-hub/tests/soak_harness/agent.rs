//! One simulated agent: HTTP requests that survive lost replies, and a WebSocket stream that
//! resumes from its last event id after every cut, keeping every event it received (and every
//! id it received twice).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Longest an HTTP exchange may take before the client gives up (stalls are far shorter).
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// A stream silent for this long is considered dead (the hub pings far more often).
const STREAM_SILENCE: Duration = Duration::from_secs(20);

/// What came back from one HTTP request.
#[derive(Debug, Clone)]
pub enum Exchange {
    Reply {
        status: u16,
        body: Value,
    },
    /// No complete reply: refused, reset, closed or timed out. The request may or may not have
    /// been handled.
    Lost,
}

/// One request over a fresh connection (`Connection: close`), as a real client on a bad network
/// would see it.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Exchange {
    match tokio::time::timeout(HTTP_TIMEOUT, exchange(addr, method, path, token, body)).await {
        Ok(Some((status, body))) => Exchange::Reply { status, body },
        _ => Exchange::Lost,
    }
}

async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let body = body.map(Value::to_string);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = &body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    if let Some(b) = &body {
        head.push_str(b);
    }
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    // A reset after the whole reply arrived still counts as a reply: check what we have.
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let (headers, rest) = text.split_once("\r\n\r\n")?;
    let status: u16 = headers.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = headers
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    if rest.len() < length {
        return None;
    }
    let body = serde_json::from_str(&rest[..length]).unwrap_or(Value::Null);
    Some((status, body))
}

/// What one agent's stream received.
#[derive(Debug, Default)]
pub struct StreamLog {
    /// Events in the order received, each id once.
    pub events: Vec<Value>,
    /// Ids received again (or out of order) after a resume: must stay empty.
    pub duplicates: Vec<i64>,
    /// Other anomalies (a `stream_truncated` notice, an event without id).
    pub anomalies: Vec<String>,
    /// Times the stream was (re)opened.
    pub connects: u64,
    pub last_id: i64,
}

/// An agent's stream log and its current session token (a new one after each login).
#[derive(Debug, Default)]
pub struct SharedLog(Mutex<StreamLog>, Mutex<String>);

impl SharedLog {
    pub fn token(&self) -> String {
        self.1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_token(&self, token: &str) {
        *self
            .1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token.to_owned();
    }

    pub fn lock(&self) -> MutexGuard<'_, StreamLog> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self, event: Value) {
        let mut log = self.lock();
        let Some(id) = event["id"].as_i64() else {
            log.anomalies.push(format!("event without id: {event}"));
            return;
        };
        if event["type"] == "stream_truncated" {
            log.anomalies.push(format!("stream truncated: {event}"));
            return;
        }
        if id <= log.last_id {
            log.duplicates.push(id);
            return;
        }
        log.last_id = id;
        log.events.push(event);
    }
}

/// Keeps the agent's stream open through `addr` until `stop` turns true, resuming after the
/// last id received every time it is cut, with the agent's current token.
pub async fn follow_stream(
    addr: SocketAddr,
    log: Arc<SharedLog>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let after = log.lock().last_id;
        let token = log.token();
        let connected = tokio::select! {
            c = connect(addr, &token, after) => c,
            _ = stop.changed() => return,
        };
        let Some(mut ws) = connected else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                _ = stop.changed() => return,
            }
        };
        log.lock().connects += 1;
        loop {
            let next = tokio::select! {
                n = tokio::time::timeout(STREAM_SILENCE, ws.next()) => n,
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    return;
                }
            };
            match next {
                Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str::<Value>(&text) {
                    Ok(event) => log.take(event),
                    Err(e) => log.lock().anomalies.push(format!("bad event: {e}")),
                },
                // Pongs are queued by tungstenite; make sure they leave now.
                Ok(Some(Ok(Message::Ping(_)))) => {
                    if ws.flush().await.is_err() {
                        break;
                    }
                }
                Ok(Some(Ok(_))) => {}
                // Closed, reset, or silent for too long: reconnect.
                Ok(Some(Err(_))) | Ok(None) | Err(_) => break,
            }
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: SocketAddr, token: &str, after: i64) -> Option<Ws> {
    let mut req = format!("ws://{addr}/api/v1/stream?after={after}")
        .into_client_request()
        .ok()?;
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().ok()?);
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(req),
    )
    .await
    .ok()?
    .ok()?;
    Some(ws)
}

/// `{"state":"paused","reason":id}` or `{"state":"available"}`.
pub fn state_body(reason: Option<i64>) -> Value {
    match reason {
        Some(id) => json!({"state": "paused", "reason": id}),
        None => json!({"state": "available"}),
    }
}
