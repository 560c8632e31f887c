//! Several hub instances on one real PostgreSQL (Debian's server, started on a free loopback
//! port by `enlace_peers::PostgresServer`), each instance a real `enlace-hub serve` process:
//! events written on one instance reach streams on the other, exactly one instance talks to
//! the PBX (the AMI double), the others relay their PBX commands to it, and when the owner is
//! killed another one takes the PBX over.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enlace_hub::config::AmiSettings;
use enlace_hub::HubConfig;
use enlace_peers::PostgresServer;
use enlace_sandbox::{AmiDouble, AmiScenario};
use serde_json::{json, Value};
use support::*;

/// An `enlace-hub serve` process; killed (SIGKILL, by its PID) when dropped.
struct Instance {
    child: Child,
    addr: SocketAddr,
}

impl Instance {
    fn start(config: &Path, log: &Path) -> Instance {
        let mut child = Command::new(env!("CARGO_BIN_EXE_enlace-hub"))
            .args(["--config"])
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "enlace_hub=debug")
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
        let addr = match rx.recv_timeout(WAIT) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "enlace-hub serve did not start: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        };
        Instance { child, addr }
    }

    /// SIGKILL: no clean-up at all, like a crashed machine.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database `name` on `pg`, initialized by `enlace-hub init` and administered through the
/// binary: agent Ana (1234567, extension 1001, queue support), supervisor Sara (7654321) and
/// the reason Baño. Returns the configuration file.
fn organization(pg: &PostgresServer, name: &str, dir: &Path, ami: Option<SocketAddr>) -> PathBuf {
    let url = pg.create_database(name).unwrap();
    // `input` on standard input (`--password-stdin`).
    let run_input = |args: &[&str], input: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_enlace-hub"))
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let run = |args: &[&str]| run_input(args, "");
    run(&["--database", &url, "init", "--dir", "."]);
    let config = HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: url,
        password_memory_kib: 64,
        password_iterations: 1,
        heartbeat_seconds: 3600,
        ami: ami.map(|addr| AmiSettings {
            addr: addr.to_string(),
            username: "ami".into(),
            secret: "amisecret".into(),
            secret_file: None,
            interface_template: "Local/{extension}@test".into(),
            dial_context: "from-internal".into(),
            originate_timeout_seconds: 5,
        }),
        ..HubConfig::default()
    };
    let path = dir.join("enlace-hub.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    let cfg = path.to_str().unwrap();
    run_input(
        &[
            "--config",
            cfg,
            "agent",
            "add",
            "--name",
            "Ana",
            "--extension",
            "1001",
            "--queue",
            "support",
            "--user",
            "1234567",
            "--password-stdin",
        ],
        "123456\n",
    );
    run_input(
        &[
            "--config",
            cfg,
            "agent",
            "add",
            "--name",
            "Sara",
            "--extension",
            "1009",
            "--supervisor",
            "--user",
            "7654321",
            "--password-stdin",
        ],
        "654321\n",
    );
    run(&[
        "--config",
        cfg,
        "pause-reason",
        "add",
        "Baño",
        "--budget",
        "15m",
    ]);
    path
}

async fn reason_id(addr: SocketAddr, token: &str, name: &str) -> i64 {
    let r = http(addr, "GET", "/api/v1/pause-reasons", Some(token), None).await;
    r.body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no reason {name}: {:?}", r.body))["id"]
        .as_i64()
        .unwrap()
}

async fn set_state(addr: SocketAddr, token: &str, body: Value) -> Reply {
    post(addr, "/api/v1/me/state", Some(token), body).await
}

fn is_state_of(e: &Value, name: &str, state: &str) -> bool {
    e["type"] == "agent_state" && e["agent"]["name"] == name && e["state"] == state
}

fn assert_no_duplicates(events: &[Value]) {
    let ids = ids(events);
    let unique: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "duplicated ids: {ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order: {ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_written_on_one_instance_reaches_streams_on_the_other() {
    let pg = PostgresServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = organization(&pg, "fanout", dir.path(), None);
    let a = Instance::start(&config, &dir.path().join("a.log"));
    let b = Instance::start(&config, &dir.path().join("b.log"));

    // Ana logs in on A and follows her stream on B; Sara supervises from A.
    let ana = token(a.addr, "1234567", "123456").await;
    let sara = token(b.addr, "7654321", "654321").await;
    let mut ana_on_b = stream(b.addr, &ana, 0).await;
    let mut sara_on_a = stream(a.addr, &sara, 0).await;
    let mut seen_by_ana = until(&mut ana_on_b, |e| is_state_of(e, "Ana", "available")).await;
    let mut seen_by_sara = until(&mut sara_on_a, |e| is_state_of(e, "Sara", "available")).await;

    // Paused through A: Ana's stream on B gets it, and Sara's on A.
    let baño = reason_id(a.addr, &ana, "Baño").await;
    let r = set_state(a.addr, &ana, json!({"state": "paused", "reason": baño})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let got = until(&mut ana_on_b, |e| is_state_of(e, "Ana", "paused")).await;
    assert_eq!(got.last().unwrap()["reason"]["name"], "Baño");
    seen_by_ana.extend(got);
    seen_by_sara.extend(until(&mut sara_on_a, |e| is_state_of(e, "Ana", "paused")).await);

    // Unpaused through B: the other way round.
    let r = set_state(b.addr, &ana, json!({"state": "available"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    seen_by_ana.extend(until(&mut ana_on_b, |e| is_state_of(e, "Ana", "available")).await);
    seen_by_sara.extend(until(&mut sara_on_a, |e| is_state_of(e, "Ana", "available")).await);
    assert_no_duplicates(&seen_by_ana);
    assert_no_duplicates(&seen_by_sara);

    // Two instances changing the same agent take turns: while the agent's state lock is held
    // (as instance B holds it during a change), a pause asked on A waits, then goes through.
    let ana_id = http(a.addr, "GET", "/api/v1/me", Some(&ana), None)
        .await
        .body["agent"]["id"]
        .as_i64()
        .unwrap();
    let mut holder = <sqlx::postgres::PgConnection as sqlx::Connection>::connect(&pg.url("fanout"))
        .await
        .unwrap();
    let key = enlace_hub::store::AGENT_STATE_LOCK_BASE + ana_id;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut holder)
        .await
        .unwrap();
    let waiting = {
        let ana = ana.clone();
        let addr = a.addr;
        tokio::spawn(async move {
            set_state(addr, &ana, json!({"state": "paused", "reason": baño})).await
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !waiting.is_finished(),
        "the pause did not wait for the lock"
    );
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut holder)
        .await
        .unwrap();
    assert_eq!(waiting.await.unwrap().status, 200);
    seen_by_ana.extend(until(&mut ana_on_b, |e| is_state_of(e, "Ana", "paused")).await);
    let r = set_state(b.addr, &ana, json!({"state": "available"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    seen_by_ana.extend(until(&mut ana_on_b, |e| is_state_of(e, "Ana", "available")).await);
    assert_no_duplicates(&seen_by_ana);

    // A stream that reconnects to the other instance resumes exactly after its last id.
    let last = *ids(&seen_by_ana).last().unwrap();
    drop(ana_on_b);
    let r = set_state(a.addr, &ana, json!({"state": "paused", "reason": baño})).await;
    assert_eq!(r.status, 200);
    let mut ana_on_a = stream(a.addr, &ana, last).await;
    let resumed = until(&mut ana_on_a, |e| is_state_of(e, "Ana", "paused")).await;
    assert!(ids(&resumed).iter().all(|id| *id > last), "{resumed:?}");
    assert_eq!(resumed.len(), 1, "only the missed event: {resumed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_owns_the_pbx_and_another_takes_over_when_it_is_killed() {
    let pg = PostgresServer::start().unwrap();
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = organization(&pg, "takeover", dir.path(), Some(double.addr()));
    let logins = |d: &AmiDouble| {
        d.actions()
            .iter()
            .filter(|a| {
                a.iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case("Action") && v == "Login")
            })
            .count()
    };

    let a = Instance::start(&config, &dir.path().join("a.log"));
    eventually("A connects to the PBX", || double.connections() == 1).await;
    let b = Instance::start(&config, &dir.path().join("b.log"));
    // B serves, but leaves the PBX to A (give it several ownership attempts).
    let ana = token(b.addr, "1234567", "123456").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(double.connections(), 1);
    assert_eq!(logins(&double), 1);

    // B's PBX commands are carried out by A: the login's QueueAdd, then a pause.
    eventually("QueueAdd relayed to the owner", || {
        double
            .queue_members("support")
            .iter()
            .any(|(interface, _, _)| interface == "Local/1001@test")
    })
    .await;
    let baño = reason_id(b.addr, &ana, "Baño").await;
    let r = set_state(b.addr, &ana, json!({"state": "paused", "reason": baño})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        double.queue_members("support"),
        vec![(
            "Local/1001@test".to_string(),
            true,
            Some("Baño".to_string())
        )]
    );

    // The owner dies without a word; B takes the PBX over, within seconds: its session ends
    // with the process, B tries the lock every second and waits its grace before connecting.
    let killed = Instant::now();
    a.kill();
    eventually("B connects to the PBX", || {
        double.connections() == 1 && logins(&double) == 2
    })
    .await;
    let takeover = killed.elapsed();
    assert!(
        takeover < Duration::from_secs(5),
        "PBX ownership took {takeover:?} to move after the owner was killed"
    );

    // B now talks to the PBX itself: unpause, and a queue call reaches Ana's stream on B.
    let r = set_state(b.addr, &ana, json!({"state": "available"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        double.queue_members("support"),
        vec![("Local/1001@test".to_string(), false, None)]
    );
    let after = http(b.addr, "GET", "/api/v1/me", Some(&ana), None).await;
    assert_eq!(after.body["state"]["state"], "available");
    let mut ws = stream(b.addr, &ana, 0).await;
    let runner = {
        let d = double.clone();
        tokio::task::spawn_blocking(move || {
            d.run(AmiScenario::InboundViaQueue {
                queue: "support".into(),
                caller: "5215512345678".into(),
                caller_name: "Cliente".into(),
                agent_interface: "Local/1001@test".into(),
                talk_ms: 20,
            })
        })
    };
    let events = until(&mut ws, |e| e["type"] == "call_ended").await;
    runner.await.unwrap();
    let ended = events.last().unwrap();
    assert_eq!(ended["call"]["otherNumber"], "5215512345678");
    assert_eq!(ended["call"]["localNumber"], "1001");
    assert_no_duplicates(&events);
    drop(b);
}

/// Actions of `name` received by the double, by position in its log.
fn positions(double: &AmiDouble, name: &str) -> Vec<usize> {
    double
        .actions()
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            a.iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("Action") && v == name)
        })
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_loses_its_lock_session_lets_go_of_the_pbx_before_anyone_takes_it() {
    let pg = PostgresServer::start().unwrap();
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = organization(&pg, "lostlock", dir.path(), Some(double.addr()));
    let a = Instance::start(&config, &dir.path().join("a.log"));
    eventually("A connects to the PBX", || double.connections() == 1).await;
    let b = Instance::start(&config, &dir.path().join("b.log"));
    let _ = token(b.addr, "1234567", "123456").await;

    // The server ends the owner's lock session (as it does for a silent peer once its
    // keepalives go unanswered, or an administrator would): the lock is free at once.
    let mut admin =
        <sqlx::postgres::PgConnection as sqlx::Connection>::connect(&pg.url("lostlock"))
            .await
            .unwrap();
    let key = 0x656e_6c61_6365_0003_i64; // store::PBX_LOCK
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
         AND classid = ($1 >> 32)::oid AND objid = ($1 & 4294967295)::oid AND granted",
    )
    .bind(key)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(ended, [true], "one session held the PBX lock");

    // The old owner logs off, then one instance (whichever takes the lock) logs in again:
    // never two PBX connections at once.
    eventually("the PBX is owned again", || {
        positions(&double, "Login").len() == 2
    })
    .await;
    let logoff = positions(&double, "Logoff");
    let second_login = positions(&double, "Login")[1];
    assert!(
        logoff.first().is_some_and(|l| *l < second_login),
        "the old owner was still on the PBX when the new one logged in: {:?}",
        double.actions()
    );
    eventually("one PBX connection", || double.connections() == 1).await;
    drop((a, b));
}
