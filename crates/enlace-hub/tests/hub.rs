//! Integration tests of the hub: the real HTTP server in-process on 127.0.0.1:0 with a temp
//! SQLite file, a raw HTTP/1.1 client, a tokio-tungstenite stream client, the AMI double of
//! `enlace-sandbox` for the PBX, and the `enlace-hub` binary for the CLI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_core::{Clock, Timestamp};
use enlace_hub::auth::{hash_password, PasswordCost};
use enlace_hub::config::AmiSettings;
use enlace_hub::store::NewAgent;
use enlace_hub::testing::Served;
use enlace_hub::{Hub, HubConfig};
use enlace_sandbox::{AmiDouble, AmiFault, AmiScenario, OriginateScript};
use futures_util::StreamExt;
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};

#[derive(Debug, Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn new() -> Self {
        TestClock(Arc::new(AtomicI64::new(T0)))
    }
    fn advance(&self, d: Duration) {
        self.0
            .fetch_add(i64::try_from(d.as_millis()).unwrap(), Ordering::SeqCst);
    }
    fn rewind(&self, d: Duration) {
        self.0
            .fetch_sub(i64::try_from(d.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// A hub serving on a free loopback port.
async fn serve(config: HubConfig, clock: &TestClock) -> Served {
    Served::start(config, Arc::new(clock.clone()), "127.0.0.1:0").await
}

fn config(dir: &Path) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("hub.db").display()),
        password_memory_kib: CHEAP.memory_kib,
        password_iterations: CHEAP.iterations,
        session_idle_minutes: 10,
        session_max_hours: 1,
        // Long enough that no test relies on a heartbeat by accident.
        heartbeat_seconds: 3600,
        ..HubConfig::default()
    }
}

struct Seed {
    baño: i64,
    salida: i64,
}

async fn seed(hub: &Hub) -> Seed {
    let store = hub.store();
    add_agent(hub, "1234567", "123456", "Ana", "1001", false).await;
    add_agent(hub, "7654321", "654321", "Beto", "1002", false).await;
    add_agent(hub, "1111111", "111111", "Sara", "1009", true).await;
    let baño = store
        .insert_pause_reason("Baño", Some(60), false, T0)
        .await
        .unwrap();
    let salida = store
        .insert_pause_reason("Salida", None, true, T0)
        .await
        .unwrap();
    Seed { baño, salida }
}

async fn add_agent(hub: &Hub, user: &str, password: &str, name: &str, ext: &str, sup: bool) {
    let hash = hash_password(password, CHEAP).unwrap();
    hub.store()
        .insert_agent(
            &NewAgent {
                user,
                password_hash: &hash,
                name,
                extension: ext,
                queues: &["support".to_string()],
                supervisor: sup,
            },
            T0,
        )
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Login and sessions

#[tokio::test]
async fn login_opens_a_session_and_makes_the_agent_available() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;

    let r = login(server.addr, "1234567", "123456").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["agent"]["user"], "1234567");
    assert_eq!(r.body["state"]["state"], "available");
    let token = r.body["token"].as_str().unwrap();
    assert_eq!(token.len(), 43);

    let me = me(server.addr, token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["agent"]["name"], "Ana");
    assert_eq!(me.body["state"]["state"], "available");
    assert_eq!(me.body["state"]["since"], T0);

    // The database keeps only the token's hash.
    let hash = enlace_hub::auth::token_hash(token);
    assert!(server.hub.store().session(&hash).await.unwrap().is_some());
    assert!(server.hub.store().session(token).await.unwrap().is_none());
}

#[tokio::test]
async fn wrong_or_malformed_credentials_are_refused_alike() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;

    for (user, password) in [
        ("1234567", "000000"),
        ("9999999", "123456"),
        ("abc", "123456"),
        ("1234567", "1234567"),
    ] {
        let r = login(server.addr, user, password).await;
        assert_eq!(r.status, 401, "{user}/{password}");
        assert_eq!(r.body["code"], "bad_credentials");
    }
}

#[tokio::test]
async fn a_clock_that_jumps_back_does_not_lock_the_agent_out() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;
    for _ in 0..5 {
        assert_eq!(login(server.addr, "1234567", "000000").await.status, 401);
    }
    assert_eq!(
        login(server.addr, "1234567", "123456").await.body["retryAfter"],
        30
    );
    // The machine's clock is set back a day: the wait stays the 30 s it was, not a day more.
    clock.rewind(Duration::from_secs(24 * 3600));
    let r = login(server.addr, "1234567", "123456").await;
    assert_eq!((r.status, r.body["retryAfter"].as_i64()), (429, Some(30)));
    clock.advance(Duration::from_secs(31));
    assert_eq!(login(server.addr, "1234567", "123456").await.status, 201);
    // Stream ids do not depend on the clock: a resume after the jump misses nothing.
    let t = token(server.addr, "1234567", "123456").await;
    let mut ws = stream(server.addr, &t, 0).await;
    assert_eq!(next(&mut ws).await.unwrap()["state"], "available");
}

#[tokio::test]
async fn repeated_failures_throttle_the_user_with_growing_delays() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;

    for _ in 0..5 {
        assert_eq!(
            login(server.addr, "1234567", "000000").await.body["code"],
            "bad_credentials"
        );
    }
    // Even the right password waits now.
    let r = login(server.addr, "1234567", "123456").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["code"], "throttled");
    assert_eq!(r.body["retryAfter"], 30);
    assert!(r.headers.contains("retry-after: 30"), "{}", r.headers);
    // Other users are not affected.
    assert_eq!(login(server.addr, "7654321", "654321").await.status, 201);

    clock.advance(Duration::from_secs(31));
    // A sixth failure doubles the delay.
    assert_eq!(login(server.addr, "1234567", "000000").await.status, 401);
    let r = login(server.addr, "1234567", "123456").await;
    assert_eq!(r.body["retryAfter"], 60);

    clock.advance(Duration::from_secs(61));
    assert_eq!(login(server.addr, "1234567", "123456").await.status, 201);
    // Success clears the user's failures.
    assert_eq!(login(server.addr, "1234567", "000000").await.status, 401);
    assert_eq!(login(server.addr, "1234567", "123456").await.status, 201);
}

#[tokio::test]
async fn parallel_guesses_cannot_outrun_the_throttle() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;
    let guesses: Vec<_> = (0..15)
        .map(|i| {
            let addr = server.addr;
            tokio::spawn(
                async move { login(addr, "1234567", &format!("{:06}", 900_000 + i)).await },
            )
        })
        .collect();
    let mut refused = 0;
    let mut throttled = 0;
    for g in guesses {
        match g.await.unwrap().status {
            401 => refused += 1,
            429 => throttled += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((refused, throttled), (5, 10));
}

#[tokio::test]
async fn many_failures_from_one_address_throttle_every_user_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;

    for i in 0..enlace_hub::auth::ADDRESS_FAILURE_LIMIT {
        let user = format!("{:07}", 2_000_000 + i);
        assert_eq!(login(server.addr, &user, "000000").await.status, 401);
    }
    let r = login(server.addr, "7654321", "654321").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["code"], "throttled");
}

#[tokio::test]
async fn disabled_agents_are_refused_and_their_sessions_end() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;
    let token = token(server.addr, "1234567", "123456").await;
    let mut ws = stream(server.addr, &token, 0).await;
    assert_eq!(next(&mut ws).await.unwrap()["state"], "available");

    server
        .hub
        .store()
        .set_agent_disabled("1234567", true)
        .await
        .unwrap();
    let r = me(server.addr, &token).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("agent_disabled"))
    );
    assert_eq!(
        me(server.addr, &token).await.body["code"],
        "session_expired"
    );
    let r = login(server.addr, "1234567", "123456").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("agent_disabled"))
    );
    // A wrong password does not reveal that the agent is disabled.
    assert_eq!(
        login(server.addr, "1234567", "000000").await.body["code"],
        "bad_credentials"
    );

    // Housekeeping logs the disabled agent out, which ends its stream.
    server.hub.tick().await.unwrap();
    let e = next(&mut ws).await.unwrap();
    assert_eq!(e["state"], "logged_out");
    assert_eq!(next(&mut ws).await, Err(Some(4001)));
}

#[tokio::test]
async fn sessions_expire_when_idle_are_renewed_by_use_and_have_a_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;

    // Idle 10 minutes, renewed on use, never beyond 1 hour.
    let t = token(server.addr, "1234567", "123456").await;
    for _ in 0..6 {
        clock.advance(Duration::from_secs(9 * 60));
        assert_eq!(me(server.addr, &t).await.status, 200);
    }
    clock.advance(Duration::from_secs(7 * 60)); // 61 minutes after login
    let r = me(server.addr, &t).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("session_expired"))
    );

    let t = token(server.addr, "1234567", "123456").await;
    clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(me(server.addr, &t).await.body["code"], "session_expired");

    // Housekeeping logs out an agent whose sessions all expired.
    server.hub.tick().await.unwrap();
    let id = server
        .hub
        .store()
        .agent_by_user("1234567")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        server.hub.agent_state(id).await.unwrap().name(),
        "logged_out"
    );
}

#[tokio::test]
async fn logout_ends_the_session_and_the_shift() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;
    let t = token(server.addr, "1234567", "123456").await;
    let mut ws = stream(server.addr, &t, 0).await;
    assert_eq!(next(&mut ws).await.unwrap()["state"], "available");

    let r = http(
        server.addr,
        "DELETE",
        "/api/v1/sessions/current",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(me(server.addr, &t).await.body["code"], "session_expired");
    assert_eq!(next(&mut ws).await.unwrap()["state"], "logged_out");
    assert_eq!(next(&mut ws).await, Err(Some(4001)));
}

#[tokio::test]
async fn guessed_or_missing_tokens_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;
    let real = token(server.addr, "1234567", "123456").await;

    let guessed = enlace_hub::auth::new_token().unwrap();
    let mut almost = real.clone();
    almost.pop();
    almost.push(if real.ends_with('A') { 'B' } else { 'A' });
    let long = "A".repeat(5000);
    let hash_as_token = enlace_hub::auth::token_hash(&real);
    for t in [
        guessed.as_str(),
        almost.as_str(),
        "",
        long.as_str(),
        hash_as_token.as_str(),
    ] {
        let r = me(server.addr, t).await;
        assert_eq!(r.status, 401, "{t}");
        assert_eq!(r.body["code"], "session_expired");
    }
    let r = http(server.addr, "GET", "/api/v1/me", None, None).await;
    assert_eq!(r.body["code"], "session_expired");
    // The stream refuses them too.
    let mut req = format!("ws://{}/api/v1/stream", server.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {guessed}").parse().unwrap(),
    );
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    seed(&server.hub).await;
    let t = token(server.addr, "1234567", "123456").await;

    for body in [
        &b"{not json"[..],
        b"[]",
        br#"{"user": 1234567, "password": "123456"}"#,
        b"",
    ] {
        let r = http(server.addr, "POST", "/api/v1/sessions", None, Some(body)).await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(r.body["code"], "invalid_request");
    }
    for body in [
        json!({"state": "dancing"}),
        json!({"state": "paused"}),
        json!({"state": "paused", "reason": "x"}),
    ] {
        let r = post(server.addr, "/api/v1/me/state", Some(&t), body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("invalid_request"))
        );
    }
    let huge = format!(
        r#"{{"user":"{}","password":"123456"}}"#,
        "1".repeat(70 * 1024)
    );
    let r = http(
        server.addr,
        "POST",
        "/api/v1/sessions",
        None,
        Some(huge.as_bytes()),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let r = http(server.addr, "GET", "/api/v1/nothing", None, None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("not_found"))
    );
    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": 999}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (404, Some("not_found"))
    );
    let r = post(
        server.addr,
        "/api/v1/calls",
        Some(&t),
        json!({"number": "1002\r\nAction: Logoff"}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    // Without a PBX, click-to-dial says so.
    let r = post(
        server.addr,
        "/api/v1/calls",
        Some(&t),
        json!({"number": "+525512345678"}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (503, Some("pbx_offline"))
    );
}

// ---------------------------------------------------------------------------------------------
// States, pauses, events

#[tokio::test]
async fn pause_unpause_budget_and_exit_produce_states_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    let seed = seed(&server.hub).await;
    let t = token(server.addr, "1234567", "123456").await;
    let mut ws = stream(server.addr, &t, 0).await;

    let reasons = http(server.addr, "GET", "/api/v1/pause-reasons", Some(&t), None).await;
    assert_eq!(reasons.body[0]["name"], "Baño");
    assert_eq!(reasons.body[0]["budgetSeconds"], 60);
    assert_eq!(reasons.body[1]["isExit"], true);

    clock.advance(Duration::from_secs(5));
    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": seed.baño}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["state"], "paused");
    assert_eq!(r.body["reason"]["name"], "Baño");
    assert_eq!(r.body["since"], T0 + 5_000);

    // Budget: nothing before 60 s, one warning after, not repeated.
    clock.advance(Duration::from_secs(60));
    server.hub.tick().await.unwrap();
    clock.advance(Duration::from_secs(2));
    server.hub.tick().await.unwrap();
    server.hub.tick().await.unwrap();

    clock.advance(Duration::from_secs(10));
    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "available"}),
    )
    .await;
    assert_eq!(r.body["state"], "available");

    let day = http(
        server.addr,
        "GET",
        &format!("/api/v1/me/day?since={T0}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(day.body["pauses"][0]["reason"]["name"], "Baño");
    assert_eq!(day.body["pauses"][0]["seconds"], 72);
    assert_eq!(day.body["callsIn"], 0);

    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": seed.salida}),
    )
    .await;
    assert_eq!(r.body["state"], "logged_out");
    assert_eq!(me(server.addr, &t).await.body["code"], "session_expired");

    let events = until(&mut ws, |e| e["state"] == "logged_out").await;
    let kinds: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("agent_state", "available"),
        ("agent_state", "paused"),
        ("pause_budget_exceeded", ""),
        ("agent_state", "available"),
        ("agent_state", "logged_out"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(kinds, expected);
    assert_eq!(events[2]["reason"]["name"], "Baño");
    // Not at exactly 60 s: at the first check after it.
    assert_eq!(events[2]["overSeconds"], 2);
    assert!(ids(&events).windows(2).all(|w| w[0] < w[1]));
    assert_eq!(next(&mut ws).await, Err(Some(4001)));

    // The state log has every change.
    let id = server
        .hub
        .store()
        .agent_by_user("1234567")
        .await
        .unwrap()
        .unwrap()
        .id;
    let log = server.hub.store().states_since(id, 0).await.unwrap();
    let states: Vec<&str> = log.iter().map(|s| s.state.as_str()).collect();
    assert_eq!(states, ["available", "paused", "available", "logged_out"]);
}

#[tokio::test]
async fn supervisors_see_every_agents_state_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    let seed = seed(&server.hub).await;
    let sup = token(server.addr, "1111111", "111111").await;
    let beto = token(server.addr, "7654321", "654321").await;
    let mut sup_ws = stream(server.addr, &sup, 0).await;
    let mut beto_ws = stream(server.addr, &beto, 0).await;

    let ana = token(server.addr, "1234567", "123456").await;
    post(
        server.addr,
        "/api/v1/me/state",
        Some(&ana),
        json!({"state": "paused", "reason": seed.baño}),
    )
    .await;

    let seen = until(&mut sup_ws, |e| {
        e["agent"]["name"] == "Ana" && e["state"] == "paused"
    })
    .await;
    assert!(seen.iter().any(|e| e["agent"]["name"] == "Beto"));
    // Beto's stream carries only Beto's events.
    post(
        server.addr,
        "/api/v1/me/state",
        Some(&beto),
        json!({"state": "paused", "reason": seed.baño}),
    )
    .await;
    let beto_seen = until(&mut beto_ws, |e| e["state"] == "paused").await;
    assert!(
        beto_seen.iter().all(|e| e["agent"]["name"] == "Beto"),
        "{beto_seen:?}"
    );

    let r = http(server.addr, "GET", "/api/v1/agents", Some(&beto), None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
    let r = http(server.addr, "GET", "/api/v1/agents", Some(&sup), None).await;
    assert_eq!(r.status, 200);
    let ana_row = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Ana")
        .unwrap()
        .clone();
    assert_eq!(ana_row["state"]["state"], "paused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stream_resumes_after_a_cut_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    let seed = seed(&server.hub).await;
    let t = token(server.addr, "1234567", "123456").await;
    let agent_id = server
        .hub
        .store()
        .agent_by_user("1234567")
        .await
        .unwrap()
        .unwrap()
        .id;

    // Events are produced while the stream connects and replays.
    let writer = {
        let addr = server.addr;
        let t = t.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let body = if i % 2 == 0 {
                    json!({"state": "paused", "reason": seed.baño})
                } else {
                    json!({"state": "available"})
                };
                assert_eq!(
                    post(addr, "/api/v1/me/state", Some(&t), body).await.status,
                    200
                );
            }
        })
    };
    let mut ws = stream(server.addr, &t, 0).await;
    // More streams join at different moments of the burst: each must see every event once.
    let mut joiners = Vec::new();
    for _ in 0..8 {
        joiners.push(stream(server.addr, &t, 0).await);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let mut got = Vec::new();
    for _ in 0..15 {
        got.push(next(&mut ws).await.unwrap());
    }
    // Cut.
    drop(ws);
    writer.await.unwrap();
    let last = got.last().unwrap()["id"].as_i64().unwrap();
    let mut ws = stream(server.addr, &t, last).await;
    // 1 login + 40 changes.
    while got.len() < 41 {
        got.push(next(&mut ws).await.unwrap());
    }
    let expected: Vec<i64> = server
        .hub
        .events()
        .after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.agent_id == Some(agent_id))
        .map(|e| e.id)
        .collect();
    assert_eq!(ids(&got), expected);
    for mut joiner in joiners {
        let mut seen = Vec::new();
        while seen.len() < expected.len() {
            seen.push(next(&mut joiner).await.unwrap());
        }
        assert_eq!(ids(&seen), expected);
    }
    // Nothing more is pending.
    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": seed.baño}),
    )
    .await;
    assert_eq!(r.status, 200);
    let e = next(&mut ws).await.unwrap();
    assert!(e["id"].as_i64().unwrap() > *expected.last().unwrap());
    assert_eq!(e["state"], "paused");
}

#[tokio::test]
async fn stream_resumes_after_a_hub_restart_on_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    let seed = seed(&server.hub).await;
    let t = token(server.addr, "1234567", "123456").await;
    let mut ws = stream(server.addr, &t, 0).await;
    post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": seed.baño}),
    )
    .await;
    let before = until(&mut ws, |e| e["state"] == "paused").await;
    let last = *ids(&before).last().unwrap();

    server.shutdown().await;
    assert_eq!(next(&mut ws).await, Err(Some(1012)));

    let server = serve(config(dir.path()), &clock).await;
    // The session survived the restart, and so did the state.
    let r = me(server.addr, &t).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["state"]["state"], "paused");
    post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "available"}),
    )
    .await;
    let mut ws = stream(server.addr, &t, last).await;
    let e = next(&mut ws).await.unwrap();
    assert_eq!(e["id"].as_i64().unwrap(), last + 1);
    assert_eq!(e["state"], "available");
    // And from the start, the whole history in order.
    let mut ws = stream(server.addr, &t, 0).await;
    let all = until(&mut ws, |e| e["id"].as_i64() == Some(last + 1)).await;
    assert_eq!(ids(&all), [ids(&before), vec![last + 1]].concat());
}

#[tokio::test]
async fn heartbeats_keep_live_peers_and_close_silent_ones() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(
        HubConfig {
            heartbeat_seconds: 1,
            ..config(dir.path())
        },
        &clock,
    )
    .await;
    seed(&server.hub).await;
    let t = token(server.addr, "1234567", "123456").await;

    // A client that reads (and so answers pings) stays connected across several pings, and
    // its session does not expire while it does (idle limit: 10 minutes).
    let mut ws = stream(server.addr, &t, 0).await;
    let mut pings = 0;
    while pings < 4 {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Ping(_))) => {
                pings += 1;
                clock.advance(Duration::from_secs(8 * 60));
            }
            Some(Ok(Message::Text(_))) => {}
            other => panic!("live peer lost its stream: {other:?}"),
        }
    }
    // One more ping so the last advance is covered by a renewal.
    loop {
        if let Some(Ok(Message::Ping(_))) = tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            break;
        }
    }
    assert_eq!(me(server.addr, &t).await.status, 200);

    // A peer that never answers is closed with 1001.
    let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let handshake = format!(
        "GET /api/v1/stream HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {t}\r\n\r\n",
        server.addr
    );
    raw.write_all(handshake.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(WAIT, raw.read_to_end(&mut bytes))
        .await
        .expect("the server closes a silent peer")
        .unwrap();
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(bytes.starts_with(b"HTTP/1.1 101"));
    // Walk the (unmasked, short) server frames.
    let mut frames = Vec::new();
    let mut i = head_end;
    while i + 2 <= bytes.len() {
        let opcode = bytes[i] & 0x0f;
        let (len, start) = match bytes[i + 1] & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]])),
                i + 4,
            ),
            n => (usize::from(n), i + 2),
        };
        frames.push((
            opcode,
            bytes[start..(start + len).min(bytes.len())].to_vec(),
        ));
        i = start + len;
    }
    assert!(
        frames.iter().any(|(op, _)| *op == 0x9),
        "no ping: {frames:?}"
    );
    let (op, payload) = frames.last().unwrap();
    assert_eq!(*op, 0x8);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001);
}

#[tokio::test]
async fn retention_prunes_old_events_and_streams_say_what_was_lost() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let cfg = HubConfig {
        session_idle_minutes: 30 * 24 * 60,
        session_max_hours: 30 * 24,
        ..config(dir.path())
    };
    let server = serve(cfg, &clock).await;
    seed(&server.hub).await;
    let lunch = server
        .hub
        .store()
        .insert_pause_reason("Almuerzo", None, false, T0)
        .await
        .unwrap();
    let t = token(server.addr, "1234567", "123456").await;
    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": lunch}),
    )
    .await;
    assert_eq!(r.status, 200);
    let old = server.hub.events().after(0, 100).await.unwrap();
    assert_eq!(old.len(), 2);

    // Retention is 7 days.
    clock.advance(Duration::from_secs(8 * 86_400));
    server.hub.tick().await.unwrap();
    assert!(server.hub.events().after(0, 100).await.unwrap().is_empty());

    post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "available"}),
    )
    .await;
    let mut ws = stream(server.addr, &t, old[0].id).await;
    let notice = next(&mut ws).await.unwrap();
    assert_eq!(notice["type"], "stream_truncated");
    assert_eq!(notice["oldestAvailable"], old[1].id + 1);
    let e = next(&mut ws).await.unwrap();
    assert_eq!(
        (e["id"].as_i64().unwrap(), e["state"].as_str()),
        (old[1].id + 1, Some("available"))
    );
    // A client that saw everything kept gets no notice.
    let mut ws = stream(server.addr, &t, old[1].id).await;
    assert_eq!(
        next(&mut ws).await.unwrap()["id"].as_i64().unwrap(),
        old[1].id + 1
    );
}

// ---------------------------------------------------------------------------------------------
// PBX through the AMI double

fn ami_config(dir: &Path, double: &AmiDouble) -> HubConfig {
    HubConfig {
        ami: Some(AmiSettings {
            addr: double.addr().to_string(),
            username: "ami".into(),
            secret: "amisecret".into(),
            secret_file: None,
            interface_template: "Local/{extension}@test".into(),
            dial_context: "from-internal".into(),
            originate_timeout_seconds: 5,
        }),
        ..config(dir)
    }
}

fn action_fields(double: &AmiDouble, action: &str) -> Vec<Vec<(String, String)>> {
    double
        .actions()
        .into_iter()
        .filter(|a| {
            a.iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("Action") && v == action)
        })
        .collect()
}

fn field<'a>(action: &'a [(String, String)], key: &str) -> Option<&'a str> {
    action
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn login_pause_unpause_exit_drive_the_queue_through_ami() {
    let double = AmiDouble::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(ami_config(dir.path(), &double), &clock).await;
    let seed = seed(&server.hub).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;

    let t = token(server.addr, "1234567", "123456").await;
    eventually("QueueAdd", || {
        double.queue_members("support") == [("Local/1001@test".to_string(), false, None)]
    })
    .await;

    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": seed.baño}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        double.queue_members("support"),
        [(
            "Local/1001@test".to_string(),
            true,
            Some("Baño".to_string())
        )]
    );
    let pauses = action_fields(&double, "QueuePause");
    assert_eq!(field(&pauses[0], "Interface"), Some("Local/1001@test"));
    assert_eq!(field(&pauses[0], "Paused"), Some("true"));
    assert_eq!(field(&pauses[0], "Reason"), Some("Baño"));

    post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "available"}),
    )
    .await;
    assert_eq!(
        double.queue_members("support"),
        [("Local/1001@test".to_string(), false, None)]
    );
    assert_eq!(
        field(&action_fields(&double, "QueuePause")[1], "Paused"),
        Some("false")
    );

    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "exit"}),
    )
    .await;
    assert_eq!(r.body["state"], "logged_out");
    assert!(double.queue_members("support").is_empty());
    assert_eq!(
        field(&action_fields(&double, "QueueRemove")[0], "Interface"),
        Some("Local/1001@test")
    );
    assert_eq!(me(server.addr, &t).await.body["code"], "session_expired");
}

#[tokio::test]
async fn after_a_pbx_reconnection_the_queues_are_corrected_to_match_the_hub() {
    let double = AmiDouble::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(ami_config(dir.path(), &double), &clock).await;
    let seed = seed(&server.hub).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(server.addr, "1234567", "123456").await;
    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": seed.baño}),
    )
    .await;
    assert_eq!(r.status, 200);
    let ana = (
        "Local/1001@test".to_string(),
        true,
        Some("Baño".to_string()),
    );
    assert_eq!(double.queue_members("support"), vec![ana.clone()]);

    // While the hub is not looking (a change the PBX never told it, as during an outage), the
    // PBX drifts: Ana's pause is lifted and Beto (logged out in the hub: a QueueRemove lost in
    // an outage) is a member again. (Changes the hub sees are followed at once: tests/pbx.rs.)
    double.set_member_silently("support", "Local/1001@test", false, None);
    double.set_member_silently("support", "Local/1002@test", false, None);
    assert_eq!(double.queue_members("support").len(), 2);

    // The hub reconnects, reads QueueStatus and puts things right.
    double.inject(AmiFault::DropConnections);
    eventually("the PBX matches the hub again", || {
        double.queue_members("support") == vec![ana.clone()]
    })
    .await;
    let remove = action_fields(&double, "QueueRemove").pop().unwrap();
    assert_eq!(field(&remove, "Interface"), Some("Local/1002@test"));
    let pause = action_fields(&double, "QueuePause").pop().unwrap();
    assert_eq!(field(&pause, "Paused"), Some("true"));
    assert_eq!(field(&pause, "Reason"), Some("Baño"));
    assert!(!action_fields(&double, "QueueStatus").is_empty());
}

#[tokio::test]
async fn a_pbx_that_vanishes_mid_call_ends_the_call_and_frees_the_agent() {
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(ami_config(dir.path(), &double), &clock).await;
    seed(&server.hub).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(server.addr, "1234567", "123456").await;
    let mut ws = stream(server.addr, &t, 0).await;
    assert_eq!(next(&mut ws).await.unwrap()["state"], "available");
    double.run_in_background(AmiScenario::InboundViaQueue {
        queue: "support".into(),
        caller: "5215512345678".into(),
        caller_name: "Cliente".into(),
        agent_interface: "Local/1001@test".into(),
        talk_ms: 60_000,
    });
    until(&mut ws, |e| e["state"] == "on_call").await;

    double.inject(AmiFault::DropConnections);
    let events = until(&mut ws, |e| e["type"] == "call_ended").await;
    let ended = events.last().unwrap();
    assert_eq!(ended["call"]["otherNumber"], "5215512345678");
    assert_eq!(
        ended["call"]["hangupCause"]["text"],
        enlace_hub::pbx::LOST_CAUSE
    );
    assert_eq!(next(&mut ws).await.unwrap()["state"], "available");
    let me = me(server.addr, &t).await;
    assert_eq!(me.body["state"]["state"], "available");
}

#[tokio::test]
async fn click_to_dial_originates_and_reports_the_outcome() {
    let double = AmiDouble::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(ami_config(dir.path(), &double), &clock).await;
    seed(&server.hub).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(server.addr, "1234567", "123456").await;

    double.set_originate_outcome(OriginateScript::Busy);
    let r = post(
        server.addr,
        "/api/v1/calls",
        Some(&t),
        json!({"number": "5551234"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["outcome"], "busy");
    let originate = action_fields(&double, "Originate");
    assert_eq!(field(&originate[0], "Channel"), Some("Local/1001@test"));
    assert_eq!(field(&originate[0], "Exten"), Some("5551234"));
    assert_eq!(field(&originate[0], "Context"), Some("from-internal"));

    double.set_originate_outcome(OriginateScript::Answer { talk_ms: 10 });
    let r = post(
        server.addr,
        "/api/v1/calls",
        Some(&t),
        json!({"number": "5551234"}),
    )
    .await;
    assert_eq!(r.body["outcome"], "answered");
}

#[tokio::test]
async fn pbx_calls_become_agent_events_and_the_day_counts_them() {
    let double = AmiDouble::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(ami_config(dir.path(), &double), &clock).await;
    seed(&server.hub).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(server.addr, "1234567", "123456").await;
    let mut ws = stream(server.addr, &t, 0).await;
    assert_eq!(next(&mut ws).await.unwrap()["state"], "available");

    let d = Arc::new(double);
    let runner = {
        let d = d.clone();
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
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"call_ringing"), "{kinds:?}");
    assert!(kinds.contains(&"call_answered"), "{kinds:?}");
    let ended = events.last().unwrap();
    assert_eq!(ended["call"]["direction"], "incoming");
    assert_eq!(ended["call"]["otherNumber"], "5215512345678");
    // Talking made the agent on_call, the hang-up made it available again.
    let states: Vec<&str> = events.iter().filter_map(|e| e["state"].as_str()).collect();
    assert_eq!(states, ["on_call"]);
    assert_eq!(next(&mut ws).await.unwrap()["state"], "available");

    let day = http(
        server.addr,
        "GET",
        &format!("/api/v1/me/day?since={T0}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(day.body["callsIn"], 1);
    assert_eq!(day.body["callsOut"], 0);
}

#[tokio::test]
async fn a_pause_is_refused_while_the_pbx_is_unreachable() {
    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let mut cfg = config(dir.path());
    cfg.ami = Some(AmiSettings {
        addr: addr.to_string(),
        ..AmiSettings::default()
    });
    let server = serve(cfg, &clock).await;
    let seed = seed(&server.hub).await;
    let t = token(server.addr, "1234567", "123456").await;
    let r = post(
        server.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": seed.baño}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (503, Some("pbx_offline"))
    );
    assert_eq!(
        me(server.addr, &t).await.body["state"]["state"],
        "available"
    );
}

// ---------------------------------------------------------------------------------------------
// OpenAPI and CLI

#[tokio::test]
async fn openapi_documents_every_route_and_is_served() {
    let doc: Value = serde_json::from_str(&enlace_hub::api::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path, _) in enlace_hub::api::every_route() {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from openapi.json"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, enlace_hub::api::every_route().len());

    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let server = serve(config(dir.path()), &clock).await;
    let r = http(server.addr, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, doc);
}

#[tokio::test]
async fn the_api_is_served_over_tls_when_configured() {
    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, generated.cert.pem()).unwrap();
    std::fs::write(&key_path, generated.signing_key.serialize_pem()).unwrap();
    // A missing key is reported, not a panic.
    let missing = enlace_hub::tls::acceptor(&cert_path, &dir.path().join("nope.pem"));
    assert_eq!(missing.err().map(|e| e.code()), Some("tls_key"));

    let clock = TestClock::new();
    let hub = Hub::open(config(dir.path()), Arc::new(clock.clone()))
        .await
        .unwrap();
    seed(&hub).await;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = enlace_hub::tls::TlsListener::new(
        tcp,
        enlace_hub::tls::acceptor(&cert_path, &key_path).unwrap(),
    )
    .unwrap();
    let server = Served::serve(hub, listener, addr);

    let mut roots = RootCertStore::empty();
    roots.add(generated.cert.der().clone()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let connect = || async {
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    };
    let body = json!({"user": "1234567", "password": "123456"}).to_string();
    let r = http_on(
        connect().await,
        server.addr,
        "POST",
        "/api/v1/sessions",
        None,
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_string();
    let r = http_on(
        connect().await,
        server.addr,
        "GET",
        "/api/v1/me",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(r.body["agent"]["user"], "1234567");

    // Plain HTTP on the TLS port gets no answer.
    let r = http(server.addr, "GET", "/api/v1/openapi.json", None, None).await;
    assert_ne!(r.status, 200);
}

#[tokio::test]
async fn cli_initializes_and_administers_agents_usable_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let home: PathBuf = dir.path().join("org");
    let (ok, _, err) = hub_bin(&["init", "--dir", home.to_str().unwrap()], dir.path());
    assert!(ok, "{err}");
    let cfg_path = home.join("enlace-hub.toml");
    // Make hashing cheap for the test build.
    let mut cfg = HubConfig::load(&cfg_path).unwrap();
    cfg.password_memory_kib = CHEAP.memory_kib;
    cfg.password_iterations = CHEAP.iterations;
    std::fs::write(&cfg_path, cfg.to_toml()).unwrap();
    let c = cfg_path.to_str().unwrap();
    // init refuses to overwrite.
    assert!(!hub_bin(&["init", "--dir", home.to_str().unwrap()], dir.path()).0);

    let (ok, out, err) = hub_bin(
        &[
            "--config",
            c,
            "agent",
            "add",
            "--name",
            "Ana",
            "--extension",
            "1001",
            "--queue",
            "support",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    let user = printed(&out, "user");
    let password = printed(&out, "password");
    assert!(
        enlace_hub::auth::is_valid_user(&user) && enlace_hub::auth::is_valid_password(&password)
    );

    let given = [
        "--config",
        c,
        "agent",
        "add",
        "--name",
        "Beto",
        "--extension",
        "1002",
        "--user",
        "7654321",
        "--password-stdin",
    ];
    let (ok, out, err) = hub_bin_input(&given, dir.path(), "654321\n");
    assert!(ok, "{err}");
    assert_eq!(printed(&out, "user"), "7654321");
    assert!(
        !out.contains("password"),
        "a chosen password is not printed: {out}"
    );
    assert!(
        !hub_bin_input(&given, dir.path(), "654321\n").0,
        "duplicate user accepted"
    );
    let bad = [
        "--config",
        c,
        "agent",
        "add",
        "--name",
        "X",
        "--extension",
        "1003",
        "--user",
        "12345",
        "--password-stdin",
    ];
    assert!(
        !hub_bin_input(&bad, dir.path(), "654321\n").0,
        "short user accepted"
    );

    let (ok, out, _) = hub_bin(
        &[
            "--config",
            c,
            "pause-reason",
            "add",
            "Almuerzo",
            "--budget",
            "30m",
        ],
        dir.path(),
    );
    assert!(ok, "{out}");
    assert!(
        !hub_bin(
            &[
                "--config",
                c,
                "pause-reason",
                "add",
                "Café",
                "--budget",
                "soon"
            ],
            dir.path()
        )
        .0
    );
    let (ok, list, _) = hub_bin(&["--config", c, "agent", "list"], dir.path());
    assert!(ok);
    assert!(list.contains(&user) && list.contains("Beto") && list.contains("support"));

    let (ok, out, _) = hub_bin(
        &["--config", c, "agent", "reset-password", "7654321"],
        dir.path(),
    );
    assert!(ok);
    let new_password = printed(&out, "password");
    assert!(hub_bin(&["--config", c, "agent", "disable", &user], dir.path()).0);
    assert!(!hub_bin(&["--config", c, "agent", "disable", "9999999"], dir.path()).0);

    // The server sees what the CLI wrote.
    let clock = TestClock::new();
    let mut cfg = HubConfig::load(&cfg_path).unwrap();
    cfg.listen = "127.0.0.1:0".into();
    let server = serve(cfg, &clock).await;
    assert_eq!(
        login(server.addr, &user, &password).await.body["code"],
        "agent_disabled"
    );
    assert_eq!(login(server.addr, "7654321", "654321").await.status, 401);
    let t = token(server.addr, "7654321", &new_password).await;
    let reasons = http(server.addr, "GET", "/api/v1/pause-reasons", Some(&t), None).await;
    let names: Vec<&str> = reasons
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Almuerzo", "Salida"]);
    assert_eq!(reasons.body[0]["budgetSeconds"], 1800);
    assert_eq!(reasons.body[1]["isExit"], true);
}
