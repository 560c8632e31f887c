//! A TCP proxy on `127.0.0.1` that misbehaves on purpose: between a client and its server it
//! refuses, resets (RST), drops (FIN), stalls and cuts replies, chosen per connection by a
//! seeded generator ([`FaultPlan`]), and on demand for every open connection
//! ([`FaultProxy::cut_all`], [`FaultProxy::stall_all`]). The upstream can be changed while it
//! runs (a server restarted on another port).
//!
//! One rule keeps what a client sees decidable: a connection is never cut *while a request
//! waits for its reply* (bytes went up, nothing came back yet). A cut that falls then is
//! deferred to the first byte of the reply, which is lost: the request was then handled in
//! full, the client just does not know it. So a client that lost a reply knows the server is
//! done with the request and can read the server's state to learn what happened (see the soak).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Per-mille chances that a new connection gets each fault, and how they are timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultPlan {
    /// Reset at once, nothing forwarded.
    pub refuse: u32,
    /// Reset (RST both ways) after a random delay.
    pub reset: u32,
    /// Closed (FIN both ways) after a random delay.
    pub drop: u32,
    /// Nothing forwarded for a random while, starting after a random delay.
    pub stall: u32,
    /// Reset when the first byte of a reply arrives (the request was handled, its reply lost).
    pub lose_reply: u32,
    /// Reset within `max_cut_ms` after the request went up, *while it may still be handled*:
    /// the one fault that breaks the rule above, to find handlers that are not safe to cancel
    /// (the server drops a request whose client went away). Off in the soak by default.
    pub cut_request: u32,
    /// Upper bound of the delay of `cut_request` (ms).
    pub max_cut_ms: u64,
    /// Upper bound of the delay before a timed fault (ms).
    pub max_delay_ms: u64,
    /// Upper bound of a stall (ms).
    pub max_stall_ms: u64,
}

impl FaultPlan {
    /// No faults: a plain proxy.
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }
}

/// What happens to every open connection when asked through [`FaultProxy::cut_all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    Reset,
    Drop,
}

/// Faults applied so far (not just planned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultCounts {
    pub connections: u64,
    pub refused: u64,
    pub resets: u64,
    pub drops: u64,
    pub stalls: u64,
    pub lost_replies: u64,
    pub cut_requests: u64,
    /// Connections whose upstream could not be reached (the server was down).
    pub upstream_down: u64,
}

/// SplitMix64: small, seedable, good enough to pick faults.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Refuse,
    ResetAfter(Duration),
    DropAfter(Duration),
    StallAfter(Duration, Duration),
    LoseReply,
    CutRequest(Duration),
}

#[derive(Debug, Clone, Copy)]
enum Command {
    Cut(Cut),
    Stall(Duration),
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    refused: AtomicU64,
    resets: AtomicU64,
    drops: AtomicU64,
    stalls: AtomicU64,
    lost_replies: AtomicU64,
    cut_requests: AtomicU64,
    upstream_down: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    upstream: Mutex<SocketAddr>,
    plan: Mutex<FaultPlan>,
    rng: Mutex<Rng>,
    open: Mutex<HashMap<u64, mpsc::UnboundedSender<Command>>>,
    next_id: AtomicU64,
    counters: Counters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The proxy; stops accepting (and cuts what is open) when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`, faults picked with `seed`.
    pub async fn start(
        upstream: SocketAddr,
        seed: u64,
        plan: FaultPlan,
    ) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            upstream: Mutex::new(upstream),
            plan: Mutex::new(plan),
            rng: Mutex::new(Rng::new(seed)),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            counters: Counters::default(),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&inner)));
        Ok(FaultProxy {
            addr,
            inner,
            accept,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// New connections go to `upstream` (open ones stay where they are).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.inner.upstream) = upstream;
    }

    /// Faults for new connections.
    pub fn set_plan(&self, plan: FaultPlan) {
        *lock(&self.inner.plan) = plan;
    }

    /// Resets or closes every open connection now; returns how many.
    pub fn cut_all(&self, how: Cut) -> usize {
        self.command_all(Command::Cut(how))
    }

    /// Stops forwarding on every open connection for `how_long`; returns how many.
    pub fn stall_all(&self, how_long: Duration) -> usize {
        self.command_all(Command::Stall(how_long))
    }

    fn command_all(&self, command: Command) -> usize {
        let open = lock(&self.inner.open);
        open.values().filter(|tx| tx.send(command).is_ok()).count()
    }

    /// Open connections.
    pub fn open_connections(&self) -> usize {
        lock(&self.inner.open).len()
    }

    pub fn counts(&self) -> FaultCounts {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        FaultCounts {
            connections: get(&c.connections),
            refused: get(&c.refused),
            resets: get(&c.resets),
            drops: get(&c.drops),
            stalls: get(&c.stalls),
            lost_replies: get(&c.lost_replies),
            cut_requests: get(&c.cut_requests),
            upstream_down: get(&c.upstream_down),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all(Cut::Reset);
    }
}

fn pick(rng: &mut Rng, plan: &FaultPlan) -> Fault {
    let roll = rng.below(1000) as u32;
    let delay = Duration::from_millis(rng.below(plan.max_delay_ms + 1));
    let stall = Duration::from_millis(1 + rng.below(plan.max_stall_ms.max(1)));
    let mut edge = plan.refuse;
    if roll < edge {
        return Fault::Refuse;
    }
    edge += plan.reset;
    if roll < edge {
        return Fault::ResetAfter(delay);
    }
    edge += plan.drop;
    if roll < edge {
        return Fault::DropAfter(delay);
    }
    edge += plan.stall;
    if roll < edge {
        return Fault::StallAfter(delay, stall);
    }
    edge += plan.lose_reply;
    if roll < edge {
        return Fault::LoseReply;
    }
    edge += plan.cut_request;
    if roll < edge {
        return Fault::CutRequest(Duration::from_millis(rng.below(plan.max_cut_ms + 1)));
    }
    Fault::None
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        inner.counters.connections.fetch_add(1, Ordering::SeqCst);
        let fault = {
            let plan = *lock(&inner.plan);
            pick(&mut lock(&inner.rng), &plan)
        };
        let id = inner.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&inner.open).insert(id, tx);
        let inner = Arc::clone(&inner);
        tokio::spawn(async move {
            relay(client, &inner, fault, rx).await;
            lock(&inner.open).remove(&id);
        });
    }
}

fn reset(a: &TcpStream, b: Option<&TcpStream>) {
    let _ = a.set_zero_linger();
    if let Some(b) = b {
        let _ = b.set_zero_linger();
    }
}

/// What ends a connection early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Reset,
    Drop,
}

async fn relay(
    mut client: TcpStream,
    inner: &Inner,
    fault: Fault,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let counters = &inner.counters;
    if fault == Fault::Refuse {
        counters.refused.fetch_add(1, Ordering::SeqCst);
        reset(&client, None);
        return;
    }
    let upstream = *lock(&inner.upstream);
    let mut up =
        match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(upstream)).await {
            Ok(Ok(up)) => up,
            _ => {
                counters.upstream_down.fetch_add(1, Ordering::SeqCst);
                reset(&client, None);
                return;
            }
        };
    let _ = client.set_nodelay(true);
    let _ = up.set_nodelay(true);

    let start = Instant::now();
    let far = start + Duration::from_secs(86_400 * 365);
    let (mut timer_at, timed) = match fault {
        Fault::ResetAfter(d) => (start + d, Some(Ending::Reset)),
        Fault::DropAfter(d) => (start + d, Some(Ending::Drop)),
        Fault::StallAfter(d, _) => (start + d, None),
        _ => (far, None),
    };
    let mut stall_timer_pending = matches!(fault, Fault::StallAfter(..));
    let mut stalled_until: Option<Instant> = None;
    // Set when a cut must wait for the first byte of the reply.
    let mut cut_on_reply: Option<Ending> = (fault == Fault::LoseReply).then_some(Ending::Reset);
    let mut awaiting_reply = false;
    let mut cut_armed = false;
    let (mut client_eof, mut up_eof) = (false, false);
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut ubuf = vec![0u8; 16 * 1024];

    let ending = loop {
        if client_eof && up_eof {
            return;
        }
        tokio::select! {
            read = client.read(&mut cbuf), if !client_eof => match read {
                Ok(0) | Err(_) => {
                    client_eof = true;
                    let _ = up.shutdown().await;
                }
                Ok(n) => {
                    wait_stall(&mut stalled_until).await;
                    awaiting_reply = true;
                    if let (Fault::CutRequest(d), false) = (fault, cut_armed) {
                        cut_armed = true;
                        timer_at = Instant::now() + d;
                    }
                    if up.write_all(&cbuf[..n]).await.is_err() {
                        break Ending::Reset;
                    }
                }
            },
            read = up.read(&mut ubuf), if !up_eof => match read {
                Ok(0) | Err(_) => {
                    up_eof = true;
                    let _ = client.shutdown().await;
                }
                Ok(n) => {
                    if let Some(how) = cut_on_reply {
                        if how == Ending::Reset {
                            counters.lost_replies.fetch_add(1, Ordering::SeqCst);
                            reset(&client, Some(&up));
                            return;
                        }
                        break how;
                    }
                    wait_stall(&mut stalled_until).await;
                    awaiting_reply = false;
                    if client.write_all(&ubuf[..n]).await.is_err() {
                        break Ending::Reset;
                    }
                }
            },
            _ = tokio::time::sleep_until(timer_at) => {
                timer_at = far;
                if cut_armed {
                    counters.cut_requests.fetch_add(1, Ordering::SeqCst);
                    reset(&client, Some(&up));
                    return;
                }
                if stall_timer_pending {
                    stall_timer_pending = false;
                    if let Fault::StallAfter(_, d) = fault {
                        counters.stalls.fetch_add(1, Ordering::SeqCst);
                        stalled_until = Some(Instant::now() + d);
                    }
                } else if let Some(how) = timed {
                    if awaiting_reply {
                        cut_on_reply = Some(how);
                    } else {
                        break how;
                    }
                }
            },
            command = commands.recv() => match command {
                Some(Command::Cut(Cut::Reset)) | None => {
                    if awaiting_reply {
                        cut_on_reply = Some(Ending::Reset);
                    } else {
                        break Ending::Reset;
                    }
                }
                Some(Command::Cut(Cut::Drop)) => {
                    if awaiting_reply {
                        cut_on_reply = Some(Ending::Drop);
                    } else {
                        break Ending::Drop;
                    }
                }
                Some(Command::Stall(d)) => {
                    counters.stalls.fetch_add(1, Ordering::SeqCst);
                    stalled_until = Some(Instant::now() + d);
                }
            },
        }
    };
    match ending {
        Ending::Reset => {
            counters.resets.fetch_add(1, Ordering::SeqCst);
            reset(&client, Some(&up));
        }
        Ending::Drop => {
            counters.drops.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown().await;
            let _ = up.shutdown().await;
        }
    }
}

async fn wait_stall(stalled_until: &mut Option<Instant>) {
    if let Some(until) = stalled_until.take() {
        tokio::time::sleep_until(until).await;
    }
}
