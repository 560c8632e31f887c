//! The tokio AMI client: one supervised manager connection with login, keep-alive, ActionID
//! correlation, list collection, time-outs and reconnection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{interval_at, sleep, timeout, Instant};

use crate::error::AmiError;
use crate::packet::{Decoder, Frame, Packet};

/// Reconnection delays while an outage is young (a PBX restart): between these two, with
/// jitter, so the link is back within about a second of the PBX accepting connections again.
pub const FAST_RETRY: (Duration, Duration) =
    (Duration::from_millis(200), Duration::from_millis(700));
/// How long an outage is retried at the [`FAST_RETRY`] pace before backing off.
pub const FAST_WINDOW: Duration = Duration::from_secs(60);
/// First delay once backing off; doubles on every failure up to [`MAX_BACKOFF`] (with jitter).
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Longest reconnection delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The wait before the next connection attempt, `outage` into an outage, after `slow_failures`
/// failures past [`FAST_WINDOW`], with `jitter` in `[0, 1)`: [`FAST_RETRY`] while the outage is
/// young; then exponential from [`INITIAL_BACKOFF`] to [`MAX_BACKOFF`], each delay between half
/// and all of its step so that many clients do not retry in step. Pure, so it is unit-tested.
pub fn retry_delay(outage: Duration, slow_failures: u32, jitter: f64) -> Duration {
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if outage < FAST_WINDOW {
        let (low, high) = FAST_RETRY;
        return low + (high - low).mul_f64(jitter);
    }
    let step = INITIAL_BACKOFF
        .saturating_mul(1u32 << slow_failures.min(16))
        .min(MAX_BACKOFF);
    step / 2 + (step / 2).mul_f64(jitter)
}

/// A number in `[0, 1)` that differs between calls and processes (no RNG dependency: the
/// standard library's randomly keyed hasher).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}
/// Capacity of the [`AmiEvent`] channel. The connection waits (back-pressure) when it is full,
/// so consume events on a task that does not itself wait for actions of the same client.
pub const EVENT_CAPACITY: usize = 4096;

/// Where and how to log in. `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct AmiConfig {
    /// `host:port`, usually port 5038.
    pub addr: String,
    /// manager.conf user.
    pub username: String,
    /// manager.conf secret.
    pub secret: String,
    /// Interval between keep-alive `Ping`s; a Ping unanswered by the next tick drops the link.
    pub keepalive: Duration,
    /// Time-out of connect, login and each action.
    pub action_timeout: Duration,
}

impl std::fmt::Debug for AmiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmiConfig")
            .field("addr", &self.addr)
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .field("keepalive", &self.keepalive)
            .field("action_timeout", &self.action_timeout)
            .finish()
    }
}

impl AmiConfig {
    /// A config with `keepalive` 20 s and `action_timeout` 10 s.
    pub fn new(
        addr: impl Into<String>,
        username: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        Self {
            addr: addr.into(),
            username: username.into(),
            secret: secret.into(),
            keepalive: Duration::from_secs(20),
            action_timeout: Duration::from_secs(10),
        }
    }
}

/// What the connection reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmiEvent {
    /// Logged in (again); `version` comes from the banner.
    Connected {
        /// AMI version, e.g. `11.0.0`.
        version: String,
    },
    /// The connection is down (or a connection attempt failed); reconnection continues.
    Disconnected {
        /// Human-readable cause.
        reason: String,
    },
    /// An unsolicited event (also `OriginateResponse`); list items of our own list actions are
    /// returned by [`AmiClient::list`] instead.
    Event(Packet),
}

/// A click-to-dial: ring `channel` (the agent) and, once it answers, send it to
/// `context`/`exten`/`priority`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originate {
    /// First leg, e.g. `PJSIP/1001` or `Local/1001@agents`.
    pub channel: String,
    /// Dialplan context of the second step.
    pub context: String,
    /// Number to call.
    pub exten: String,
    /// Usually `1`.
    pub priority: String,
    /// e.g. `"Click to call" <5551234>`.
    pub caller_id: Option<String>,
    /// How long the first leg may ring.
    pub timeout: Duration,
    /// Channel variables (`Variable: k=v`).
    pub variables: Vec<(String, String)>,
}

/// Result of an Originate, from `OriginateResponse` `Reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginateOutcome {
    /// Reason 4.
    Answered,
    /// Reason 3 (still ringing at the time-out) or 8.
    NoAnswer,
    /// Reason 5.
    Busy,
    /// Anything else.
    Failed {
        /// Short explanation, e.g. `failed`, `hung up`, `reason 7`.
        reason: String,
    },
}

impl OriginateOutcome {
    /// Maps an `OriginateResponse` packet (its `Reason` field, api-facts D4).
    pub fn from_response(packet: &Packet) -> Self {
        match packet
            .get("Reason")
            .and_then(|r| r.trim().parse::<u32>().ok())
        {
            Some(4) => OriginateOutcome::Answered,
            Some(5) => OriginateOutcome::Busy,
            Some(3) | Some(8) => OriginateOutcome::NoAnswer,
            Some(0) => OriginateOutcome::Failed {
                reason: "failed".into(),
            },
            Some(1) => OriginateOutcome::Failed {
                reason: "hung up".into(),
            },
            Some(n) => OriginateOutcome::Failed {
                reason: format!("reason {n}"),
            },
            None => OriginateOutcome::Failed {
                reason: "missing Reason".into(),
            },
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, AmiError>>;

#[derive(Debug)]
enum Kind {
    Single(Reply<Packet>),
    List(Reply<Vec<Packet>>),
    Originate(Reply<Packet>),
}

impl Kind {
    fn fail(self, err: AmiError) {
        // The caller may have given up (time-out); nothing to do then.
        match self {
            Kind::Single(tx) | Kind::Originate(tx) => {
                let _ = tx.send(Err(err));
            }
            Kind::List(tx) => {
                let _ = tx.send(Err(err));
            }
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Kind::Single(tx) | Kind::Originate(tx) => tx.is_closed(),
            Kind::List(tx) => tx.is_closed(),
        }
    }
}

#[derive(Debug)]
struct Command {
    id: String,
    packet: Packet,
    kind: Kind,
}

#[derive(Debug)]
struct Pending {
    kind: Kind,
    items: Vec<Packet>,
}

#[derive(Debug)]
struct Inner {
    cmd_tx: mpsc::UnboundedSender<Command>,
    next_id: AtomicU64,
    prefix: String,
    action_timeout: Duration,
    shutdown_tx: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Handle to one supervised AMI connection. Cheap to clone; every clone talks to the same link.
#[derive(Debug, Clone)]
pub struct AmiClient {
    inner: Arc<Inner>,
}

static CLIENT_SEQ: AtomicU64 = AtomicU64::new(1);

impl AmiClient {
    /// Starts the connection task (must be called inside a tokio runtime). It connects, logs in
    /// with `Events: on`, pings every `keepalive` and reconnects: fast at first (every
    /// [`FAST_RETRY`] during the first [`FAST_WINDOW`] of an outage, so a restarted PBX is
    /// back within about a second), then with jittered exponential back-off up to
    /// [`MAX_BACKOFF`] ([`retry_delay`]), until [`AmiClient::shutdown`] or until every clone
    /// is dropped.
    pub fn start(config: AmiConfig) -> (AmiClient, mpsc::Receiver<AmiEvent>) {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let prefix = format!(
            "enlace-{}-{}-",
            std::process::id(),
            CLIENT_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let action_timeout = config.action_timeout;
        let supervisor = Supervisor {
            config,
            prefix: prefix.clone(),
            cmd_rx,
            events_tx,
            shutdown_rx,
            login_seq: 0,
        };
        let task = tokio::spawn(supervisor.run());
        let client = AmiClient {
            inner: Arc::new(Inner {
                cmd_tx,
                next_id: AtomicU64::new(1),
                prefix,
                action_timeout,
                shutdown_tx,
                task: Mutex::new(Some(task)),
            }),
        };
        (client, events_rx)
    }

    fn build(&self, action: &str, fields: &[(&str, &str)]) -> (String, Packet) {
        let id = format!(
            "{}{}",
            self.inner.prefix,
            self.inner.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let mut packet = Packet::new().with("Action", action).with("ActionID", &id);
        for (k, v) in fields {
            if k.eq_ignore_ascii_case("ActionID") || k.eq_ignore_ascii_case("Action") {
                continue;
            }
            packet.push(*k, *v);
        }
        (id, packet)
    }

    fn submit(&self, id: String, packet: Packet, kind: Kind) -> Result<(), AmiError> {
        self.inner
            .cmd_tx
            .send(Command { id, packet, kind })
            .map_err(|_| AmiError::offline("client stopped"))
    }

    async fn wait<T>(
        action: &str,
        limit: Duration,
        rx: oneshot::Receiver<Result<T, AmiError>>,
    ) -> Result<T, AmiError> {
        match timeout(limit, rx).await {
            Err(_) => Err(AmiError::Timeout {
                action: action.to_string(),
            }),
            Ok(Err(_)) => Err(AmiError::offline("client stopped")),
            Ok(Ok(result)) => result,
        }
    }

    /// Sends an action with a generated `ActionID` and waits for its `Response`.
    /// `Response: Error` becomes [`AmiError::Refused`].
    pub async fn action(&self, action: &str, fields: &[(&str, &str)]) -> Result<Packet, AmiError> {
        let (id, packet) = self.build(action, fields);
        let (tx, rx) = oneshot::channel();
        self.submit(id, packet, Kind::Single(tx))?;
        Self::wait(action, self.inner.action_timeout, rx).await
    }

    /// Sends a list action (QueueStatus, Status, …) and collects the events carrying its
    /// `ActionID` until `EventList: Complete` (or an event named `…Complete`).
    pub async fn list(
        &self,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Result<Vec<Packet>, AmiError> {
        let (id, packet) = self.build(action, fields);
        let (tx, rx) = oneshot::channel();
        self.submit(id, packet, Kind::List(tx))?;
        Self::wait(action, self.inner.action_timeout, rx).await
    }

    /// Async Originate; waits for the `OriginateResponse` with our ActionID.
    pub async fn originate(&self, o: &Originate) -> Result<OriginateOutcome, AmiError> {
        let timeout_ms = o.timeout.as_millis().to_string();
        let variables: Vec<String> = o
            .variables
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut fields: Vec<(&str, &str)> = vec![
            ("Channel", &o.channel),
            ("Context", &o.context),
            ("Exten", &o.exten),
            ("Priority", &o.priority),
        ];
        if let Some(cid) = &o.caller_id {
            fields.push(("CallerID", cid));
        }
        fields.push(("Timeout", &timeout_ms));
        for v in &variables {
            fields.push(("Variable", v));
        }
        fields.push(("Async", "true"));
        let (id, packet) = self.build("Originate", &fields);
        let (tx, rx) = oneshot::channel();
        self.submit(id, packet, Kind::Originate(tx))?;
        let limit = o.timeout + self.inner.action_timeout * 2;
        let response = Self::wait("Originate", limit, rx).await?;
        Ok(OriginateOutcome::from_response(&response))
    }

    /// `QueueAdd` (unpaused, penalty 0). "Already there" counts as success.
    pub async fn queue_add(
        &self,
        queue: &str,
        interface: &str,
        member_name: &str,
    ) -> Result<(), AmiError> {
        let result = self
            .action(
                "QueueAdd",
                &[
                    ("Queue", queue),
                    ("Interface", interface),
                    ("Penalty", "0"),
                    ("Paused", "false"),
                    ("MemberName", member_name),
                ],
            )
            .await;
        tolerate(result, "Already there")
    }

    /// `QueueRemove`. "Not there" counts as success.
    pub async fn queue_remove(&self, queue: &str, interface: &str) -> Result<(), AmiError> {
        let result = self
            .action("QueueRemove", &[("Queue", queue), ("Interface", interface)])
            .await;
        tolerate(result, "Not there")
    }

    /// `QueuePause` with `Paused: true|false`, optional `Reason` and optional `Queue`
    /// (omitted = every queue).
    pub async fn queue_pause(
        &self,
        interface: &str,
        paused: bool,
        reason: Option<&str>,
        queue: Option<&str>,
    ) -> Result<(), AmiError> {
        let mut fields = vec![
            ("Interface", interface),
            ("Paused", if paused { "true" } else { "false" }),
        ];
        if let Some(q) = queue {
            fields.push(("Queue", q));
        }
        if let Some(r) = reason {
            fields.push(("Reason", r));
        }
        self.action("QueuePause", &fields).await.map(|_| ())
    }

    /// Sends `Logoff`, closes the connection and stops reconnecting. Pending actions fail with
    /// `ami_offline`; the event channel closes. Idempotent.
    pub async fn shutdown(&self) {
        self.inner.shutdown_tx.send_replace(true);
        let task = match self.inner.task.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

fn tolerate(result: Result<Packet, AmiError>, benign: &str) -> Result<(), AmiError> {
    match result {
        Ok(_) => Ok(()),
        Err(AmiError::Refused { message }) if message.contains(benign) => Ok(()),
        Err(e) => Err(e),
    }
}

fn refused(packet: &Packet) -> AmiError {
    AmiError::Refused {
        message: packet.get("Message").unwrap_or("error").to_string(),
    }
}

fn is_error(packet: &Packet) -> bool {
    packet
        .response()
        .is_some_and(|r| r.eq_ignore_ascii_case("Error"))
}

enum End {
    Shutdown,
    Lost(String),
}

struct Link {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    decoder: Decoder,
    leftover: Vec<Packet>,
    version: String,
}

struct Supervisor {
    config: AmiConfig,
    prefix: String,
    cmd_rx: mpsc::UnboundedReceiver<Command>,
    events_tx: mpsc::Sender<AmiEvent>,
    shutdown_rx: watch::Receiver<bool>,
    login_seq: u64,
}

impl Supervisor {
    async fn emit(&self, event: AmiEvent) {
        // A dropped receiver just means nobody listens.
        let _ = self.events_tx.send(event).await;
    }

    async fn run(mut self) {
        // When the current outage began (None while connected or before the first attempt).
        let mut down_since: Option<Instant> = None;
        let mut slow_failures: u32 = 0;
        let mut reported_down = false;
        loop {
            if *self.shutdown_rx.borrow() {
                break;
            }
            self.login_seq += 1;
            let login_id = format!("{}login-{}", self.prefix, self.login_seq);
            let config = self.config.clone();
            let attempt = connect_and_login(config, login_id);
            tokio::pin!(attempt);
            let outcome = loop {
                tokio::select! {
                    r = &mut attempt => break Some(r),
                    cmd = self.cmd_rx.recv() => match cmd {
                        Some(c) => c.kind.fail(AmiError::offline("not connected to Asterisk")),
                        None => break None,
                    },
                    changed = self.shutdown_rx.changed() => {
                        if changed.is_err() || *self.shutdown_rx.borrow() {
                            break None;
                        }
                    }
                }
            };
            let mut refused = false;
            match outcome {
                None => break,
                Some(Ok(link)) => {
                    slow_failures = 0;
                    tracing::info!(addr = %self.config.addr, version = %link.version, "AMI connected");
                    self.emit(AmiEvent::Connected {
                        version: link.version.clone(),
                    })
                    .await;
                    match self.session(link).await {
                        End::Shutdown => break,
                        End::Lost(reason) => {
                            tracing::warn!(%reason, "AMI connection lost");
                            reported_down = true;
                            self.emit(AmiEvent::Disconnected { reason }).await;
                            down_since = Some(Instant::now());
                        }
                    }
                }
                Some(Err(err)) => {
                    tracing::warn!(error = %err, "AMI connection attempt failed");
                    // The PBX refused our login: retrying fast would only hammer it.
                    refused = matches!(err, AmiError::Auth { .. });
                    if !reported_down {
                        reported_down = true;
                        self.emit(AmiEvent::Disconnected {
                            reason: err.to_string(),
                        })
                        .await;
                    }
                }
            }
            let mut outage = down_since.get_or_insert_with(Instant::now).elapsed();
            if refused {
                outage = outage.max(FAST_WINDOW);
            }
            if outage >= FAST_WINDOW {
                slow_failures = slow_failures.saturating_add(1);
            }
            if !self
                .pause(retry_delay(
                    outage,
                    slow_failures.saturating_sub(1),
                    jitter(),
                ))
                .await
            {
                break;
            }
        }
        self.cmd_rx.close();
        while let Ok(c) = self.cmd_rx.try_recv() {
            c.kind.fail(AmiError::offline("client stopped"));
        }
    }

    /// Waits `delay` while failing commands; false when shut down.
    async fn pause(&mut self, delay: Duration) -> bool {
        let deadline = sleep(delay);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return true,
                cmd = self.cmd_rx.recv() => match cmd {
                    Some(c) => c.kind.fail(AmiError::offline("not connected to Asterisk")),
                    None => return false,
                },
                changed = self.shutdown_rx.changed() => {
                    if changed.is_err() || *self.shutdown_rx.borrow() {
                        return false;
                    }
                }
            }
        }
    }

    async fn session(&mut self, link: Link) -> End {
        let Link {
            mut rd,
            mut wr,
            mut decoder,
            leftover,
            ..
        } = link;
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let mut ping_outstanding: Option<String> = None;
        let mut ping_seq: u64 = 0;
        let keepalive = self.config.keepalive.max(Duration::from_millis(10));
        let mut ticker = interval_at(Instant::now() + keepalive, keepalive);
        let mut buf = vec![0u8; 16 * 1024];
        for packet in leftover {
            if let Some(ev) = dispatch(packet, &mut pending, &mut ping_outstanding) {
                self.emit(AmiEvent::Event(ev)).await;
            }
        }
        let end = loop {
            tokio::select! {
                read = rd.read(&mut buf) => match read {
                    Ok(0) => break End::Lost("connection closed by Asterisk".into()),
                    Err(e) => break End::Lost(format!("read error: {e}")),
                    Ok(n) => {
                        for frame in decoder.push(&buf[..n]) {
                            match frame {
                                Ok(Frame::Packet(p)) => {
                                    if let Some(ev) = dispatch(p, &mut pending, &mut ping_outstanding) {
                                        self.emit(AmiEvent::Event(ev)).await;
                                    }
                                }
                                Ok(Frame::Banner { .. }) => {}
                                Err(e) => tracing::warn!(error = %e, "AMI garbage skipped"),
                            }
                        }
                    }
                },
                cmd = self.cmd_rx.recv() => match cmd {
                    None => break self.logoff(&mut rd, &mut wr, &mut decoder).await,
                    Some(c) => {
                        if let Err(e) = wr.write_all(&c.packet.to_bytes()).await {
                            let reason = format!("write error: {e}");
                            c.kind.fail(AmiError::offline(reason.clone()));
                            break End::Lost(reason);
                        }
                        pending.insert(c.id, Pending { kind: c.kind, items: Vec::new() });
                    }
                },
                _ = ticker.tick() => {
                    pending.retain(|_, p| !p.kind.is_closed());
                    if ping_outstanding.is_some() {
                        break End::Lost("keep-alive Ping unanswered".into());
                    }
                    ping_seq += 1;
                    let id = format!("{}ping-{}", self.prefix, ping_seq);
                    let ping = Packet::new().with("Action", "Ping").with("ActionID", &id);
                    if let Err(e) = wr.write_all(&ping.to_bytes()).await {
                        break End::Lost(format!("write error: {e}"));
                    }
                    ping_outstanding = Some(id);
                },
                changed = self.shutdown_rx.changed() => {
                    if changed.is_err() || *self.shutdown_rx.borrow() {
                        break self.logoff(&mut rd, &mut wr, &mut decoder).await;
                    }
                }
            }
        };
        let reason = match &end {
            End::Shutdown => "client shut down".to_string(),
            End::Lost(r) => r.clone(),
        };
        for (_, p) in pending.drain() {
            p.kind.fail(AmiError::offline(reason.clone()));
        }
        end
    }

    async fn logoff(
        &self,
        rd: &mut OwnedReadHalf,
        wr: &mut OwnedWriteHalf,
        decoder: &mut Decoder,
    ) -> End {
        let id = format!("{}logoff", self.prefix);
        let packet = Packet::new().with("Action", "Logoff").with("ActionID", &id);
        if wr.write_all(&packet.to_bytes()).await.is_ok() {
            let limit = self.config.action_timeout.min(Duration::from_secs(2));
            let wait_goodbye = async {
                let mut buf = vec![0u8; 4096];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            let done = decoder.push(&buf[..n]).into_iter().any(|f| {
                                matches!(f, Ok(Frame::Packet(ref p))
                                    if p.response().is_some() && p.action_id() == Some(id.as_str()))
                            });
                            if done {
                                return;
                            }
                        }
                    }
                }
            };
            let _ = timeout(limit, wait_goodbye).await;
        }
        let _ = wr.shutdown().await;
        End::Shutdown
    }
}

/// Routes one packet to its pending action; returns it when it must go to the event channel.
fn dispatch(
    packet: Packet,
    pending: &mut HashMap<String, Pending>,
    ping_outstanding: &mut Option<String>,
) -> Option<Packet> {
    if let Some(event) = packet.event() {
        let Some(id) = packet.action_id() else {
            return Some(packet);
        };
        let Some(entry) = pending.get_mut(id) else {
            return Some(packet);
        };
        match entry.kind {
            Kind::List(_) => {
                let list_state = packet.get("EventList");
                let complete = list_state.is_some_and(|s| s.eq_ignore_ascii_case("Complete"))
                    || (list_state.is_none() && event.ends_with("Complete"));
                let cancelled = list_state.is_some_and(|s| s.eq_ignore_ascii_case("cancelled"));
                if complete || cancelled {
                    let id = id.to_string();
                    if let Some(Pending {
                        kind: Kind::List(tx),
                        items,
                    }) = pending.remove(&id)
                    {
                        let result = if cancelled {
                            Err(AmiError::Refused {
                                message: "list cancelled".into(),
                            })
                        } else {
                            Ok(items)
                        };
                        let _ = tx.send(result);
                    }
                } else {
                    entry.items.push(packet);
                }
                None
            }
            Kind::Originate(_) if event.eq_ignore_ascii_case("OriginateResponse") => {
                let id = id.to_string();
                if let Some(Pending {
                    kind: Kind::Originate(tx),
                    ..
                }) = pending.remove(&id)
                {
                    let _ = tx.send(Ok(packet.clone()));
                }
                Some(packet)
            }
            _ => Some(packet),
        }
    } else if packet.response().is_some() {
        let id = packet.action_id()?.to_string();
        if ping_outstanding.as_deref() == Some(id.as_str()) {
            *ping_outstanding = None;
            return None;
        }
        let entry = pending.remove(&id)?;
        match entry.kind {
            Kind::Single(tx) => {
                let result = if is_error(&packet) {
                    Err(refused(&packet))
                } else {
                    Ok(packet)
                };
                let _ = tx.send(result);
            }
            kind @ (Kind::List(_) | Kind::Originate(_)) => {
                if is_error(&packet) {
                    kind.fail(refused(&packet));
                } else {
                    // Accepted; the list items / OriginateResponse follow.
                    pending.insert(id, Pending { kind, ..entry });
                }
            }
        }
        None
    } else {
        tracing::debug!("AMI packet with neither Event nor Response ignored");
        None
    }
}

async fn connect_and_login(config: AmiConfig, login_id: String) -> Result<Link, AmiError> {
    let limit = config.action_timeout;
    let stream = match timeout(limit, TcpStream::connect(&config.addr)).await {
        Err(_) => {
            return Err(AmiError::offline(format!(
                "connect to {} timed out",
                config.addr
            )))
        }
        Ok(Err(e)) => {
            return Err(AmiError::offline(format!(
                "connect to {}: {e}",
                config.addr
            )))
        }
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 16 * 1024];
    let handshake = async {
        let mut version: Option<String> = None;
        let mut sent_login = false;
        let mut leftover = Vec::new();
        let mut logged_in = false;
        loop {
            let n = rd
                .read(&mut buf)
                .await
                .map_err(|e| AmiError::offline(format!("read error: {e}")))?;
            if n == 0 {
                return Err(AmiError::offline("connection closed during login"));
            }
            for frame in decoder.push(&buf[..n]) {
                match frame {
                    Ok(Frame::Banner { version: v }) if version.is_none() => version = Some(v),
                    Ok(Frame::Banner { .. }) => {}
                    Ok(Frame::Packet(p)) if logged_in => leftover.push(p),
                    Ok(Frame::Packet(p)) => {
                        if p.event().is_none()
                            && p.response().is_some()
                            && p.action_id() == Some(login_id.as_str())
                        {
                            if is_error(&p) {
                                return Err(AmiError::Auth {
                                    message: p.get("Message").unwrap_or("error").to_string(),
                                });
                            }
                            logged_in = true;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "AMI garbage during login"),
                }
            }
            if version.is_some() && !sent_login {
                sent_login = true;
                let login = Packet::new()
                    .with("Action", "Login")
                    .with("Username", &config.username)
                    .with("Secret", &config.secret)
                    .with("Events", "on")
                    .with("ActionID", &login_id);
                wr.write_all(&login.to_bytes())
                    .await
                    .map_err(|e| AmiError::offline(format!("write error: {e}")))?;
            }
            if logged_in {
                return Ok((version.unwrap_or_default(), leftover));
            }
        }
    };
    let (version, leftover) = match timeout(limit, handshake).await {
        Err(_) => return Err(AmiError::offline("banner/login timed out")),
        Ok(r) => r?,
    };
    Ok(Link {
        rd,
        wr,
        decoder,
        leftover,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnection_is_fast_while_an_outage_is_young_then_backs_off_with_jitter() {
        let secs = Duration::from_secs;
        // A PBX restarting: whenever it comes back within the first minute, the next attempt
        // is less than a second away, whatever the jitter.
        for outage in [0, 1, 4, 8, 30, 59] {
            for jitter in [0.0, 0.5, 0.999] {
                let delay = retry_delay(secs(outage), 0, jitter);
                assert!(delay < secs(1), "{outage} s into the outage: {delay:?}");
                assert!(delay >= FAST_RETRY.0);
            }
        }
        // Still down after that: growing delays, never over the maximum, spread by jitter.
        let slow: Vec<Duration> = (0..8).map(|n| retry_delay(secs(60), n, 0.999)).collect();
        assert!(slow.windows(2).all(|w| w[0] <= w[1]), "{slow:?}");
        assert!(slow.iter().all(|d| *d <= MAX_BACKOFF));
        assert!(slow[0] >= INITIAL_BACKOFF / 2);
        assert!(retry_delay(secs(600), 7, 0.999) > secs(9));
        assert_ne!(
            retry_delay(secs(600), 7, 0.0),
            retry_delay(secs(600), 7, 0.9)
        );
        assert!(retry_delay(secs(600), 7, 0.0) >= MAX_BACKOFF / 2);
        // Garbage jitter is tamed.
        assert!(retry_delay(secs(600), 40, f64::NAN) <= MAX_BACKOFF);
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }

    #[test]
    fn originate_reasons() {
        let with = |r: &str| {
            Packet::new()
                .with("Event", "OriginateResponse")
                .with("Reason", r)
        };
        assert_eq!(
            OriginateOutcome::from_response(&with("4")),
            OriginateOutcome::Answered
        );
        assert_eq!(
            OriginateOutcome::from_response(&with("5")),
            OriginateOutcome::Busy
        );
        assert_eq!(
            OriginateOutcome::from_response(&with("3")),
            OriginateOutcome::NoAnswer
        );
        assert_eq!(
            OriginateOutcome::from_response(&with("8")),
            OriginateOutcome::NoAnswer
        );
        assert!(matches!(
            OriginateOutcome::from_response(&with("0")),
            OriginateOutcome::Failed { .. }
        ));
        assert!(matches!(
            OriginateOutcome::from_response(&Packet::new()),
            OriginateOutcome::Failed { .. }
        ));
    }

    #[test]
    fn list_collects_only_its_items_and_forwards_others() {
        let (tx, mut rx) = oneshot::channel();
        let mut pending = HashMap::new();
        pending.insert(
            "q1".to_string(),
            Pending {
                kind: Kind::List(tx),
                items: Vec::new(),
            },
        );
        let mut ping = None;
        let start = Packet::new()
            .with("Response", "Success")
            .with("ActionID", "q1")
            .with("EventList", "start");
        assert!(dispatch(start, &mut pending, &mut ping).is_none());
        let item = Packet::new()
            .with("Event", "QueueMember")
            .with("ActionID", "q1");
        assert!(dispatch(item, &mut pending, &mut ping).is_none());
        let other = Packet::new().with("Event", "Newchannel");
        assert!(dispatch(other, &mut pending, &mut ping).is_some());
        assert!(rx.try_recv().is_err());
        let done = Packet::new()
            .with("Event", "QueueStatusComplete")
            .with("ActionID", "q1")
            .with("EventList", "Complete");
        assert!(dispatch(done, &mut pending, &mut ping).is_none());
        let items = rx.try_recv().ok().and_then(|r| r.ok()).unwrap_or_default();
        assert_eq!(items.len(), 1);
        assert!(pending.is_empty());
    }
}
