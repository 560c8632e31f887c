//! The baresip line: a ctrl_tcp client (netstring-framed JSON over TCP).
//!
//! One task owns the connection. It reads frames, routes responses to the waiting command by
//! `token` (events may arrive before the response), feeds call events to the
//! [`CallTracker`] and emits [`LineEvent`]s. When the connection drops (baresip exited, another
//! client took the single ctrl_tcp slot, a framing error) every open call ends as
//! [`EndReason::LineLost`] and the task reconnects with exponential back-off.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use enlace_core::{Clock, DialTarget, EndReason};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Mutex};
use tokio::task::JoinHandle;

use crate::calls::{CallIdSource, CallTracker};
use crate::error::{check_dial_string, LineError};
use crate::netstring::{self, Decoder};
use crate::protocol::{command_json, parse_message, Message, Response};
use crate::{LineEvent, LineStatus};

/// Settings of a baresip line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaresipConfig {
    /// baresip's `ctrl_tcp_listen` address.
    pub ctrl_addr: SocketAddr,
    /// `host[:port]` numbers are sent to: `sip:<number>@<sip_domain>`. Empty: the bare number
    /// is dialed and baresip completes it with the account's domain (registrar setups).
    pub sip_domain: String,
}

/// Timeouts and back-off of the ctrl_tcp client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How long a command may wait for its response.
    pub command: Duration,
    /// How long one connection attempt may take.
    pub connect: Duration,
    /// First reconnect delay; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            command: Duration::from_secs(2),
            connect: Duration::from_secs(2),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// A connection that lived this long resets the back-off.
const HEALTHY_AFTER: Duration = Duration::from_secs(2);
const READ_BUFFER: usize = 16 * 1024;

type Reply = oneshot::Sender<Result<Response, LineError>>;

/// What the caller intends before sending commands (updates the tracker, checks the call).
#[derive(Debug)]
enum Intent {
    Dial,
    DialFailed,
    Use(String),
    End(String),
}

#[derive(Debug)]
enum Request {
    Exec {
        command: &'static str,
        params: Option<String>,
        reply: Reply,
    },
    Prepare {
        intent: Intent,
        reply: oneshot::Sender<Result<(), LineError>>,
    },
    Shutdown,
}

/// A phone line driven through baresip's ctrl_tcp.
#[derive(Debug)]
pub struct BaresipLine {
    config: BaresipConfig,
    timings: Timings,
    requests: mpsc::Sender<Request>,
    status: watch::Receiver<LineStatus>,
    /// Serializes multi-command operations (`callfind` + `accept`).
    ops: Mutex<()>,
    task: Option<JoinHandle<()>>,
}

impl BaresipLine {
    /// Starts the connection task (must run inside a Tokio runtime). Events go to `events`.
    pub fn start(
        config: BaresipConfig,
        timings: Timings,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn CallIdSource>,
        events: mpsc::Sender<LineEvent>,
    ) -> BaresipLine {
        let (req_tx, req_rx) = mpsc::channel(64);
        let (status_tx, status_rx) = watch::channel(LineStatus::Connecting);
        let actor = Actor {
            addr: config.ctrl_addr,
            timings,
            requests: req_rx,
            events,
            status: status_tx,
            tracker: CallTracker::new(clock, ids),
            next_token: 0,
        };
        let task = tokio::spawn(actor.run());
        BaresipLine {
            config,
            timings,
            requests: req_tx,
            status: status_rx,
            ops: Mutex::new(()),
            task: Some(task),
        }
    }

    pub fn config(&self) -> &BaresipConfig {
        &self.config
    }

    pub fn status(&self) -> LineStatus {
        self.status.borrow().clone()
    }

    /// The `dial` parameter for a target: `sip:<dial string>@<sip_domain>`.
    pub fn dial_uri(&self, target: &DialTarget) -> Result<String, LineError> {
        dial_uri(target.dial_string(), &self.config.sip_domain)
    }

    /// Dials. `Ok` means baresip accepted the command; the call's progress arrives as
    /// [`LineEvent::Call`].
    pub async fn dial(&self, target: &DialTarget) -> Result<(), LineError> {
        let uri = self.dial_uri(target)?;
        let _op = self.ops.lock().await;
        self.prepare(Intent::Dial).await?;
        let result = self
            .exec("dial", Some(uri))
            .await
            .and_then(|r| refused("dial", r));
        if result.is_err() {
            let _ = self.prepare(Intent::DialFailed).await;
        }
        result
    }

    /// Answers a ringing incoming call (`callfind <id>`, then `accept`).
    pub async fn answer(&self, line_call_id: &str) -> Result<(), LineError> {
        let _op = self.ops.lock().await;
        self.prepare(Intent::Use(line_call_id.to_owned())).await?;
        self.select_call(line_call_id).await?;
        self.exec("accept", None)
            .await
            .and_then(|r| refused("accept", r))
    }

    /// Rejects a ringing incoming call (baresip sends 486), or hangs up any other call.
    pub async fn reject(&self, line_call_id: &str) -> Result<(), LineError> {
        self.hangup(line_call_id).await
    }

    /// Hangs up a call (`callfind <id>`, then `hangup`): BYE if answered, CANCEL if it rings
    /// out, 486 if it rings in.
    pub async fn hangup(&self, line_call_id: &str) -> Result<(), LineError> {
        let _op = self.ops.lock().await;
        self.prepare(Intent::End(line_call_id.to_owned())).await?;
        self.select_call(line_call_id).await?;
        self.exec("hangup", None)
            .await
            .and_then(|r| refused("hangup", r))
    }

    /// Stops the task. Open calls are reported ended as [`EndReason::LineLost`].
    pub async fn shutdown(mut self) {
        let _ = self.requests.send(Request::Shutdown).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    async fn select_call(&self, line_call_id: &str) -> Result<(), LineError> {
        let resp = self.exec("callfind", Some(line_call_id.to_owned())).await?;
        if resp.data.contains("not found") {
            return Err(LineError::NoActiveCall(line_call_id.to_owned()));
        }
        refused("callfind", resp)
    }

    async fn prepare(&self, intent: Intent) -> Result<(), LineError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Prepare { intent, reply: tx })
            .await
            .map_err(|_| LineError::Offline("the line was shut down".into()))?;
        rx.await
            .map_err(|_| LineError::Offline("the line was shut down".into()))?
    }

    /// Sends one command and waits for its response (by token) at most `timings.command`.
    async fn exec(
        &self,
        command: &'static str,
        params: Option<String>,
    ) -> Result<Response, LineError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Exec {
                command,
                params,
                reply: tx,
            })
            .await
            .map_err(|_| LineError::Offline("the line was shut down".into()))?;
        match tokio::time::timeout(self.timings.command, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(LineError::Offline("connection lost".into())),
            Err(_) => Err(LineError::Timeout {
                command: command.to_owned(),
            }),
        }
    }
}

impl Drop for BaresipLine {
    fn drop(&mut self) {
        // Without `shutdown`, the task ends when the request channel closes; make sure.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn refused(command: &str, resp: Response) -> Result<(), LineError> {
    if resp.ok {
        Ok(())
    } else {
        Err(LineError::Refused {
            command: command.to_owned(),
            detail: resp.data.trim().to_owned(),
        })
    }
}

/// `sip:<dial>@<domain>` (`#` percent-encoded), or the bare dial string without a domain.
pub(crate) fn dial_uri(dial: &str, sip_domain: &str) -> Result<String, LineError> {
    check_dial_string(dial)?;
    let domain = sip_domain.trim();
    let domain_ok = domain
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c));
    if !domain_ok {
        return Err(LineError::InvalidSetting(format!("SIP domain {domain:?}")));
    }
    let user = dial.replace('#', "%23");
    if domain.is_empty() {
        Ok(user)
    } else {
        Ok(format!("sip:{user}@{domain}"))
    }
}

enum SessionEnd {
    Shutdown,
    Lost(String),
}

struct Actor {
    addr: SocketAddr,
    timings: Timings,
    requests: mpsc::Receiver<Request>,
    events: mpsc::Sender<LineEvent>,
    status: watch::Sender<LineStatus>,
    tracker: CallTracker,
    next_token: u64,
}

impl Actor {
    async fn run(mut self) {
        let mut backoff = self.timings.backoff_min;
        self.emit_status(LineStatus::Connecting).await;
        loop {
            let attempt = tokio::time::timeout(self.timings.connect, TcpStream::connect(self.addr));
            let end = match attempt.await {
                Ok(Ok(stream)) => {
                    let started = Instant::now();
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!("TCP_NODELAY: {e}");
                    }
                    quickack(&stream);
                    self.emit_status(LineStatus::Online).await;
                    let end = self.session(stream).await;
                    for record in self.tracker.close_all(EndReason::LineLost) {
                        self.emit(LineEvent::Call(record)).await;
                    }
                    if started.elapsed() >= HEALTHY_AFTER {
                        backoff = self.timings.backoff_min;
                    }
                    end
                }
                Ok(Err(e)) => SessionEnd::Lost(format!("cannot connect to {}: {e}", self.addr)),
                Err(_) => SessionEnd::Lost(format!("cannot connect to {}: timed out", self.addr)),
            };
            match end {
                SessionEnd::Shutdown => break,
                SessionEnd::Lost(reason) => {
                    tracing::info!(addr = %self.addr, "baresip line down: {reason}");
                    self.emit_status(LineStatus::Offline { reason }).await;
                }
            }
            if !self.wait_offline(backoff).await {
                break;
            }
            backoff = (backoff * 2).min(self.timings.backoff_max);
        }
        for record in self.tracker.close_all(EndReason::LineLost) {
            self.emit(LineEvent::Call(record)).await;
        }
        self.emit_status(LineStatus::Offline {
            reason: "shut down".into(),
        })
        .await;
    }

    /// Sleeps `delay` while answering requests with "offline". `false` on shutdown.
    async fn wait_offline(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                req = self.requests.recv() => match req {
                    None | Some(Request::Shutdown) => return false,
                    Some(Request::Exec { reply, .. }) => {
                        let _ = reply.send(Err(self.offline_error()));
                    }
                    Some(Request::Prepare { reply, .. }) => {
                        let _ = reply.send(Err(self.offline_error()));
                    }
                },
            }
        }
    }

    fn offline_error(&self) -> LineError {
        match &*self.status.borrow() {
            LineStatus::Offline { reason } => LineError::Offline(reason.clone()),
            _ => LineError::Offline("not connected".into()),
        }
    }

    async fn session(&mut self, mut stream: TcpStream) -> SessionEnd {
        let mut decoder = Decoder::default();
        let mut pending: HashMap<String, Reply> = HashMap::new();
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => {
                    let n = match read {
                        Ok(0) => return SessionEnd::Lost("connection closed by baresip".into()),
                        Ok(n) => n,
                        Err(e) => return SessionEnd::Lost(format!("read error: {e}")),
                    };
                    quickack(&stream);
                    decoder.push(&buf[..n]);
                    loop {
                        match decoder.next_frame() {
                            Ok(Some(frame)) => self.on_frame(&frame, &mut pending).await,
                            Ok(None) => break,
                            Err(e) => return SessionEnd::Lost(format!("protocol error: {e}")),
                        }
                    }
                }
                req = self.requests.recv() => match req {
                    None | Some(Request::Shutdown) => return SessionEnd::Shutdown,
                    Some(Request::Prepare { intent, reply }) => {
                        let _ = reply.send(self.prepare(intent));
                    }
                    Some(Request::Exec { command, params, reply }) => {
                        self.next_token += 1;
                        let token = format!("enlace-{}", self.next_token);
                        let json = command_json(command, params.as_deref(), &token);
                        pending.retain(|_, waiting| !waiting.is_closed());
                        if let Err(e) = stream.write_all(&netstring::encode(&json)).await {
                            let _ = reply.send(Err(LineError::Offline(format!("write error: {e}"))));
                            return SessionEnd::Lost(format!("write error: {e}"));
                        }
                        pending.insert(token, reply);
                    }
                },
            }
        }
    }

    fn prepare(&mut self, intent: Intent) -> Result<(), LineError> {
        match intent {
            Intent::Dial => self.tracker.note_dial(),
            Intent::DialFailed => self.tracker.clear_dial(),
            Intent::Use(id) => {
                if !self.tracker.is_open(&id) {
                    return Err(LineError::NoActiveCall(id));
                }
            }
            Intent::End(id) => {
                if !self.tracker.note_local_end(&id) {
                    return Err(LineError::NoActiveCall(id));
                }
            }
        }
        Ok(())
    }

    async fn on_frame(&mut self, frame: &[u8], pending: &mut HashMap<String, Reply>) {
        match parse_message(frame) {
            Message::Response(resp) => {
                let waiting = resp.token.as_ref().and_then(|t| pending.remove(t));
                match waiting {
                    Some(reply) => {
                        let _ = reply.send(Ok(resp));
                    }
                    None => tracing::debug!("response nobody waits for: {resp:?}"),
                }
            }
            Message::Event(event) => {
                if let Some(record) = self.tracker.on_event(&event) {
                    self.emit(LineEvent::Call(record)).await;
                }
            }
            Message::Other => {
                tracing::debug!("ignored frame: {}", String::from_utf8_lossy(frame));
            }
        }
    }

    async fn emit(&self, event: LineEvent) {
        // The app may have dropped its receiver; the line keeps working.
        let _ = self.events.send(event).await;
    }

    async fn emit_status(&self, status: LineStatus) {
        if *self.status.borrow() == status {
            return;
        }
        self.status.send_replace(status.clone());
        self.emit(LineEvent::Status(status)).await;
    }
}

/// Re-arms TCP_QUICKACK so baresip's Nagle-delayed frames are ACKed at once (Linux only;
/// see telephony-peers.md §13).
fn quickack(stream: &TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        if let Err(e) = socket2::SockRef::from(stream).set_tcp_quickack(true) {
            tracing::debug!("TCP_QUICKACK: {e}");
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = stream;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_uris() {
        assert_eq!(
            dial_uri("+50640004000", "127.0.0.1:5072").unwrap(),
            "sip:+50640004000@127.0.0.1:5072"
        );
        assert_eq!(
            dial_uri("4000", "pbx.example.com").unwrap(),
            "sip:4000@pbx.example.com"
        );
        assert_eq!(dial_uri("*72#", "h").unwrap(), "sip:*72%23@h");
        assert_eq!(dial_uri("4000", "").unwrap(), "4000");
        assert!(matches!(
            dial_uri("4000", "h;x=1"),
            Err(LineError::InvalidSetting(_))
        ));
        assert!(matches!(
            dial_uri("40 00", "h"),
            Err(LineError::InvalidTarget(_))
        ));
    }
}
