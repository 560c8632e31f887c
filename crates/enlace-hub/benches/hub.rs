//! The hub under load, in-process on 127.0.0.1:0 with a temp SQLite file and no PBX:
//!
//! 1. **Logins** with the production argon2id cost (`HubConfig::default()`: 19 MiB, 2 passes):
//!    `POST /api/v1/sessions` end to end over a fresh TCP connection (one client, and four
//!    clients in parallel = the server's logins/s), `Hub::login` without HTTP, and the bare
//!    `auth::verify_password`, so the report can tell what dominates (argon2 does).
//! 2. **Event fan-out** to N WebSocket streams (`GET /api/v1/stream`), N = 1,000 and 10,000:
//!    N agents and their sessions are written through the store (cheap password cost), a child
//!    process (this binary re-run with `ENLACE_HUB_BENCH_CLIENTS` set) opens N tokio-tungstenite
//!    streams, then events are appended to the durable log with `EventLog::append` — broadcasts
//!    (`agent_id = None`, one event reaches every stream) and per-agent events (one stream
//!    carries it, the other N-1 wake up and drop it). Latency is publish (wall clock just before
//!    `append`, which includes the SQLite insert) → the text frame read by each client (wall
//!    clock in the child: both processes read the same system clock). Printed as a table with
//!    p50/p99/max; criterion's mean is not enough here.
//! 3. **WhatsApp webhooks**: signed webhook POSTs as Meta sends them (one text message each,
//!    distinct wamids, 2,000 customers) from 16 keep-alive connections on loopback (a tokio
//!    client in this process): accepted/s and the time to the 200 (stored raw, processed after);
//!    then with 1,000 agents of the number's queue available and their streams connected, a new
//!    customer's message POSTed one at a time → its `message_received` read on the routed
//!    agent's stream (wall clock in both processes), p50/p99/max.
//!
//! With `ENLACE_BENCH_ROWS` set to a file (`cargo xtask bench` does), the WhatsApp rows are
//! appended to it as Markdown for `target/bench/summary.md`.
//!
//! Run: `cargo bench -p enlace-hub --bench hub -- --warm-up-time 1 --measurement-time 2`.
//! `HUB_BENCH_STREAMS=1000,10000` (the default) picks the N values. Each process holds N
//! sockets, so N needs about N + 100 open files (`ulimit -n`); a larger N is skipped with a
//! message. Clients and hub live in separate processes precisely so that N = 10,000 fits under
//! the usual 20,000 limit. When built as a test (`cargo test --benches`, no `--bench`
//! argument), the fan-out runs once with N = 20 as a smoke test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure is a crash

use std::hint::black_box;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use enlace_core::SystemClock;
use enlace_hub::auth::{self, hash_password, PasswordCost};
use enlace_hub::store::NewAgent;
use enlace_hub::testing::Served;
use enlace_hub::{Hub, HubConfig};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};
const PASSWORD: &str = "123456";
const WAIT: Duration = Duration::from_secs(60);
/// Login clients running at once in the parallel login benchmark.
const LOGIN_CLIENTS: usize = 4;
/// Stream handshakes in flight at once while connecting the N clients.
const CONNECTING: usize = 64;
/// Set (to the hub's address) when this binary runs as the stream client process.
const CLIENTS_ENV: &str = "ENLACE_HUB_BENCH_CLIENTS";
/// What the client process reports as the `seq` of a `message_received` frame.
const MESSAGE_RECEIVED: u64 = u64::MAX;
/// A file the summary rows are appended to (set by `cargo xtask bench`).
const ROWS_ENV: &str = "ENLACE_BENCH_ROWS";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn user(i: usize) -> String {
    format!("{:07}", 2_000_000 + i)
}

/// A hub on `database_url` serving on a free loopback port.
async fn serve(database_url: String) -> Served {
    let config = HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url,
        ..HubConfig::default()
    };
    Served::start(config, Arc::new(SystemClock), "127.0.0.1:0").await
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hub.db").display())
}

/// Inserts agents `0..n` (users from [`user`]) in `queues`, with one shared password hash.
async fn add_agents(hub: &Hub, n: usize, hash: &str, queues: &[String]) -> Vec<i64> {
    let now = hub.now();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let user = user(i);
        let extension = format!("{}", 10_000 + i);
        let id = hub
            .store()
            .insert_agent(
                &NewAgent {
                    user: &user,
                    password_hash: hash,
                    name: &format!("Agente {i}"),
                    extension: &extension,
                    queues,
                    supervisor: false,
                },
                now,
            )
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// Logins

/// `POST /api/v1/sessions` over a fresh connection, as a desktop does it; returns the status.
async fn http_login(addr: SocketAddr, user: &str) -> u16 {
    let body = json!({"user": user, "password": PASSWORD}).to_string();
    let request = format!(
        "POST /api/v1/sessions HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let text = String::from_utf8_lossy(&reply);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn bench_logins(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let server = rt.block_on(serve(sqlite_url(dir.path())));
    let cost = server.hub.config().password_cost();
    assert_eq!(cost, PasswordCost::default(), "production cost");
    let hash = hash_password(PASSWORD, cost).unwrap();
    rt.block_on(add_agents(&server.hub, LOGIN_CLIENTS, &hash, &[]));
    let addr = server.addr;
    assert_eq!(rt.block_on(http_login(addr, &user(0))), 201);
    eprintln!(
        "logins: argon2id {} KiB, {} passes (HubConfig::default())",
        cost.memory_kib, cost.iterations
    );

    let mut group = c.benchmark_group("login");
    group.sample_size(10);
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.throughput(Throughput::Elements(1));
    group.bench_function("http_post_sessions", |b| {
        b.iter(|| assert_eq!(rt.block_on(http_login(addr, &user(0))), 201))
    });
    group.bench_function(format!("http_post_sessions_{LOGIN_CLIENTS}_clients"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let started = Instant::now();
                let clients: Vec<_> = (0..LOGIN_CLIENTS)
                    .map(|k| {
                        // Spread `iters` logins over the clients, one user each (logins of one
                        // user are serialized by the hub on purpose).
                        let share = iters / LOGIN_CLIENTS as u64
                            + u64::from((k as u64) < iters % LOGIN_CLIENTS as u64);
                        let user = user(k);
                        tokio::spawn(async move {
                            for _ in 0..share {
                                assert_eq!(http_login(addr, &user).await, 201);
                            }
                        })
                    })
                    .collect();
                for client in clients {
                    client.await.unwrap();
                }
                started.elapsed()
            })
        })
    });
    let hub = server.hub.clone();
    group.bench_function("hub_login_without_http", |b| {
        b.iter(|| {
            rt.block_on(hub.login(&user(1), PASSWORD, "127.0.0.1"))
                .unwrap()
        })
    });
    group.bench_function("argon2_verify_password", |b| {
        b.iter(|| assert!(auth::verify_password(black_box(PASSWORD), &hash)))
    });
    group.finish();
    rt.block_on(server.shutdown());
}

// ---------------------------------------------------------------------------------------------
// Fan-out

/// What the client process reports for each event it reads: (sequence number, when it was
/// read in ns since the Unix epoch — the wall clock is the one both processes share).
type Seen = (u64, u128);

fn unix_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// One stream client: connects, then reports every event's `seq` until the stream ends.
async fn client(
    addr: SocketAddr,
    token: String,
    connected: std_mpsc::Sender<()>,
    seen: std_mpsc::Sender<Seen>,
    permits: Arc<tokio::sync::Semaphore>,
) {
    let mut request = format!("ws://{addr}/api/v1/stream?after=0")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let permit = permits.acquire().await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .expect("stream handshake");
    drop(permit);
    let _ = connected.send(());
    // Reading also answers the hub's pings (tungstenite queues and flushes the pongs).
    while let Some(Ok(message)) = ws.next().await {
        if let Message::Text(text) = message {
            let at = unix_nanos();
            let event: Value = serde_json::from_str(&text).unwrap();
            let seq = match event["seq"].as_u64() {
                Some(seq) => Some(seq),
                None if event["type"] == "message_received" => Some(MESSAGE_RECEIVED),
                None => None,
            };
            if let Some(seq) = seq {
                if seen.send((seq, at)).is_err() {
                    return;
                }
            }
        }
    }
}

/// The client process (this binary re-run with [`CLIENTS_ENV`] = the hub's address): reads one
/// session token per line on stdin, opens one stream per token, prints `ready` once all are
/// connected, then `<seq> <unix ns>` per event read. It ends when the hub closes the streams
/// (or the parent kills it).
fn client_process(addr: &str) {
    let addr: SocketAddr = addr.parse().expect("hub address");
    let tokens: Vec<String> = std::io::stdin()
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.is_empty())
        .collect();
    let n = tokens.len();
    let rt = runtime();
    let (connected_tx, connected) = std_mpsc::channel();
    let (seen_tx, seen) = std_mpsc::channel::<Seen>();
    let permits = Arc::new(tokio::sync::Semaphore::new(CONNECTING));
    for token in tokens {
        rt.spawn(client(
            addr,
            token,
            connected_tx.clone(),
            seen_tx.clone(),
            permits.clone(),
        ));
    }
    drop((connected_tx, seen_tx));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for _ in 0..n {
        connected.recv().expect("every stream connects");
    }
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    // Write as they come; flush whenever nothing more is waiting.
    while let Ok((seq, at)) = seen.recv() {
        writeln!(out, "{seq} {at}").unwrap();
        while let Ok((seq, at)) = seen.try_recv() {
            writeln!(out, "{seq} {at}").unwrap();
        }
        if out.flush().is_err() {
            break;
        }
    }
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// The running client process; dropping it kills it (by its PID) and reaps it.
struct ClientProcess {
    child: std::process::Child,
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the client process with `tokens`; returns it, a `ready` signal and the reports.
fn spawn_clients(
    addr: SocketAddr,
    tokens: &[String],
) -> (
    ClientProcess,
    std_mpsc::Receiver<()>,
    std_mpsc::Receiver<Seen>,
) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CLIENTS_ENV, addr.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let process = ClientProcess { child };
    let text: String = tokens.iter().map(|t| format!("{t}\n")).collect();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let (ready_tx, ready) = std_mpsc::channel();
    let (seen_tx, seen) = std_mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if line == "ready" {
                let _ = ready_tx.send(());
                continue;
            }
            let mut parts = line.split(' ');
            let seq = parts.next().and_then(|s| s.parse().ok());
            let at = parts.next().and_then(|s| s.parse().ok());
            if let (Some(seq), Some(at)) = (seq, at) {
                if seen_tx.send((seq, at)).is_err() {
                    return;
                }
            }
        }
    });
    (process, ready, seen)
}

fn payload(seq: u64) -> Map<String, Value> {
    // About the size of a real agent_state event.
    json!({
        "seq": seq,
        "state": "paused",
        "reasonId": 3,
        "reasonName": "Baño",
        "since": 1_767_225_600_000_i64,
        "budgetSeconds": 900,
    })
    .as_object()
    .cloned()
    .unwrap()
}

struct Percentiles {
    samples: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn percentiles(mut times: Vec<Duration>) -> Percentiles {
    times.sort_unstable();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    Percentiles {
        samples: times.len(),
        p50: at(0.50),
        p99: at(0.99),
        max: at(1.0),
    }
}

fn print_row(n: usize, what: &str, p: &Percentiles) {
    eprintln!(
        "{n:>7} {what:<46} {:>8} {:>10.2?} {:>10.2?} {:>10.2?}",
        p.samples, p.p50, p.p99, p.max
    );
}

/// Publishes one event (broadcast when `agent` is `None`) and waits for `expect` deliveries;
/// returns the latency of each delivery and the time until the last one.
fn publish(
    hub_rt: &Runtime,
    hub: &Hub,
    seen: &std_mpsc::Receiver<Seen>,
    seq: u64,
    agent: Option<i64>,
    expect: usize,
) -> (Vec<Duration>, Duration) {
    let kind = if agent.is_some() {
        "agent_state"
    } else {
        "bench_broadcast"
    };
    let published = unix_nanos();
    hub_rt
        .block_on(hub.events().append(agent, kind, payload(seq), hub.now()))
        .unwrap();
    let mut latencies = Vec::with_capacity(expect);
    while latencies.len() < expect {
        let (got, at) = seen
            .recv_timeout(WAIT)
            .expect("every stream gets the event");
        assert_eq!(got, seq, "events arrive in order, one at a time");
        let nanos = u64::try_from(at.saturating_sub(published)).unwrap_or(u64::MAX);
        latencies.push(Duration::from_nanos(nanos));
    }
    let last = latencies.iter().max().copied().unwrap_or_default();
    (latencies, last)
}

/// Where the streams are served from: the instance that writes the events, or (several
/// instances on PostgreSQL) another instance that learns them through LISTEN/NOTIFY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topology {
    OneInstance,
    TwoInstancesOnPostgres,
}

fn fan_out(n: usize, broadcasts: u64, targeted: u64, topology: Topology) {
    let needed = n + 100;
    if let Some(limit) = open_files_limit() {
        if limit < needed {
            eprintln!(
                "{n:>7} skipped: needs ~{needed} open files, `ulimit -n` is {limit} \
                 (raise it, e.g. `ulimit -n 65536` or `prlimit --nofile=65536`, and run again)"
            );
            return;
        }
    }
    // The clients run in a child process (2-thread runtime, like the hub's), so each process
    // holds N sockets; on a 2-core machine they still share the cores.
    let hub_rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let setup = Instant::now();
    let (_postgres, server, streams_from) = match topology {
        Topology::OneInstance => (None, hub_rt.block_on(serve(sqlite_url(dir.path()))), None),
        Topology::TwoInstancesOnPostgres => {
            let pg = match enlace_peers::PostgresServer::start() {
                Ok(pg) => pg,
                Err(e) => {
                    eprintln!("{n:>7} skipped (two instances): no PostgreSQL server: {e}");
                    return;
                }
            };
            let url = pg.create_database("bench").unwrap();
            let writer = hub_rt.block_on(serve(url.clone()));
            let reader = hub_rt.block_on(serve(url));
            (Some(pg), writer, Some(reader))
        }
    };
    let hub = server.hub.clone();
    let streams_addr = streams_from.as_ref().map_or(server.addr, |s| s.addr);
    let hash = hash_password(PASSWORD, CHEAP).unwrap();
    let agents = hub_rt.block_on(add_agents(&hub, n, &hash, &[]));
    let now = hub.now();
    let expires = now + 3_600_000;
    let tokens: Vec<String> = agents
        .iter()
        .map(|&id| {
            let token = auth::new_token().unwrap();
            hub_rt
                .block_on(hub.store().insert_session(
                    &auth::token_hash(&token),
                    id,
                    now,
                    expires,
                    "127.0.0.1",
                ))
                .unwrap();
            token
        })
        .collect();
    let stored = setup.elapsed();

    let connecting = Instant::now();
    let (clients, ready, seen) = spawn_clients(streams_addr, &tokens);
    ready.recv_timeout(WAIT).expect("every stream connects");
    // A first broadcast every stream must receive: after it, every server-side stream has
    // subscribed to the live broadcast (not measured).
    publish(&hub_rt, &hub, &seen, 0, None, n);
    eprintln!(
        "{n:>7} streams: agents + sessions stored in {stored:.1?}, streams connected in {:.1?}",
        connecting.elapsed()
    );

    let mut each = Vec::new();
    let mut all = Vec::new();
    for seq in 1..=broadcasts {
        let (latencies, last) = publish(&hub_rt, &hub, &seen, seq, None, n);
        each.extend(latencies);
        all.push(last);
    }
    let mut one = Vec::new();
    for k in 0..targeted {
        let seq = broadcasts + 1 + k;
        // Spread over the agents (a stride coprime with most N).
        let agent = agents[(k as usize * 7_919) % agents.len()];
        let (latencies, _) = publish(&hub_rt, &hub, &seen, seq, Some(agent), 1);
        one.extend(latencies);
    }
    let via = match topology {
        Topology::OneInstance => "",
        Topology::TwoInstancesOnPostgres => " (other instance)",
    };
    print_row(
        n,
        &format!("broadcast: each delivery{via}"),
        &percentiles(each),
    );
    print_row(n, &format!("broadcast: last of N{via}"), &percentiles(all));
    print_row(n, &format!("per-agent event{via}"), &percentiles(one));

    if let Some(reader) = streams_from {
        hub_rt.block_on(reader.shutdown());
    }
    hub_rt.block_on(server.shutdown());
    drop(clients);
    hub_rt.shutdown_timeout(Duration::from_secs(5));
}

fn bench_fan_out(benchmarking: bool) {
    let sizes: Vec<usize> = if benchmarking {
        std::env::var("HUB_BENCH_STREAMS")
            .unwrap_or_else(|_| "1000,10000".into())
            .split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect()
    } else {
        vec![20]
    };
    eprintln!(
        "fan-out (publish → text frame read by the client, loopback, {} cores)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    eprintln!(
        "{:>7} {:<46} {:>8} {:>10} {:>10} {:>10}",
        "N", "", "samples", "p50", "p99", "max"
    );
    for n in sizes {
        let (broadcasts, targeted) = match (benchmarking, n) {
            (false, _) => (2, 2),
            (true, n) if n >= 5_000 => (20, 100),
            (true, _) => (50, 200),
        };
        fan_out(n, broadcasts, targeted, Topology::OneInstance);
    }
    // Several instances: the streams are on the instance that did not write the event.
    let (n, broadcasts, targeted) = if benchmarking {
        (1_000, 50, 200)
    } else {
        (20, 2, 2)
    };
    fan_out(n, broadcasts, targeted, Topology::TwoInstancesOnPostgres);
}

// ---------------------------------------------------------------------------------------------
// WhatsApp webhooks

/// The queue of the WhatsApp benchmarks' business number (the double's default number).
const WA_QUEUE: &str = "support";

/// A hub with `[whatsapp]` pointing at a WhatsApp Cloud API double (one number, queue
/// [`WA_QUEUE`]).
async fn serve_whatsapp(dir: &Path, wa: &enlace_sandbox::WhatsAppDouble) -> Served {
    let settings = enlace_hub::config::WhatsAppSettings {
        verify_token: "bench-verify".into(),
        app_secret: wa.app_secret(),
        access_token: wa.access_token(),
        graph_url: wa.graph_url(),
        waba_id: wa.waba_id(),
        numbers: vec![enlace_hub::config::WhatsAppNumber {
            phone_number_id: wa.phone_number_id(),
            display_number: format!("+{}", wa.display_phone_number()),
            name: String::new(),
            queue: WA_QUEUE.into(),
        }],
        media_dir: dir.join("media").display().to_string(),
        ..enlace_hub::config::WhatsAppSettings::default()
    };
    let config = HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: sqlite_url(dir),
        whatsapp: Some(settings),
        ..HubConfig::default()
    };
    Served::start(config, Arc::new(SystemClock), "127.0.0.1:0").await
}

/// A webhook POST as Meta sends it: one text message from customer `customer`, wamid unique to
/// `n`, signed with the app secret. Returns the whole HTTP/1.1 request (keep-alive).
fn webhook_request(
    addr: SocketAddr,
    wa: &enlace_sandbox::WhatsAppDouble,
    secret: &enlace_whatsapp::AppSecret,
    n: u64,
    customer: u64,
) -> Vec<u8> {
    let wa_id = format!("52155{:08}", customer);
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": wa.waba_id(),
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": wa.display_phone_number(),
                        "phone_number_id": wa.phone_number_id(),
                    },
                    "contacts": [{"profile": {"name": format!("Cliente {customer}")}, "wa_id": wa_id}],
                    "messages": [{
                        "from": wa_id,
                        "id": format!("wamid.HBgNNTIxNTU{customer:08}FQIAEhggQkVOQ0gt{n:016X}AA=="),
                        "timestamp": (unix_nanos() / 1_000_000_000).to_string(),
                        "text": {"body": "Hola, ¿me pueden ayudar con mi pedido? Llegó incompleto."},
                        "type": "text",
                    }],
                },
                "field": "messages",
            }],
        }],
    })
    .to_string();
    let signature = enlace_whatsapp::sign(secret, body.as_bytes());
    format!(
        "POST /webhooks/whatsapp HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: facebookexternalua\r\n\
         Content-Type: application/json\r\n{}: {signature}\r\nContent-Length: {}\r\n\r\n{body}",
        enlace_whatsapp::SIGNATURE_HEADER,
        body.len()
    )
    .into_bytes()
}

/// Sends `request` on a keep-alive connection and reads the reply; returns its status.
async fn roundtrip(
    stream: &mut tokio::io::BufReader<tokio::net::TcpStream>,
    request: &[u8],
) -> u16 {
    use tokio::io::AsyncBufReadExt;
    stream.get_mut().write_all(request).await.unwrap();
    let mut status = 0;
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        let read = stream.read_line(&mut line).await.unwrap();
        assert!(read > 0, "the hub closed the connection");
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if status == 0 {
            status = trimmed
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        } else if let Some((name, value)) = trimmed.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    status
}

async fn connect(addr: SocketAddr) -> tokio::io::BufReader<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    tokio::io::BufReader::new(stream)
}

/// Waits until the hub processed every stored webhook; returns how long that took.
fn wait_processed(hub_rt: &Runtime, hub: &Hub) -> Duration {
    let started = Instant::now();
    while !hub_rt
        .block_on(hub.store().pending_wa_webhooks(1))
        .unwrap()
        .is_empty()
    {
        assert!(started.elapsed() < WAIT * 5, "webhooks not processed");
        std::thread::sleep(Duration::from_millis(5));
    }
    started.elapsed()
}

/// Webhook intake on one instance: `connections` keep-alive connections each POST `per_conn`
/// signed webhooks back to back (a client runtime of its own, in this process); every reply
/// must be 200. Prints accepted/s and the time to the 200, then how long processing took.
fn webhook_intake(connections: usize, per_conn: usize) {
    let hub_rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let wa = enlace_sandbox::WhatsAppDouble::start().unwrap();
    let server = hub_rt.block_on(serve_whatsapp(dir.path(), &wa));
    let hub = server.hub.clone();
    let addr = server.addr;
    let secret = enlace_whatsapp::AppSecret::new(wa.app_secret());
    // Bodies built and signed before the clock starts; 2,000 customers (conversations).
    let requests: Vec<Vec<Vec<u8>>> = (0..connections)
        .map(|c| {
            (0..per_conn)
                .map(|i| {
                    let n = (c * per_conn + i) as u64;
                    webhook_request(addr, &wa, &secret, n, n % 2_000)
                })
                .collect()
        })
        .collect();
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (times, elapsed) = client_rt.block_on(async move {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for mine in requests {
            tasks.push(tokio::spawn(async move {
                let mut stream = connect(addr).await;
                let mut times = Vec::with_capacity(mine.len());
                for request in mine {
                    let sent = Instant::now();
                    let status = roundtrip(&mut stream, &request).await;
                    assert_eq!(status, 200, "webhook not accepted");
                    times.push(sent.elapsed());
                }
                times
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.extend(t.await.unwrap());
        }
        (times, started.elapsed())
    });
    let processing = wait_processed(&hub_rt, &hub);
    let total = times.len();
    let p = percentiles(times);
    let per_second = total as f64 / elapsed.as_secs_f64();
    let what = format!("webhook POST → 200 ({connections} connections)");
    print_row(1, &what, &p);
    eprintln!(
        "{:>7} webhooks accepted/s: {per_second:.0} ({total} in {elapsed:.2?}); all processed \
         {processing:.2?} after the last 200",
        1
    );
    summary_row(
        &format!("hub: webhooks accepted/s ({connections} connections)"),
        &format!("{per_second:.0}/s"),
        "",
        "",
    );
    // Processing runs from the first 200 on: stored-and-processed per second overall.
    let processed = total as f64 / (elapsed + processing).as_secs_f64();
    summary_row(
        "hub: webhooks processed/s (same run, 2,000 new conversations, no agent)",
        &format!("{processed:.0}/s"),
        "",
        "",
    );
    summary_row(
        &format!("hub: {what}"),
        &fmt_d(p.p50),
        &fmt_d(p.p99),
        &fmt_d(p.max),
    );
    hub_rt.block_on(server.shutdown());
    hub_rt.shutdown_timeout(Duration::from_secs(5));
}

/// Webhook → the assigned agent's stream with `n` agents of the number's queue available and
/// their streams connected (client process as in the fan-out): each POST is a new customer, so
/// the conversation is routed; latency is the POST being written → the `message_received`
/// frame read on the agent's stream.
fn webhook_to_stream(n: usize, samples: usize) {
    let needed = n + 100;
    if let Some(limit) = open_files_limit() {
        if limit < needed {
            eprintln!("{n:>7} webhook → stream skipped: needs ~{needed} open files, `ulimit -n` is {limit}");
            return;
        }
    }
    let hub_rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let wa = enlace_sandbox::WhatsAppDouble::start().unwrap();
    let server = hub_rt.block_on(serve_whatsapp(dir.path(), &wa));
    let hub = server.hub.clone();
    let addr = server.addr;
    let secret = enlace_whatsapp::AppSecret::new(wa.app_secret());
    let hash = hash_password(PASSWORD, CHEAP).unwrap();
    let agents = hub_rt.block_on(add_agents(&hub, n, &hash, &[WA_QUEUE.to_owned()]));
    let now = hub.now();
    let tokens: Vec<String> = agents
        .iter()
        .map(|&id| {
            hub_rt.block_on(async {
                hub.store()
                    .append_state(id, "available", None, now)
                    .await
                    .unwrap();
                let token = auth::new_token().unwrap();
                hub.store()
                    .insert_session(
                        &auth::token_hash(&token),
                        id,
                        now,
                        now + 3_600_000,
                        "127.0.0.1",
                    )
                    .await
                    .unwrap();
                token
            })
        })
        .collect();
    let (clients, ready, seen) = spawn_clients(addr, &tokens);
    ready.recv_timeout(WAIT).expect("every stream connects");
    let mut stream = hub_rt.block_on(connect(addr));
    // Warm-up (not measured): the first conversation, the first routing.
    let request = webhook_request(addr, &wa, &secret, 0, 0);
    assert_eq!(hub_rt.block_on(roundtrip(&mut stream, &request)), 200);
    wait_message_received(&seen);
    let mut to_200 = Vec::with_capacity(samples);
    let mut to_stream = Vec::with_capacity(samples);
    for k in 1..=samples as u64 {
        let request = webhook_request(addr, &wa, &secret, k, k);
        let posted = unix_nanos();
        let sent = Instant::now();
        assert_eq!(hub_rt.block_on(roundtrip(&mut stream, &request)), 200);
        to_200.push(sent.elapsed());
        let at = wait_message_received(&seen);
        let nanos = u64::try_from(at.saturating_sub(posted)).unwrap_or(u64::MAX);
        to_stream.push(Duration::from_nanos(nanos));
    }
    // Every conversation was routed to an agent (not left to the whole queue).
    let assigned: i64 = hub_rt
        .block_on(hub.store().wa_open_counts())
        .unwrap()
        .iter()
        .map(|(_, open)| open)
        .sum();
    assert_eq!(
        assigned,
        i64::try_from(samples).unwrap() + 1,
        "every conversation routed"
    );
    let p = percentiles(to_stream);
    let what = "webhook POST → agent's stream (message_received)";
    print_row(n, what, &p);
    print_row(
        n,
        "webhook POST → 200 (one at a time)",
        &percentiles(to_200),
    );
    summary_row(
        &format!("hub: {what}, {n} streams"),
        &fmt_d(p.p50),
        &fmt_d(p.p99),
        &fmt_d(p.max),
    );
    hub_rt.block_on(server.shutdown());
    drop(clients);
    hub_rt.shutdown_timeout(Duration::from_secs(5));
}

/// When the next `message_received` frame was read (other frames are not reported).
fn wait_message_received(seen: &std_mpsc::Receiver<Seen>) -> u128 {
    loop {
        let (seq, at) = seen
            .recv_timeout(WAIT)
            .expect("the message reaches the agent's stream");
        if seq == MESSAGE_RECEIVED {
            return at;
        }
    }
}

fn bench_whatsapp(benchmarking: bool) {
    eprintln!(
        "WhatsApp webhooks (loopback, {} cores)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    eprintln!(
        "{:>7} {:<46} {:>8} {:>10} {:>10} {:>10}",
        "N", "", "samples", "p50", "p99", "max"
    );
    if benchmarking {
        webhook_intake(16, 500);
        webhook_to_stream(1_000, 200);
    } else {
        webhook_intake(2, 10);
        webhook_to_stream(20, 3);
    }
}

fn fmt_d(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Appends one Markdown row `| what | p50 | p99 | max |` to the file named by
/// `ENLACE_BENCH_ROWS` (set by `cargo xtask bench`, which puts the rows in its summary).
fn summary_row(what: &str, p50: &str, p99: &str, max: &str) {
    let Ok(path) = std::env::var(ROWS_ENV) else {
        return;
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(file, "| {what} | {p50} | {p99} | {max} |").unwrap();
}

fn main() {
    if let Ok(addr) = std::env::var(CLIENTS_ENV) {
        client_process(&addr);
        return;
    }
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let mut criterion = Criterion::default().configure_from_args();
    bench_logins(&mut criterion);
    criterion.final_summary();
    bench_fan_out(benchmarking);
    bench_whatsapp(benchmarking);
}
