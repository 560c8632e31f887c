//! The Asterisk Manager Interface double ([`AmiDouble`]): a TCP server on `127.0.0.1` (port 0)
//! that speaks like Asterisk 22 (AMI 11.0.0) byte for byte as recorded in
//! `crates/enlace-ami/tests/data/asterisk-ami-transcript.txt`, with the rules of api-facts §D.
//!
//! One thread per connection (std::net). Supported actions: Login (plain), Logoff, Ping,
//! Originate (Local channels as recorded; other technologies derived), QueueAdd, QueueRemove,
//! QueuePause, QueueStatus. Anything else gets Asterisk's "Invalid/unknown command" error.
//! Scripted calls ([`AmiDouble::run`]) send full event sequences to every logged-in connection
//! that asked for events; faults ([`AmiDouble::inject`]) drop connections or send broken bytes,
//! and [`AmiDouble::hold_replies`] makes chosen actions wait (a busy PBX) until
//! [`AmiDouble::release_replies`] while the connection goes on serving the others.
//! Cdr events come where the recorded run had them or after every Hangup, alternating per call
//! by default ([`CdrOrder`]).
//!
//! To extend: add an action as a match arm in `Conn::handle` (reply with `respond`, broadcast
//! events with `Shared::broadcast`); add a call flow as a function in `calls.rs` returning
//! [`calls::Step`]s built with the builders in `events.rs`; keep every byte what Asterisk sends
//! and mark what is derived rather than recorded.

mod calls;
mod events;
mod wire;

use std::collections::BTreeMap;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use calls::{OriginateReq, Outcome, Step};
use events::{Ids, Member, UNKNOWN};
use wire::Pkt;

/// The banner Asterisk 22 sends on connect.
pub const AMI_BANNER: &str = "Asterisk Call Manager/11.0.0\r\n";
/// The manager.conf user that exists by default.
pub const AMI_DEFAULT_USER: (&str, &str) = ("ami", "amisecret");
/// The queue that exists by default (empty, `strategy = ringall`).
pub const AMI_DEFAULT_QUEUE: &str = "support";

/// Most connections served at once; more are closed right away.
const MAX_CONNECTIONS: usize = 64;

/// What the next Originate does with its first leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginateScript {
    /// Answers; the call lasts `talk_ms` (rounded up to whole seconds in Cdr/Wait data).
    /// `OriginateResponse` with `Reason: 4`.
    Answer { talk_ms: u64 },
    /// Rings until it gives up: `Reason: 3`.
    NoAnswer,
    /// Busy: `Reason: 5`.
    Busy,
    /// No such channel: `Reason: 0`, no channel events.
    Fail,
}

impl Default for OriginateScript {
    fn default() -> Self {
        OriginateScript::Answer { talk_ms: 1000 }
    }
}

/// A scripted call whose events [`AmiDouble::run`] sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmiScenario {
    /// A trunk caller enters `queue`; the member `agent_interface` answers, talks `talk_ms`
    /// and hangs up (the transcript's queue section).
    InboundViaQueue {
        queue: String,
        caller: String,
        caller_name: String,
        agent_interface: String,
        talk_ms: u64,
    },
    /// The agent dials `number` through the trunk; it answers and they talk `talk_ms`.
    Outbound {
        agent_interface: String,
        number: String,
        talk_ms: u64,
    },
    /// The agent dials `number`; nobody answers (DialStatus NOANSWER).
    NoAnswer {
        agent_interface: String,
        number: String,
    },
    /// The agent dials `number`; it is busy (DialStatus BUSY, cause 17).
    Busy {
        agent_interface: String,
        number: String,
    },
    /// `caller` reaches the agent directly; the agent answers and blind-transfers to `to`.
    TransferAway {
        agent_interface: String,
        caller: String,
        to: String,
    },
}

/// Misbehaviour on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmiFault {
    /// Closes every client connection (like an Asterisk restart).
    DropConnections,
    /// Writes these bytes as they are to every connection.
    Garbage(Vec<u8>),
    /// Writes the first part of an event (no terminating blank line) to every connection and
    /// closes it.
    TruncatedPacket,
}

/// Where Cdr events go relative to the Hangup events of the same call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CdrOrder {
    /// First call as recorded, next one with every Cdr after the last Hangup, and so on.
    #[default]
    Alternate,
    /// As recorded (Cdr interleaved before the Hangups).
    AsRecorded,
    /// Every Cdr after the last Hangup of the call.
    AfterHangups,
}

/// The AMI double. Dropping it closes every connection, stops the listener and joins all threads.
#[derive(Debug)]
pub struct AmiDouble {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Queue {
    members: Vec<Member>,
    completed: u64,
}

#[derive(Debug)]
struct State {
    users: BTreeMap<String, String>,
    actions: Vec<Vec<(String, String)>>,
    queues: BTreeMap<String, Queue>,
    originate: OriginateScript,
    cdr_order: CdrOrder,
    calls: u64,
    /// Actions (lower-case name, optional `Interface`) whose handling is held back.
    hold: Vec<(String, Option<String>)>,
    /// Held actions, in arrival order, with the connection that sent them.
    held: Vec<(Arc<Client>, Pkt)>,
}

#[derive(Debug)]
struct Client {
    id: u64,
    writer: Mutex<TcpStream>,
    /// A clone used to shut the socket down without waiting for a writer.
    closer: TcpStream,
    logged_in: AtomicBool,
    events: AtomicBool,
}

#[derive(Debug)]
struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    state: Mutex<State>,
    clients: Mutex<Vec<Arc<Client>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    ids: Ids,
    next_client: AtomicU64,
    started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn stopped(&self) -> bool {
        *lock(&self.stop)
    }

    /// Sleeps `ms`, returning early (false) when the double stops.
    fn sleep(&self, ms: u64) -> bool {
        let deadline = Instant::now() + Duration::from_millis(ms);
        let mut stop = lock(&self.stop);
        while !*stop {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stop = match self.wake.wait_timeout(stop, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        false
    }

    fn write_to(client: &Client, bytes: &[u8]) {
        let mut w = lock(&client.writer);
        if w.write_all(bytes).and_then(|()| w.flush()).is_err() {
            let _ = w.shutdown(Shutdown::Both);
        }
    }

    /// Sends an event to every logged-in connection that wants events.
    fn broadcast(&self, pkt: &Pkt) {
        let bytes = pkt.to_bytes();
        let clients: Vec<Arc<Client>> = lock(&self.clients).clone();
        for c in clients {
            if c.logged_in.load(Ordering::SeqCst) && c.events.load(Ordering::SeqCst) {
                Shared::write_to(&c, &bytes);
            }
        }
    }

    /// Orders (Cdr placement) and sends a sequence, pausing for talk time.
    fn emit(&self, steps: Vec<Step>) {
        let cdr_first = {
            let mut st = lock(&self.state);
            let n = st.calls;
            st.calls += 1;
            match st.cdr_order {
                CdrOrder::Alternate => n & 1 == 0,
                CdrOrder::AsRecorded => true,
                CdrOrder::AfterHangups => false,
            }
        };
        for step in calls::order(steps, cdr_first) {
            match step {
                Step::Send(p) | Step::Cdr(p) => self.broadcast(&p),
                Step::Wait(ms) => {
                    if !self.sleep(ms) {
                        return;
                    }
                }
            }
        }
    }

    fn spawn(self: &Arc<Self>, name: &str, f: impl FnOnce(Arc<Shared>) + Send + 'static) {
        let shared = Arc::clone(self);
        if let Ok(h) = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || f(shared))
        {
            lock(&self.threads).push(h);
        }
    }
}

impl AmiDouble {
    /// Starts the double on `127.0.0.1:0` with user `ami`/`amisecret` and queue `support`.
    pub fn start() -> io::Result<AmiDouble> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let mut users = BTreeMap::new();
        users.insert(
            AMI_DEFAULT_USER.0.to_string(),
            AMI_DEFAULT_USER.1.to_string(),
        );
        let mut queues = BTreeMap::new();
        queues.insert(
            AMI_DEFAULT_QUEUE.to_string(),
            Queue {
                members: Vec::new(),
                completed: 0,
            },
        );
        let shared = Arc::new(Shared {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            state: Mutex::new(State {
                users,
                actions: Vec::new(),
                queues,
                originate: OriginateScript::default(),
                cdr_order: CdrOrder::default(),
                calls: 0,
                hold: Vec::new(),
                held: Vec::new(),
            }),
            clients: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            ids: Ids::default(),
            next_client: AtomicU64::new(0),
            started: Instant::now(),
        });
        let s2 = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name(format!("ami-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, s2))?;
        Ok(AmiDouble {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds (or changes) a manager.conf user.
    pub fn add_user(&self, username: &str, secret: &str) {
        lock(&self.shared.state)
            .users
            .insert(username.to_string(), secret.to_string());
    }

    /// Adds an empty queue (queues.conf); no-op when it exists.
    pub fn add_queue(&self, queue: &str) {
        lock(&self.shared.state)
            .queues
            .entry(queue.to_string())
            .or_insert(Queue {
                members: Vec::new(),
                completed: 0,
            });
    }

    /// Adds a static member (queues.conf `member =>`), which QueueRemove refuses to remove.
    pub fn add_static_member(&self, queue: &str, interface: &str, member_name: &str) {
        let mut st = lock(&self.shared.state);
        let q = st.queues.entry(queue.to_string()).or_insert(Queue {
            members: Vec::new(),
            completed: 0,
        });
        q.members.retain(|m| m.interface != interface);
        q.members.push(Member {
            interface: interface.into(),
            name: member_name.into(),
            state_interface: interface.into(),
            dynamic: false,
            penalty: 0,
            calls_taken: 0,
            last_call: 0,
            last_pause: 0,
            login_time: events::now_secs(),
            in_call: false,
            status: 1,
            paused: false,
            reason: String::new(),
        });
    }

    /// Changes a member the way a change made while no client was looking would: nothing is
    /// sent. Adds it (dynamic) to `queue` when missing, then sets its pause and reason.
    pub fn set_member_silently(
        &self,
        queue: &str,
        interface: &str,
        paused: bool,
        reason: Option<&str>,
    ) {
        let now = events::now_secs();
        let mut st = lock(&self.shared.state);
        let q = st.queues.entry(queue.to_string()).or_insert(Queue {
            members: Vec::new(),
            completed: 0,
        });
        if !q.members.iter().any(|m| m.interface == interface) {
            q.members.push(Member {
                interface: interface.into(),
                name: interface.into(),
                state_interface: interface.into(),
                dynamic: true,
                penalty: 0,
                calls_taken: 0,
                last_call: 0,
                last_pause: 0,
                login_time: now,
                in_call: false,
                status: 1,
                paused: false,
                reason: String::new(),
            });
        }
        for m in q.members.iter_mut().filter(|m| m.interface == interface) {
            m.paused = paused;
            m.reason = if paused {
                reason.unwrap_or_default().to_string()
            } else {
                String::new()
            };
            if paused {
                m.last_pause = now;
            }
        }
    }

    /// Removes a member the way a PBX restart forgets a dynamic member: nothing is sent.
    pub fn remove_member_silently(&self, queue: &str, interface: &str) {
        if let Some(q) = lock(&self.shared.state).queues.get_mut(queue) {
            q.members.retain(|m| m.interface != interface);
        }
    }

    /// Every action packet received, in order, fields as sent.
    pub fn actions(&self) -> Vec<Vec<(String, String)>> {
        lock(&self.shared.state).actions.clone()
    }

    /// Members of `queue`: (interface, paused, pause reason).
    pub fn queue_members(&self, queue: &str) -> Vec<(String, bool, Option<String>)> {
        lock(&self.shared.state)
            .queues
            .get(queue)
            .map(|q| {
                q.members
                    .iter()
                    .map(|m| {
                        let reason = (m.paused && !m.reason.is_empty()).then(|| m.reason.clone());
                        (m.interface.clone(), m.paused, reason)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the next Originate (and every one after, until changed) does.
    pub fn set_originate_outcome(&self, outcome: OriginateScript) {
        lock(&self.shared.state).originate = outcome;
    }

    /// Where Cdr events go relative to Hangup events.
    pub fn set_cdr_order(&self, order: CdrOrder) {
        lock(&self.shared.state).cdr_order = order;
    }

    /// Sends the events of a scripted call to every logged-in connection; returns when the last
    /// one is written (after the talk time). Run it on a thread to watch the call live.
    pub fn run(&self, scenario: AmiScenario) {
        run_scenario(&self.shared, scenario);
    }

    /// Like [`AmiDouble::run`] on a background thread; the double joins it when dropped.
    pub fn run_in_background(&self, scenario: AmiScenario) {
        self.shared
            .spawn("ami-scenario", move |s| run_scenario(&s, scenario));
    }

    /// From now on, every `action` (e.g. `QueuePause`) — only those for `interface` when given —
    /// is held: neither carried out nor answered until [`AmiDouble::release_replies`], like a
    /// PBX busy with it. The connection goes on serving other actions meanwhile.
    pub fn hold_replies(&self, action: &str, interface: Option<&str>) {
        lock(&self.shared.state).hold.push((
            action.to_ascii_lowercase(),
            interface.map(|i| i.trim().to_string()),
        ));
    }

    /// How many actions are being held.
    pub fn held_replies(&self) -> usize {
        lock(&self.shared.state).held.len()
    }

    /// Stops holding: every held action is carried out and answered now, in arrival order.
    pub fn release_replies(&self) {
        let held = {
            let mut st = lock(&self.shared.state);
            st.hold.clear();
            std::mem::take(&mut st.held)
        };
        for (client, pkt) in held {
            if let Next::Close = handle(&self.shared, &client, &pkt) {
                let _ = client.closer.shutdown(Shutdown::Both);
            }
        }
    }

    /// Misbehaves once.
    pub fn inject(&self, fault: AmiFault) {
        let clients: Vec<Arc<Client>> = lock(&self.shared.clients).clone();
        for c in clients {
            match &fault {
                AmiFault::DropConnections => {
                    let _ = c.closer.shutdown(Shutdown::Both);
                }
                AmiFault::Garbage(bytes) => Shared::write_to(&c, bytes),
                AmiFault::TruncatedPacket => {
                    Shared::write_to(
                        &c,
                        b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Local/10",
                    );
                    let _ = c.closer.shutdown(Shutdown::Both);
                }
            }
        }
    }

    /// Open client connections.
    pub fn connections(&self) -> usize {
        lock(&self.shared.clients).len()
    }
}

impl Drop for AmiDouble {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        // Unblock accept(): a connection to ourselves.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        loop {
            for c in lock(&self.shared.clients).iter() {
                let _ = c.closer.shutdown(Shutdown::Both);
            }
            let handles: Vec<JoinHandle<()>> = lock(&self.shared.threads).drain(..).collect();
            if handles.is_empty() {
                break;
            }
            for h in handles {
                let _ = h.join();
            }
        }
    }
}

fn run_scenario(shared: &Shared, scenario: AmiScenario) {
    let now = events::now_secs();
    let ids = &shared.ids;
    let steps = match scenario {
        AmiScenario::InboundViaQueue {
            queue,
            caller,
            caller_name,
            agent_interface,
            talk_ms,
        } => {
            let member = {
                let mut st = lock(&shared.state);
                let found = st.queues.get_mut(&queue).and_then(|q| {
                    q.completed += 1;
                    q.members
                        .iter_mut()
                        .find(|m| m.interface == agent_interface)
                });
                found.map(|m| {
                    let before = m.clone();
                    m.calls_taken += 1;
                    m.last_call = now + calls::talk_secs(talk_ms);
                    before
                })
            };
            calls::inbound_via_queue(
                ids,
                &queue,
                &caller,
                &caller_name,
                &agent_interface,
                member,
                talk_ms,
                now,
            )
        }
        AmiScenario::Outbound {
            agent_interface,
            number,
            talk_ms,
        } => calls::outbound(
            ids,
            &agent_interface,
            &number,
            Outcome::Answer { talk_ms },
            now,
        ),
        AmiScenario::NoAnswer {
            agent_interface,
            number,
        } => calls::outbound(ids, &agent_interface, &number, Outcome::NoAnswer, now),
        AmiScenario::Busy {
            agent_interface,
            number,
        } => calls::outbound(ids, &agent_interface, &number, Outcome::Busy, now),
        AmiScenario::TransferAway {
            agent_interface,
            caller,
            to,
        } => calls::transfer_away(ids, &agent_interface, &caller, &to, now),
    };
    shared.emit(steps);
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopped() {
            break;
        }
        let Ok(stream) = conn else { continue };
        match stream.peer_addr() {
            Ok(peer) if peer.ip().is_loopback() => {}
            _ => continue,
        }
        if lock(&shared.clients).len() >= MAX_CONNECTIONS {
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        // A client that stops reading must not block writers (or Drop) forever.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let (Ok(reader), Ok(closer)) = (stream.try_clone(), stream.try_clone()) else {
            continue;
        };
        let client = Arc::new(Client {
            id: shared.next_client.fetch_add(1, Ordering::SeqCst),
            writer: Mutex::new(stream),
            closer,
            logged_in: AtomicBool::new(false),
            events: AtomicBool::new(true),
        });
        lock(&shared.clients).push(Arc::clone(&client));
        shared.spawn("ami-conn", move |s| {
            serve(&s, &client, reader);
            lock(&s.clients).retain(|c| c.id != client.id);
        });
    }
}

enum Next {
    Continue,
    Close,
}

fn serve(shared: &Arc<Shared>, client: &Arc<Client>, reader: TcpStream) {
    Shared::write_to(client, AMI_BANNER.as_bytes());
    let mut reader = BufReader::new(reader);
    while let Ok(Some(pkt)) = wire::read_packet(&mut reader) {
        if shared.stopped() {
            break;
        }
        {
            let mut st = lock(&shared.state);
            st.actions.push(pkt.0.clone());
            let action = pkt.get("Action").unwrap_or("").trim().to_ascii_lowercase();
            let interface = pkt.get("Interface").map(str::trim);
            let held = st
                .hold
                .iter()
                .any(|(a, i)| *a == action && i.as_deref().is_none_or(|i| Some(i) == interface));
            if held {
                st.held.push((Arc::clone(client), pkt));
                continue;
            }
        }
        if let Next::Close = handle(shared, client, &pkt) {
            break;
        }
    }
    let _ = client.closer.shutdown(Shutdown::Both);
}

fn respond(client: &Client, pkt: Pkt) {
    Shared::write_to(client, &pkt.to_bytes());
}

fn error(client: &Client, id: Option<&str>, message: &str) {
    respond(
        client,
        Pkt::new()
            .f("Response", "Error")
            .id(id)
            .f("Message", message),
    );
}

fn success(client: &Client, id: Option<&str>, message: &str) {
    respond(
        client,
        Pkt::new()
            .f("Response", "Success")
            .id(id)
            .f("Message", message),
    );
}

fn is_true(v: Option<&str>) -> bool {
    // ast_true: yes, true, y, t, 1, on.
    matches!(
        v.map(|s| s.trim().to_ascii_lowercase()).as_deref(),
        Some("yes" | "true" | "y" | "t" | "1" | "on")
    )
}

fn handle(shared: &Arc<Shared>, client: &Arc<Client>, pkt: &Pkt) -> Next {
    let id = pkt.get("ActionID");
    let action = pkt.get("Action").map(str::trim).unwrap_or("");
    if action.is_empty() {
        error(client, id, "Missing action in request");
        return Next::Continue;
    }
    let lower = action.to_ascii_lowercase();
    let logged_in = client.logged_in.load(Ordering::SeqCst);
    if !logged_in && !matches!(lower.as_str(), "login" | "logoff" | "challenge") {
        error(client, id, "Permission denied");
        return Next::Continue;
    }
    match lower.as_str() {
        "login" => return login(shared, client, pkt, id),
        "logoff" => {
            respond(
                client,
                Pkt::new()
                    .f("Response", "Goodbye")
                    .id(id)
                    .f("Message", "Thanks for all the fish."),
            );
            return Next::Close;
        }
        "ping" => respond(
            client,
            Pkt::new()
                .f("Response", "Success")
                .id(id)
                .f("Ping", "Pong")
                .f("Timestamp", events::now_timestamp()),
        ),
        "originate" => originate(shared, client, pkt, id),
        "queueadd" => queue_add(shared, client, pkt, id),
        "queueremove" => queue_remove(shared, client, pkt, id),
        "queuepause" => queue_pause(shared, client, pkt, id),
        "queuestatus" => queue_status(shared, client, pkt, id),
        _ => error(
            client,
            id,
            &format!(
                "Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
            ),
        ),
    }
    Next::Continue
}

fn login(shared: &Arc<Shared>, client: &Client, pkt: &Pkt, id: Option<&str>) -> Next {
    if client.logged_in.load(Ordering::SeqCst) {
        success(client, id, "Already authenticated");
        return Next::Continue;
    }
    let user = pkt.get("Username").unwrap_or("");
    let secret = pkt.get("Secret").unwrap_or("");
    let ok = lock(&shared.state)
        .users
        .get(user)
        .is_some_and(|s| !s.is_empty() && s == secret);
    if !ok {
        // Asterisk sleeps a second before refusing, then the session ends.
        if shared.sleep(1000) {
            error(client, id, "Authentication failed");
        }
        return Next::Close;
    }
    let events_on = !pkt
        .get("Events")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("off"));
    client.events.store(events_on, Ordering::SeqCst);
    success(client, id, "Authentication accepted");
    client.logged_in.store(true, Ordering::SeqCst);
    if events_on {
        let up = shared.started.elapsed().as_secs().to_string();
        respond(
            client,
            Pkt::new()
                .f("Event", "FullyBooted")
                .f("Privilege", "system,all")
                .f("Uptime", &up)
                .f("LastReload", &up)
                .f("Status", "Fully Booted"),
        );
    }
    Next::Continue
}

/// `"Name" <num>`, `Name <num>`, `<num>` or `num` → (num, name), `<unknown>` where missing.
fn parse_callerid(cid: &str) -> (String, String) {
    let cid = cid.trim();
    if let (Some(open), true) = (cid.rfind('<'), cid.ends_with('>')) {
        let num = cid[open + 1..cid.len() - 1].trim();
        let name = cid[..open].trim().trim_matches('"').trim();
        let or_unknown = |s: &str| {
            if s.is_empty() {
                UNKNOWN.to_string()
            } else {
                s.to_string()
            }
        };
        return (or_unknown(num), or_unknown(name));
    }
    if cid.is_empty() {
        return (UNKNOWN.into(), UNKNOWN.into());
    }
    if cid.chars().all(|c| c.is_ascii_digit() || c == '+') {
        (cid.into(), UNKNOWN.into())
    } else {
        (UNKNOWN.into(), cid.trim_matches('"').into())
    }
}

fn originate(shared: &Arc<Shared>, client: &Client, pkt: &Pkt, id: Option<&str>) {
    let channel = pkt.get("Channel").unwrap_or("").trim();
    if channel.is_empty() {
        return error(client, id, "Channel not specified");
    }
    if !channel.contains('/') {
        return error(client, id, "Invalid channel");
    }
    let priority = match pkt.get("Priority").map(str::trim) {
        None | Some("") => 1,
        Some(p) => match p.parse::<u32>() {
            Ok(n) => n,
            Err(_) => return error(client, id, "Invalid priority"),
        },
    };
    if let Some(t) = pkt.get("Timeout").map(str::trim) {
        if !t.is_empty() && t.parse::<i64>().is_err() {
            return error(client, id, "Invalid timeout");
        }
    }
    let (cid_num, cid_name) = parse_callerid(pkt.get("CallerID").unwrap_or(""));
    let with_response = is_true(pkt.get("Async"));
    let req = OriginateReq {
        channel: channel.to_string(),
        context: pkt.get("Context").unwrap_or("default").to_string(),
        exten: pkt.get("Exten").unwrap_or("s").to_string(),
        priority,
        cid_num,
        cid_name,
        action_id: id.map(str::to_string),
        with_response,
    };
    let script = lock(&shared.state).originate;
    let outcome = match script {
        OriginateScript::Answer { talk_ms } => Outcome::Answer { talk_ms },
        OriginateScript::NoAnswer => Outcome::NoAnswer,
        OriginateScript::Busy => Outcome::Busy,
        OriginateScript::Fail => Outcome::Fail,
    };
    if with_response || matches!(outcome, Outcome::Answer { .. }) {
        success(client, id, "Originate successfully queued");
    } else {
        error(client, id, "Originate failed");
    }
    let steps = calls::originate(&shared.ids, &req, outcome, events::now_secs());
    shared.spawn("ami-originate", move |s| s.emit(steps));
}

fn member_fields(pkt: &Pkt) -> (String, String) {
    (
        pkt.get("Queue").unwrap_or("").trim().to_string(),
        pkt.get("Interface").unwrap_or("").trim().to_string(),
    )
}

fn queue_add(shared: &Shared, client: &Client, pkt: &Pkt, id: Option<&str>) {
    let (queue, iface) = member_fields(pkt);
    if queue.is_empty() {
        return error(client, id, "'Queue' not specified.");
    }
    if iface.is_empty() {
        return error(client, id, "'Interface' not specified.");
    }
    let now = events::now_secs();
    let event = {
        let mut st = lock(&shared.state);
        let Some(q) = st.queues.get_mut(&queue) else {
            drop(st);
            return error(
                client,
                id,
                "Unable to add interface to queue: No such queue",
            );
        };
        if q.members.iter().any(|m| m.interface == iface) {
            drop(st);
            return error(client, id, "Unable to add interface: Already there");
        }
        let paused = is_true(pkt.get("Paused"));
        let name = pkt
            .get("MemberName")
            .filter(|n| !n.is_empty())
            .unwrap_or(&iface);
        let m = Member {
            interface: iface.clone(),
            name: name.to_string(),
            state_interface: pkt
                .get("StateInterface")
                .filter(|s| !s.is_empty())
                .unwrap_or(&iface)
                .to_string(),
            dynamic: true,
            penalty: pkt
                .get("Penalty")
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(0),
            calls_taken: 0,
            last_call: 0,
            last_pause: if paused { now } else { 0 },
            login_time: now,
            in_call: false,
            status: 1,
            paused,
            reason: if paused {
                pkt.get("Reason").unwrap_or("").to_string()
            } else {
                String::new()
            },
        };
        let event = events::member_event("QueueMemberAdded", &queue, &m);
        q.members.push(m);
        event
    };
    success(client, id, "Added interface to queue");
    shared.broadcast(&event);
}

fn queue_remove(shared: &Shared, client: &Client, pkt: &Pkt, id: Option<&str>) {
    let (queue, iface) = member_fields(pkt);
    if queue.is_empty() || iface.is_empty() {
        return error(client, id, "Need 'Queue' and 'Interface' parameters.");
    }
    let result = {
        let mut st = lock(&shared.state);
        match st.queues.get_mut(&queue) {
            None => Err("Unable to remove interface from queue: No such queue"),
            Some(q) => match q.members.iter().position(|m| m.interface == iface) {
                None => Err("Unable to remove interface: Not there"),
                Some(i) if !q.members[i].dynamic => Err("Member not dynamic"),
                Some(i) => Ok(events::member_event(
                    "QueueMemberRemoved",
                    &queue,
                    &q.members.remove(i),
                )),
            },
        }
    };
    match result {
        Err(msg) => error(client, id, msg),
        Ok(event) => {
            success(client, id, "Removed interface from queue");
            shared.broadcast(&event);
        }
    }
}

fn queue_pause(shared: &Shared, client: &Client, pkt: &Pkt, id: Option<&str>) {
    let (queue, iface) = member_fields(pkt);
    let paused_field = pkt.get("Paused").map(str::trim).unwrap_or("");
    if iface.is_empty() || paused_field.is_empty() {
        return error(client, id, "Need 'Interface' and 'Paused' parameters.");
    }
    let paused = is_true(Some(paused_field));
    let reason = pkt.get("Reason").unwrap_or("");
    let now = events::now_secs();
    let events_out: Vec<Pkt> = {
        let mut st = lock(&shared.state);
        let mut out = Vec::new();
        for (name, q) in st.queues.iter_mut() {
            if !queue.is_empty() && *name != queue {
                continue;
            }
            for m in q.members.iter_mut().filter(|m| m.interface == iface) {
                m.paused = paused;
                m.reason = if paused {
                    reason.to_string()
                } else {
                    String::new()
                };
                if paused {
                    m.last_pause = now;
                }
                out.push(events::member_event("QueueMemberPause", name, m));
            }
        }
        out
    };
    if events_out.is_empty() {
        return error(client, id, "Interface not found");
    }
    let msg = if paused {
        "Interface paused successfully"
    } else {
        "Interface unpaused successfully"
    };
    success(client, id, msg);
    for e in &events_out {
        shared.broadcast(e);
    }
}

fn queue_status(shared: &Shared, client: &Client, pkt: &Pkt, id: Option<&str>) {
    let queue = pkt.get("Queue").unwrap_or("").trim().to_string();
    let member = pkt.get("Member").unwrap_or("").trim().to_string();
    let items: Vec<Pkt> = {
        let st = lock(&shared.state);
        let mut items = Vec::new();
        for (name, q) in &st.queues {
            if !queue.is_empty() && *name != queue {
                continue;
            }
            items.push(events::queue_params_item(name, q.completed, id));
            for m in &q.members {
                if member.is_empty() || m.interface == member || m.name == member {
                    items.push(events::queue_member_item(name, m, id));
                }
            }
        }
        items
    };
    respond(
        client,
        Pkt::new()
            .f("Response", "Success")
            .id(id)
            .f("EventList", "start")
            .f("Message", "Queue status will follow"),
    );
    let mut bytes = Vec::new();
    for i in &items {
        bytes.extend(i.to_bytes());
    }
    bytes.extend(
        Pkt::new()
            .f("Event", "QueueStatusComplete")
            .id(id)
            .f("EventList", "Complete")
            .f("ListItems", items.len().to_string())
            .to_bytes(),
    );
    Shared::write_to(client, &bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_caller_ids() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(parse_callerid("\"AMI Test\" <1000>"), s("1000", "AMI Test"));
        assert_eq!(parse_callerid("Bob <55>"), s("55", "Bob"));
        assert_eq!(parse_callerid("5551234"), s("5551234", UNKNOWN));
        assert_eq!(parse_callerid(""), s(UNKNOWN, UNKNOWN));
    }
}
