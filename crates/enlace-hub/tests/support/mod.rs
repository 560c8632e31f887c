//! What the hub's integration tests share: a raw HTTP/1.1 client (we see the raw reply), a
//! WebSocket stream client, waiting helpers, and the `enlace-hub` binary.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub const WAIT: Duration = Duration::from_secs(15);

pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: Value,
}

/// One HTTP/1.1 request over a fresh connection (no client library: we see the raw reply).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    http_on(stream, addr, method, path, token, body).await
}

/// The same over any connected stream (plain or TLS).
pub async fn http_on<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Reply {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    if let Some(b) = body {
        // The server may answer (413) and close before reading everything.
        let _ = stream.write_all(b).await;
    }
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("reply in time");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        headers: headers.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

pub async fn post(addr: SocketAddr, path: &str, token: Option<&str>, body: Value) -> Reply {
    http(addr, "POST", path, token, Some(body.to_string().as_bytes())).await
}

pub async fn login(addr: SocketAddr, user: &str, password: &str) -> Reply {
    post(
        addr,
        "/api/v1/sessions",
        None,
        json!({"user": user, "password": password}),
    )
    .await
}

pub async fn token(addr: SocketAddr, user: &str, password: &str) -> String {
    let r = login(addr, user, password).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["token"].as_str().unwrap().to_string()
}

pub async fn me(addr: SocketAddr, token: &str) -> Reply {
    http(addr, "GET", "/api/v1/me", Some(token), None).await
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn stream(addr: SocketAddr, token: &str, after: i64) -> Ws {
    let mut req = format!("ws://{addr}/api/v1/stream?after={after}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws
}

/// Next event, or `None` when the server closed the stream (the close code is returned in Err).
pub async fn next(ws: &mut Ws) -> Result<Value, Option<u16>> {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("stream message in time");
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

/// Reads events until one satisfies `done`; returns all read.
pub async fn until(ws: &mut Ws, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let e = next(ws).await.expect("event");
        let stop = done(&e);
        out.push(e);
        if stop {
            return out;
        }
    }
}

pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn ids(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

pub fn hub_bin(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_enlace-hub"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The binary with `input` on its standard input (e.g. for `--password-stdin`).
pub fn hub_bin_input(args: &[&str], cwd: &Path, input: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_enlace-hub"))
        .args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The binary may refuse before reading: a broken pipe is its answer, not ours.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

pub fn printed(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap()
        .to_string()
}
