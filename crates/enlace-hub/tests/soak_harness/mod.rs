//! The fault soak: a real `enlace-hub serve` process, the AMI double, and N simulated agents,
//! with a [`FaultProxy`] between the agents and the hub and another between the hub and the
//! AMI double. Meanwhile the hub is killed with `SIGKILL` and restarted, the AMI double drops
//! its connections, the AMI link is reset, closed and stalled. At the end what the harness
//! produced is counted against what the hub recorded (its database, `GET /me/day`), what each
//! agent's stream delivered and what the PBX shows: they must match exactly.
//!
//! What counts as produced:
//! - **State changes**: each login of a logged-out agent (`available`), every pause, unpause
//!   and exit (`logged_out`) the hub *accepted*, and the `on_call` → `available` pair of each
//!   call. A request is accepted when its reply is 200. A 502/503 reply (PBX refused or
//!   offline) is a refusal: nothing changed. A request whose reply was lost (refused, reset,
//!   closed, hub killed) may or may not have been applied; the agent then does what a real
//!   client does: it reads its state (`GET /me`, retried until the hub answers; after an exit
//!   the supervisor's `GET /agents`, as the agent's session may be gone) and counts the request
//!   as applied exactly when the hub shows the requested state with `since` at or after the
//!   moment the request was sent. That is exact because each agent is the only one changing
//!   its own state and the proxy never cuts a request that is still being handled (see
//!   [`fault_proxy`]). A login is retried until it answers: the hub records `available` only
//!   for a logged-out agent, so retries add no record.
//! - **Calls**: every call the AMI double completed (`InboundViaQueue`, a unique caller
//!   number each, to an available agent). Calls run only while the hub is connected to the
//!   PBX: before a hub kill or an AMI disconnect the harness waits until the calls in progress
//!   ended (a call cut by the PBX link or the hub dying has its own tests); AMI stalls happen
//!   during calls.
//!
//! Checked: each agent's rows in `agent_state_log` (in order) and `calls` (each once, ended),
//! its `callsIn` of `GET /me/day`, its stream (resumed with `?after=<last id>` after every
//! cut): no id twice, the ids received equal the ids of the log events it may see, and its
//! `agent_state`/`call_ended` events equal what it produced; and the PBX's queue member after
//! every change (paused with the hub's reason exactly when the hub says, absent when logged
//! out).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod agent;
pub mod fault_proxy;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use enlace_hub::auth::{hash_password, PasswordCost};
use enlace_hub::config::AmiSettings;
use enlace_hub::store::{NewAgent, Store};
use enlace_hub::HubConfig;
use enlace_sandbox::{AmiDouble, AmiFault, AmiScenario};
use serde_json::Value;

use agent::{follow_stream, http, state_body, Exchange, SharedLog};
use fault_proxy::{Cut, FaultCounts, FaultPlan, FaultProxy, Rng};

/// The supervisor's user (no queue).
const SUPERVISOR: &str = "7000000";
pub const PASSWORD: &str = "246810";
const QUEUE: &str = "support";
const REASONS: [&str; 4] = ["Baño", "Almuerzo", "Capacitación", "Reunión"];
/// Generous: conditions are waited for, never timed.
const SETTLE: Duration = Duration::from_secs(180);
/// For a call to end on the agent's stream (it takes milliseconds; calls hold off the faults
/// of the PBX link, so a call that never settles must not hold them off for long).
const CALL_SETTLE: Duration = Duration::from_secs(60);
const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct Params {
    pub agents: usize,
    pub secs: u64,
    pub seed: u64,
    /// Where to write the Markdown summary.
    pub summary: Option<PathBuf>,
    /// Per mille of agent connections cut while their request may still be handled
    /// ([`FaultPlan::cut_request`]); 0 by default, as a lost reply could then not be told
    /// apart from a request still in progress.
    pub cut_requests: u32,
}

impl Params {
    /// The defaults, overridden by `ENLACE_SOAK_AGENTS`, `ENLACE_SOAK_SECS`, `ENLACE_SOAK_SEED`
    /// and `ENLACE_SOAK_SUMMARY` (what `cargo xtask soak` sets). Without a seed one is made
    /// from the clock; it is printed so the run can be replayed.
    pub fn from_env(agents: usize, secs: u64) -> Params {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let seed = var("ENLACE_SOAK_SEED")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
                    % 1_000_000_000
            });
        Params {
            agents: var("ENLACE_SOAK_AGENTS")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(agents),
            secs: var("ENLACE_SOAK_SECS")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(secs),
            seed,
            summary: var("ENLACE_SOAK_SUMMARY").map(PathBuf::from),
            cut_requests: var("ENLACE_SOAK_CUT_REQUESTS")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        }
    }
}

/// The counts and every mismatch found.
#[derive(Debug)]
pub struct Outcome {
    pub summary: String,
    pub mismatches: Vec<String>,
}

/// An `enlace-hub serve` process; SIGKILLed (by PID) when dropped.
pub struct HubProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl HubProcess {
    pub fn start(config: &Path, log: &Path) -> HubProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_enlace-hub"))
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "enlace_hub=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => HubProcess { child, addr },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "enlace-hub serve did not start: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
    }

    /// `SIGKILL`: no clean-up at all, like a crashed machine.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `SIGINT` (the hub stops gracefully), then `SIGKILL` if it has not within 20 s.
    pub fn interrupt(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// (state, pause reason name)
type StateKey = (String, Option<String>);

/// What the agents share.
struct Ctx {
    hub: SocketAddr,
    double: Arc<AmiDouble>,
    /// Calls hold it for reading; hub kills and AMI disconnects take it for writing, so they
    /// wait for the calls in progress and no call starts meanwhile.
    gate: tokio::sync::RwLock<()>,
    reasons: Vec<(i64, String)>,
    /// A supervisor's token: `GET /agents` shows any agent's state, logged out or not.
    supervisor: String,
    call_seq: AtomicU64,
    stop: tokio::sync::watch::Receiver<bool>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    requests: u64,
    exits: u64,
    logins: u64,
    by_reply: u64,
    by_reconcile: u64,
    refused: u64,
    not_applied: u64,
    lost: u64,
    calls: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.requests += o.requests;
        self.exits += o.exits;
        self.logins += o.logins;
        self.by_reply += o.by_reply;
        self.by_reconcile += o.by_reconcile;
        self.refused += o.refused;
        self.not_applied += o.not_applied;
        self.lost += o.lost;
        self.calls += o.calls;
    }
}

/// One simulated agent and what it knows it produced.
struct Sim {
    index: usize,
    agent_id: i64,
    user: String,
    interface: String,
    token: String,
    rng: Rng,
    logged_in: bool,
    /// Index in `Ctx::reasons` while paused.
    paused: Option<usize>,
    expected_states: Vec<StateKey>,
    expected_calls: Vec<String>,
    stats: Stats,
    problems: Vec<String>,
    log: Arc<SharedLog>,
}

impl Sim {
    fn key(&self, ctx: &Ctx, want: Option<usize>) -> StateKey {
        match want {
            Some(i) => ("paused".into(), Some(ctx.reasons[i].1.clone())),
            None => ("available".into(), None),
        }
    }

    fn shows(&self, ctx: &Ctx, state: &Value, want: Option<usize>) -> bool {
        match want {
            Some(i) => state["state"] == "paused" && state["reason"]["id"] == ctx.reasons[i].0,
            None => state["state"] == "available",
        }
    }

    async fn run(mut self, ctx: Arc<Ctx>) -> Sim {
        loop {
            if *ctx.stop.borrow() {
                // End logged in, so the day can be read with the agent's token.
                if !self.logged_in {
                    self.log_in(&ctx).await;
                }
                return self;
            }
            let roll = self.rng.below(100);
            match self.paused {
                _ if !self.logged_in => self.log_in(&ctx).await,
                _ if roll < 4 => self.exit(&ctx).await,
                None if roll < 45 => {
                    let r = self.rng.below(ctx.reasons.len() as u64) as usize;
                    self.change(&ctx, Some(r)).await;
                }
                None => self.take_call(&ctx).await,
                Some(_) if roll < 65 => self.change(&ctx, None).await,
                Some(_) => {
                    let r = self.rng.below(ctx.reasons.len() as u64) as usize;
                    self.change(&ctx, Some(r)).await;
                }
            }
            let think = Duration::from_millis(200 + self.rng.below(1000));
            let mut stop = ctx.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(think) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Salida: the hub ends the agent's sessions and logs it out. A lost reply is settled with
    /// the supervisor's view (logged out since the request) and the agent's own (`GET /me`
    /// still answering: not applied).
    async fn exit(&mut self, ctx: &Ctx) {
        let sent_at = now_ms();
        self.stats.requests += 1;
        let body = serde_json::json!({"state": "exit"});
        let reply = http(
            ctx.hub,
            "POST",
            "/api/v1/me/state",
            Some(&self.token),
            Some(&body),
        )
        .await;
        match reply {
            Exchange::Reply { status: 200, body } => {
                if body["state"] != "logged_out" {
                    self.problems.push(format!(
                        "agent {}: exit accepted but the reply says {body}",
                        self.index
                    ));
                }
                self.stats.by_reply += 1;
                self.logged_out();
            }
            Exchange::Reply { status, body } if status < 500 => self.problems.push(format!(
                "agent {}: exit answered {status} {body}",
                self.index
            )),
            Exchange::Reply { .. } | Exchange::Lost => {
                self.stats.lost += 1;
                let deadline = Instant::now() + SETTLE;
                loop {
                    if let Some(state) = self.supervised_state(ctx).await {
                        if state["state"] == "logged_out"
                            && state["since"].as_i64().unwrap_or(0) >= sent_at
                        {
                            self.stats.by_reconcile += 1;
                            self.logged_out();
                            break;
                        }
                    }
                    // Still logged in: applied only if the session is gone (the logout
                    // follows, from the request or from the housekeeping).
                    match http(ctx.hub, "GET", "/api/v1/me", Some(&self.token), None).await {
                        Exchange::Reply { status: 200, body } => {
                            self.stats.not_applied += 1;
                            if !self.shows(ctx, &body["state"], self.paused) {
                                self.problems.push(format!(
                                    "agent {}: after a lost exit reply the hub shows {}",
                                    self.index, body["state"]
                                ));
                            }
                            break;
                        }
                        _ if Instant::now() > deadline => {
                            self.problems
                                .push(format!("agent {}: exit never settled", self.index));
                            break;
                        }
                        _ => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }
        }
        self.check_pbx(ctx, "after an exit").await;
    }

    fn logged_out(&mut self) {
        self.stats.exits += 1;
        self.logged_in = false;
        self.paused = None;
        self.expected_states.push(("logged_out".into(), None));
    }

    /// This agent's state as a supervisor sees it.
    async fn supervised_state(&self, ctx: &Ctx) -> Option<Value> {
        match http(
            ctx.hub,
            "GET",
            "/api/v1/agents",
            Some(&ctx.supervisor),
            None,
        )
        .await
        {
            Exchange::Reply { status: 200, body } => body
                .as_array()?
                .iter()
                .find(|a| a["id"] == self.agent_id)
                .map(|a| a["state"].clone()),
            _ => None,
        }
    }

    /// Logs in (again after lost replies: only a logged-out agent's login is recorded, so
    /// however many got through there is one `available`).
    async fn log_in(&mut self, ctx: &Ctx) {
        self.token = login(ctx.hub, &self.user).await;
        self.log.set_token(&self.token);
        self.stats.logins += 1;
        self.logged_in = true;
        self.paused = None;
        self.expected_states.push(("available".into(), None));
        self.check_pbx(ctx, "after a login").await;
    }

    /// Pause with reason `want` (or unpause when `None`), and learn whether it happened.
    async fn change(&mut self, ctx: &Ctx, want: Option<usize>) {
        let reason_id = want.map(|i| ctx.reasons[i].0);
        let sent_at = now_ms();
        self.stats.requests += 1;
        let reply = http(
            ctx.hub,
            "POST",
            "/api/v1/me/state",
            Some(&self.token),
            Some(&state_body(reason_id)),
        )
        .await;
        match reply {
            Exchange::Reply { status: 200, body } => {
                if !self.shows(ctx, &body, want) {
                    self.problems.push(format!(
                        "agent {}: request {want:?} accepted but the reply says {body}",
                        self.index
                    ));
                }
                self.stats.by_reply += 1;
                self.applied(ctx, want);
                self.check_pbx(ctx, "after an accepted change").await;
            }
            Exchange::Reply {
                status: 502 | 503, ..
            } => self.stats.refused += 1,
            Exchange::Reply { status, body } if status < 500 => self.problems.push(format!(
                "agent {}: request {want:?} answered {status} {body}",
                self.index
            )),
            Exchange::Reply { .. } | Exchange::Lost => {
                self.stats.lost += 1;
                let Some(state) = self.read_state(ctx).await else {
                    self.problems.push(format!(
                        "agent {}: state unreadable after a lost reply",
                        self.index
                    ));
                    return;
                };
                let since = state["since"].as_i64().unwrap_or(0);
                if self.shows(ctx, &state, want) && since >= sent_at {
                    self.stats.by_reconcile += 1;
                    self.applied(ctx, want);
                    self.check_pbx(ctx, "after a lost reply, applied").await;
                } else {
                    self.stats.not_applied += 1;
                    self.check_pbx(ctx, "after a lost reply, not applied").await;
                    if !self.shows(ctx, &state, self.paused) {
                        self.problems.push(format!(
                            "agent {}: after a lost reply the hub shows {state}, expected {:?}",
                            self.index,
                            self.key(ctx, self.paused)
                        ));
                    }
                }
            }
        }
    }

    /// The PBX must show what the hub recorded: paused with the reason, or not paused. Waited
    /// for (a hub that was just restarted re-syncs the PBX after connecting), never for ever: a
    /// PBX left paused by a request the hub did not record would stay that way.
    async fn check_pbx(&mut self, ctx: &Ctx, when: &str) {
        let want = if self.logged_in {
            self.key(ctx, self.paused)
        } else {
            ("logged_out".into(), None)
        };
        let agrees = || {
            let members = ctx.double.queue_members(QUEUE);
            let member = members
                .iter()
                .find(|(iface, _, _)| *iface == self.interface);
            match member {
                None => !self.logged_in,
                Some((_, paused, reason)) => {
                    self.logged_in && *paused == want.1.is_some() && (!paused || *reason == want.1)
                }
            }
        };
        if !wait_for(Duration::from_secs(30), agrees).await {
            let member: Vec<_> = ctx
                .double
                .queue_members(QUEUE)
                .into_iter()
                .filter(|(iface, _, _)| *iface == self.interface)
                .collect();
            self.problems.push(format!(
                "agent {} {when}: the PBX shows {member:?}, the hub recorded {want:?}",
                self.index
            ));
        }
    }

    fn applied(&mut self, ctx: &Ctx, want: Option<usize>) {
        self.paused = want;
        let key = self.key(ctx, want);
        self.expected_states.push(key);
    }

    /// `GET /me` until the hub answers (it may be restarting).
    async fn read_state(&self, ctx: &Ctx) -> Option<Value> {
        let deadline = Instant::now() + SETTLE;
        while Instant::now() < deadline {
            if let Exchange::Reply { status: 200, body } =
                http(ctx.hub, "GET", "/api/v1/me", Some(&self.token), None).await
            {
                return Some(body["state"].clone());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// The AMI double rings this agent with a unique caller; the call lasts a second. Waits
    /// until the stream shows the call ended and the agent available again.
    async fn take_call(&mut self, ctx: &Ctx) {
        let _gate = ctx.gate.read().await;
        if *ctx.stop.borrow() || !self.logged_in || self.paused.is_some() {
            return;
        }
        let seq = ctx.call_seq.fetch_add(1, Ordering::SeqCst);
        let number = format!("52{seq:010}");
        let double = Arc::clone(&ctx.double);
        let scenario = AmiScenario::InboundViaQueue {
            queue: QUEUE.into(),
            caller: number.clone(),
            caller_name: "Cliente".into(),
            agent_interface: self.interface.clone(),
            talk_ms: 1000,
        };
        tokio::task::spawn_blocking(move || double.run(scenario))
            .await
            .unwrap();
        self.stats.calls += 1;
        self.expected_calls.push(number.clone());
        self.expected_states.push(("on_call".into(), None));
        self.expected_states.push(("available".into(), None));
        let settled = wait_for(CALL_SETTLE, || {
            let log = self.log.lock();
            let ended = log.events.iter().position(|e| {
                e["type"] == "call_ended" && e["call"]["otherNumber"] == number.as_str()
            });
            ended.is_some_and(|i| {
                log.events[i..]
                    .iter()
                    .any(|e| e["type"] == "agent_state" && e["state"] == "available")
            })
        })
        .await;
        if !settled {
            self.problems.push(format!(
                "agent {}: call {number} never ended with the agent available on its stream",
                self.index
            ));
        }
    }
}

/// Logs `user` in through `addr`, again after every lost reply; returns the token.
async fn login(addr: SocketAddr, user: &str) -> String {
    let body = serde_json::json!({"user": user, "password": PASSWORD});
    loop {
        if let Exchange::Reply { status, body } =
            http(addr, "POST", "/api/v1/sessions", None, Some(&body)).await
        {
            assert_eq!(status, 201, "login {user}: {body}");
            assert_eq!(body["state"]["state"], "available", "login {user}: {body}");
            return body["token"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` until true or `limit` passes; false on time-out.
pub async fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the PBX saw a new login followed by a `QueueStatus` (the hub's re-sync after
/// connecting): from then on its events reach the hub.
pub async fn wait_ami_back(double: &AmiDouble, mark: usize) -> bool {
    wait_for(SETTLE, || {
        let actions = double.actions();
        let name = |a: &Vec<(String, String)>| {
            a.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Action"))
                .map(|(_, v)| v.to_ascii_lowercase())
                .unwrap_or_default()
        };
        let rest = actions.get(mark..).unwrap_or_default();
        rest.iter()
            .position(|a| name(a) == "login")
            .is_some_and(|i| rest[i..].iter().any(|a| name(a) == "queuestatus"))
    })
    .await
}

#[derive(Debug, Default)]
struct FaultLog {
    hub_kills: u64,
    double_drops: u64,
    ami_resets: u64,
    ami_closes: u64,
    ami_stalls: u64,
}

/// Every agent of the organization: (user, agent id, interface).
pub async fn organization(
    dir: &Path,
    agents: usize,
) -> (PathBuf, String, Vec<(String, i64, String)>) {
    let out = Command::new(env!("CARGO_BIN_EXE_enlace-hub"))
        .args(["init", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = format!("sqlite://{}", dir.join("enlace-hub.db").display());
    let store = Store::open(&url).await.unwrap();
    let hash = hash_password(PASSWORD, CHEAP).unwrap();
    let now = now_ms();
    let queues = [QUEUE.to_string()];
    let mut list = Vec::new();
    for i in 0..agents {
        let user = format!("{}", 2_000_000 + i);
        let extension = format!("{}", 10_000 + i);
        let name = format!("Agente {i}");
        let id = store
            .insert_agent(
                &NewAgent {
                    user: &user,
                    password_hash: &hash,
                    name: &name,
                    extension: &extension,
                    queues: &queues,
                    supervisor: false,
                },
                now,
            )
            .await
            .unwrap();
        list.push((user, id, format!("Local/{extension}@soak")));
    }
    store
        .insert_agent(
            &NewAgent {
                user: SUPERVISOR,
                password_hash: &hash,
                name: "Supervisora",
                extension: "9999",
                queues: &[],
                supervisor: true,
            },
            now,
        )
        .await
        .unwrap();
    for reason in REASONS {
        store
            .insert_pause_reason(reason, None, false, now)
            .await
            .unwrap();
    }
    store.close().await;
    (dir.join("enlace-hub.toml"), url, list)
}

/// The hub's configuration: the SQLite file at `url`, the PBX at `ami`, a cheap password
/// cost, pings every 2 s.
pub fn hub_config(url: &str, ami: SocketAddr) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: url.to_string(),
        password_memory_kib: CHEAP.memory_kib,
        password_iterations: CHEAP.iterations,
        heartbeat_seconds: 2,
        ami: Some(AmiSettings {
            addr: ami.to_string(),
            username: "ami".into(),
            secret: "amisecret".into(),
            interface_template: "Local/{extension}@soak".into(),
            originate_timeout_seconds: 5,
            ..AmiSettings::default()
        }),
        ..HubConfig::default()
    }
}

/// Runs the soak and counts.
pub async fn run(params: Params) -> Outcome {
    println!(
        "soak: {} agents, {} s, seed {} (replay with ENLACE_SOAK_SEED={})",
        params.agents, params.secs, params.seed, params.seed
    );
    let dir = tempfile::tempdir().unwrap();
    let double = Arc::new(AmiDouble::start().unwrap());
    let ami_proxy = FaultProxy::start(double.addr(), params.seed ^ 0xA5A5, FaultPlan::none())
        .await
        .unwrap();
    let (config_path, url, people) = organization(dir.path(), params.agents).await;
    std::fs::write(&config_path, hub_config(&url, ami_proxy.addr()).to_toml()).unwrap();
    let mut hub_runs = 0;
    let start_hub = |n: u32| {
        let config_path = config_path.clone();
        let log = dir.path().join(format!("hub-{n}.log"));
        tokio::task::spawn_blocking(move || HubProcess::start(&config_path, &log))
    };
    let mut hub = start_hub(hub_runs).await.unwrap();
    let hub_proxy = FaultProxy::start(hub.addr, params.seed, FaultPlan::none())
        .await
        .unwrap();
    assert!(
        wait_ami_back(&double, 0).await,
        "the hub never logged in to the PBX"
    );

    // Faults on the agents' side from now on.
    hub_proxy.set_plan(FaultPlan {
        refuse: 20,
        reset: 40,
        drop: 20,
        stall: 40,
        lose_reply: 40,
        cut_request: params.cut_requests,
        max_cut_ms: 30,
        max_delay_ms: 3000,
        max_stall_ms: 2500,
    });
    // Everyone logs in, again after a lost reply: the hub records `available` only for an
    // agent that was logged out, so however many logins got through there is one record (and
    // a session per login that got through; the lost ones simply expire).
    let mut logins = Vec::new();
    for (user, _, _) in &people {
        let (addr, user) = (hub_proxy.addr(), user.clone());
        logins.push(tokio::spawn(async move { login(addr, &user).await }));
    }
    let supervisor = login(hub_proxy.addr(), SUPERVISOR).await;
    let mut sims = Vec::new();
    let (stream_stop_tx, stream_stop) = tokio::sync::watch::channel(false);
    let mut streams = Vec::new();
    for (i, ((user, id, interface), token)) in people.iter().zip(logins).enumerate() {
        let token = token.await.unwrap();
        let log = Arc::new(SharedLog::default());
        log.set_token(&token);
        streams.push(tokio::spawn(follow_stream(
            hub_proxy.addr(),
            Arc::clone(&log),
            stream_stop.clone(),
        )));
        sims.push(Sim {
            index: i,
            agent_id: *id,
            user: user.clone(),
            interface: interface.clone(),
            token,
            rng: Rng::new(params.seed.wrapping_mul(1_000_003).wrapping_add(i as u64)),
            logged_in: true,
            paused: None,
            expected_states: vec![("available".into(), None)],
            expected_calls: Vec::new(),
            stats: Stats::default(),
            problems: Vec::new(),
            log,
        });
    }
    let reasons: Vec<(i64, String)> = {
        let token = sims[0].token.clone();
        let body = loop {
            if let Exchange::Reply { status: 200, body } = http(
                hub_proxy.addr(),
                "GET",
                "/api/v1/pause-reasons",
                Some(&token),
                None,
            )
            .await
            {
                break body;
            }
        };
        body.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["isExit"] == false)
            .map(|r| {
                (
                    r["id"].as_i64().unwrap(),
                    r["name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(reasons.len(), REASONS.len(), "{reasons:?}");

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let ctx = Arc::new(Ctx {
        hub: hub_proxy.addr(),
        double: Arc::clone(&double),
        gate: tokio::sync::RwLock::new(()),
        reasons,
        supervisor,
        call_seq: AtomicU64::new(0),
        stop,
    });
    let started = Instant::now();
    let agents: Vec<_> = sims
        .into_iter()
        .map(|sim| tokio::spawn(sim.run(Arc::clone(&ctx))))
        .collect();

    let mut faults = FaultLog::default();
    let mut problems = Vec::new();
    let deadline = started + Duration::from_secs(params.secs);
    let interval = Duration::from_secs((params.secs / 4).clamp(5, 20));
    let mut next = started + interval;
    let mut round = 0u64;
    while next < deadline {
        tokio::time::sleep_until((next - interval / 2).into()).await;
        // A stall on the PBX link while calls go on (well under the AMI keep-alive).
        ami_proxy.stall_all(Duration::from_millis(1500));
        faults.ami_stalls += 1;
        tokio::time::sleep_until(next.into()).await;
        let gate = ctx.gate.write().await;
        let mark = double.actions().len();
        match round % 4 {
            0 => {
                double.inject(AmiFault::DropConnections);
                faults.double_drops += 1;
            }
            1 => {
                hub.kill();
                faults.hub_kills += 1;
                hub_runs += 1;
                hub = start_hub(hub_runs).await.unwrap();
                hub_proxy.set_upstream(hub.addr);
            }
            2 => {
                ami_proxy.cut_all(Cut::Reset);
                faults.ami_resets += 1;
            }
            _ => {
                ami_proxy.cut_all(Cut::Drop);
                faults.ami_closes += 1;
            }
        }
        if !wait_ami_back(&double, mark).await {
            problems.push(format!(
                "the hub did not reconnect to the PBX (round {round})"
            ));
            drop(gate);
            break;
        }
        drop(gate);
        println!(
            "soak: {:>5.1} s  fault {round} done ({})",
            started.elapsed().as_secs_f64(),
            [
                "AMI double drop",
                "hub SIGKILL + restart",
                "AMI link reset",
                "AMI link closed"
            ][(round % 4) as usize]
        );
        round += 1;
        next += interval;
    }
    tokio::time::sleep_until(deadline.into()).await;
    let _ = stop_tx.send(true);
    let mut sims = Vec::new();
    for a in agents {
        sims.push(a.await.unwrap());
    }
    let ran = started.elapsed();

    // Quiet network: every stream must catch up with what its agent produced.
    hub_proxy.set_plan(FaultPlan::none());
    let catch_up = Instant::now() + SETTLE;
    for sim in &sims {
        let left = catch_up.saturating_duration_since(Instant::now());
        let caught_up = wait_for(left, || {
            let log = sim.log.lock();
            let states = log
                .events
                .iter()
                .filter(|e| e["type"] == "agent_state")
                .count();
            let calls = log
                .events
                .iter()
                .filter(|e| e["type"] == "call_ended")
                .count();
            states >= sim.expected_states.len() && calls >= sim.expected_calls.len()
        })
        .await;
        if !caught_up {
            problems.push(format!(
                "agent {}: its stream never delivered everything it produced",
                sim.index
            ));
        }
    }
    let mut days = HashMap::new();
    for sim in &sims {
        let mut tries = 0;
        loop {
            match http(
                hub_proxy.addr(),
                "GET",
                "/api/v1/me/day?since=0",
                Some(&sim.token),
                None,
            )
            .await
            {
                Exchange::Reply { status: 200, body } => {
                    days.insert(sim.index, body);
                    break;
                }
                _ if tries < 50 => tries += 1,
                other => panic!("GET /me/day: {other:?}"),
            }
        }
    }
    // The PBX must agree with the hub: each agent a member of its queue, paused exactly when
    // the hub says so, with the hub's reason.
    let members = double.queue_members(QUEUE);
    for sim in &sims {
        let member = members.iter().find(|(iface, _, _)| *iface == sim.interface);
        let want = sim.expected_states.last().cloned();
        let agrees = match (&want, member) {
            (Some((state, reason)), Some((_, paused, pbx_reason))) => {
                state != "logged_out"
                    && (state == "paused") == *paused
                    && (!*paused || reason == pbx_reason)
            }
            (Some((state, _)), None) => state == "logged_out",
            _ => false,
        };
        if !agrees {
            problems.push(format!(
                "agent {}: the PBX shows {member:?}, the hub recorded {want:?}",
                sim.index
            ));
        }
    }
    let _ = stream_stop_tx.send(true);
    for s in streams {
        let _ = s.await;
    }
    let hub_faults = hub_proxy.counts();
    let mut hub = hub;
    tokio::task::spawn_blocking(move || hub.interrupt())
        .await
        .unwrap();

    count(
        &params,
        &url,
        sims,
        &days,
        problems,
        &faults,
        hub_faults,
        ran,
        dir.path(),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn count(
    params: &Params,
    url: &str,
    sims: Vec<Sim>,
    days: &HashMap<usize, Value>,
    mut mismatches: Vec<String>,
    faults: &FaultLog,
    hub_faults: FaultCounts,
    ran: Duration,
    dir: &Path,
) -> Outcome {
    let store = Store::open(url).await.unwrap();
    let reason_names: HashMap<i64, String> = store
        .pause_reasons()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_after(after, 5000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        events.extend(page);
    }
    let mut by_agent: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut broadcast = Vec::new();
    for e in &events {
        match e.agent_id {
            Some(a) => by_agent.entry(a).or_default().push(e.id),
            None => broadcast.push(e.id),
        }
    }

    let mut stats = Stats::default();
    let (mut states_expected, mut states_recorded, mut states_streamed) = (0, 0, 0);
    let (mut calls_recorded, mut calls_streamed, mut calls_in_day) = (0, 0, 0);
    let (mut events_logged, mut events_streamed, mut duplicates, mut connects) = (0, 0, 0, 0);
    let mut missing = 0;
    for sim in &sims {
        stats.add(&sim.stats);
        mismatches.extend(sim.problems.iter().cloned());
        let who = format!("agent {} (id {})", sim.index, sim.agent_id);

        // State changes: produced = recorded = streamed, in order.
        let recorded: Vec<StateKey> = store
            .states_since(sim.agent_id, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.state,
                    r.reason_id.and_then(|id| reason_names.get(&id).cloned()),
                )
            })
            .collect();
        let (log_events, log_duplicates, log_anomalies, log_connects) = {
            let log = sim.log.lock();
            (
                log.events.clone(),
                log.duplicates.clone(),
                log.anomalies.clone(),
                log.connects,
            )
        };
        let streamed: Vec<StateKey> = log_events
            .iter()
            .filter(|e| e["type"] == "agent_state")
            .map(|e| {
                (
                    e["state"].as_str().unwrap_or("").to_string(),
                    e["reason"]["name"].as_str().map(str::to_string),
                )
            })
            .collect();
        states_expected += sim.expected_states.len();
        states_recorded += recorded.len();
        states_streamed += streamed.len();
        if recorded != sim.expected_states {
            mismatches.push(format!(
                "{who}: state changes recorded ≠ produced: {}",
                first_difference(&sim.expected_states, &recorded)
            ));
        }
        if streamed != sim.expected_states {
            mismatches.push(format!(
                "{who}: state changes streamed ≠ produced: {}",
                first_difference(&sim.expected_states, &streamed)
            ));
        }

        // Calls: each produced call recorded once, ended; streamed once.
        let calls = store.calls_since(sim.agent_id, 0).await.unwrap();
        calls_recorded += calls.len();
        let mut recorded_numbers: Vec<String> =
            calls.iter().map(|c| c.other_number.clone()).collect();
        recorded_numbers.sort();
        let mut expected_numbers = sim.expected_calls.clone();
        expected_numbers.sort();
        if recorded_numbers != expected_numbers {
            mismatches.push(format!(
                "{who}: calls recorded {recorded_numbers:?} ≠ produced {expected_numbers:?}"
            ));
        }
        for c in calls.iter().filter(|c| c.state != "ended") {
            mismatches.push(format!(
                "{who}: call {} recorded as {}",
                c.other_number, c.state
            ));
        }
        let mut streamed_numbers: Vec<String> = log_events
            .iter()
            .filter(|e| e["type"] == "call_ended")
            .map(|e| e["call"]["otherNumber"].as_str().unwrap_or("").to_string())
            .collect();
        streamed_numbers.sort();
        calls_streamed += streamed_numbers.len();
        if streamed_numbers != expected_numbers {
            mismatches.push(format!(
                "{who}: calls streamed {streamed_numbers:?} ≠ produced {expected_numbers:?}"
            ));
        }
        let day_in = days
            .get(&sim.index)
            .and_then(|d| d["callsIn"].as_u64())
            .unwrap_or(u64::MAX);
        calls_in_day += day_in;
        if day_in != sim.expected_calls.len() as u64 {
            mismatches.push(format!(
                "{who}: GET /me/day callsIn {day_in} ≠ {} produced",
                sim.expected_calls.len()
            ));
        }

        // The stream: no id twice, and exactly the ids of the log this agent may see.
        let mut visible: Vec<i64> = by_agent.get(&sim.agent_id).cloned().unwrap_or_default();
        visible.extend(&broadcast);
        visible.sort_unstable();
        let got: Vec<i64> = log_events.iter().filter_map(|e| e["id"].as_i64()).collect();
        events_logged += visible.len();
        events_streamed += got.len();
        duplicates += log_duplicates.len();
        connects += log_connects;
        if !log_duplicates.is_empty() {
            mismatches.push(format!("{who}: ids delivered twice: {:?}", log_duplicates));
        }
        for a in &log_anomalies {
            mismatches.push(format!("{who}: {a}"));
        }
        if got != visible {
            let lost: Vec<&i64> = visible.iter().filter(|id| !got.contains(id)).collect();
            let extra: Vec<&i64> = got.iter().filter(|id| !visible.contains(id)).collect();
            missing += lost.len();
            mismatches.push(format!(
                "{who}: stream ids ≠ log ids (missing {lost:?}, not in the log {extra:?})"
            ));
        }
    }
    store.close().await;

    let total_calls: u64 = sims.iter().map(|s| s.expected_calls.len() as u64).sum();
    let f = hub_faults;
    let summary = format!(
        "| soak | count |\n|---|---|\n\
         | agents · duration · seed | {agents} · {secs:.0} s · `{seed}` |\n\
         | hub `SIGKILL` + restart | {kills} |\n\
         | AMI double dropped its connections · AMI link reset · closed · stalled 1.5 s | {dd} · {ar} · {ac} · {ast} |\n\
         | agent↔hub connections through the fault proxy | {conns} |\n\
         | … refused · reset · closed · stalled · reply lost · hub down | {rf} · {rs} · {dr} · {st} · {lr} · {ud} |\n\
         | … cut while the request was being handled | {cut} |\n\
         | stream (re)connections | {connects} |\n\
         | state requests (pause, unpause, exit) · exits · logins | {req} · {ex} · {li} |\n\
         | … accepted (200) · reply lost, applied · reply lost, not applied · refused (PBX down) | {br} · {bc} · {na} · {rfd} |\n\
         | state changes produced · recorded · streamed | {se} · {sr} · {ss} |\n\
         | calls produced (AMI double) · recorded · streamed · `GET /me/day` | {tc} · {cr} · {cs} · {cd} |\n\
         | events in the log (visible to the agents) · streamed | {el} · {es} |\n\
         | ids delivered twice · ids missing | {dup} · {missing} |\n\
         | PBX queue member ≠ hub state (after every change and at the end) | {pbx} |\n\
         | mismatches | {mm} |\n",
        agents = params.agents,
        secs = ran.as_secs_f64(),
        seed = params.seed,
        kills = faults.hub_kills,
        dd = faults.double_drops,
        ar = faults.ami_resets,
        ac = faults.ami_closes,
        ast = faults.ami_stalls,
        conns = f.connections,
        rf = f.refused,
        rs = f.resets,
        dr = f.drops,
        st = f.stalls,
        lr = f.lost_replies,
        ud = f.upstream_down,
        cut = f.cut_requests,
        req = stats.requests,
        ex = stats.exits,
        li = stats.logins,
        br = stats.by_reply,
        bc = stats.by_reconcile,
        na = stats.not_applied,
        rfd = stats.refused,
        se = states_expected,
        sr = states_recorded,
        ss = states_streamed,
        tc = total_calls,
        cr = calls_recorded,
        cs = calls_streamed,
        cd = calls_in_day,
        el = events_logged,
        es = events_streamed,
        dup = duplicates,
        pbx = mismatches.iter().filter(|m| m.contains("the PBX shows")).count(),
        mm = mismatches.len(),
    );
    println!("{summary}");
    for m in mismatches.iter().take(40) {
        println!("MISMATCH {m}");
    }
    if let Some(path) = &params.summary {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let mut text = format!(
            "# cargo xtask soak\n\nReplay: `cargo xtask soak --agents {} --secs {} --seed {}`\n\n{summary}",
            params.agents, params.secs, params.seed
        );
        for m in &mismatches {
            text.push_str(&format!("\n- MISMATCH {m}"));
        }
        std::fs::write(path, text).unwrap();
    }
    if !mismatches.is_empty() {
        for n in 0..8 {
            let log = dir.join(format!("hub-{n}.log"));
            if let Ok(text) = std::fs::read_to_string(&log) {
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                println!("--- {} (tail)", log.display());
                for l in tail.iter().rev() {
                    println!("{l}");
                }
            }
        }
    }
    Outcome {
        summary,
        mismatches,
    }
}

fn first_difference(want: &[StateKey], have: &[StateKey]) -> String {
    let i = want
        .iter()
        .zip(have)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(have.len()));
    format!(
        "{} produced, {} found; from #{i}: produced {:?}, found {:?}",
        want.len(),
        have.len(),
        &want[i..want.len().min(i + 4)],
        &have[i..have.len().min(i + 4)]
    )
}
