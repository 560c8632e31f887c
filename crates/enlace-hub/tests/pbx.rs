//! The hub and its PBX: the real HTTP server in-process on 127.0.0.1:0 with a temp SQLite file,
//! the AMI double of `enlace-sandbox` as Asterisk (with its fault injection: replies held back,
//! connections dropped), and the agents' WebSocket streams. What each call becomes (events,
//! stored rows, the day's counts), dial attempts, and that a slow PBX delays nobody else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::sync::Arc;

use enlace_core::SystemClock;
use enlace_hub::auth::{hash_password, PasswordCost};
use enlace_hub::config::AmiSettings;
use enlace_hub::store::{CallRow, NewAgent};
use enlace_hub::testing::Served;
use enlace_hub::{Hub, HubConfig};
use enlace_sandbox::{AmiDouble, AmiFault, AmiScenario, OriginateScript};
use serde_json::{json, Value};
use support::*;

const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};

fn config(dir: &Path, ami: Option<&AmiDouble>) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("hub.db").display()),
        password_memory_kib: CHEAP.memory_kib,
        password_iterations: CHEAP.iterations,
        heartbeat_seconds: 3600,
        ami: ami.map(|double| AmiSettings {
            addr: double.addr().to_string(),
            username: "ami".into(),
            secret: "amisecret".into(),
            interface_template: "Local/{extension}@test".into(),
            dial_context: "from-internal".into(),
            originate_timeout_seconds: 5,
            ..AmiSettings::default()
        }),
        ..HubConfig::default()
    }
}

async fn serve(dir: &Path, ami: Option<&AmiDouble>) -> Served {
    let served = Served::start(config(dir, ami), Arc::new(SystemClock), "127.0.0.1:0").await;
    add_agent(&served.hub, "1234567", "123456", "Ana", "1001").await;
    add_agent(&served.hub, "7654321", "654321", "Beto", "1002").await;
    served
        .hub
        .store()
        .insert_pause_reason("Baño", Some(900), false, 0)
        .await
        .unwrap();
    served
}

async fn add_agent(hub: &Hub, user: &str, password: &str, name: &str, ext: &str) -> i64 {
    let hash = hash_password(password, CHEAP).unwrap();
    hub.store()
        .insert_agent(
            &NewAgent {
                user,
                password_hash: &hash,
                name,
                extension: ext,
                queues: &["support".to_string()],
                supervisor: false,
            },
            0,
        )
        .await
        .unwrap()
}

fn inbound(ext: &str, talk_ms: u64) -> AmiScenario {
    AmiScenario::InboundViaQueue {
        queue: "support".into(),
        caller: "5215512345678".into(),
        caller_name: "Cliente".into(),
        agent_interface: format!("Local/{ext}@test"),
        talk_ms,
    }
}

fn is_call_event(e: &Value) -> bool {
    e["type"]
        .as_str()
        .is_some_and(|t| t.starts_with("call_") || t == "dial_failed")
}

async fn day(addr: std::net::SocketAddr, token: &str) -> Value {
    http(addr, "GET", "/api/v1/me/day?since=0", Some(token), None)
        .await
        .body
}

async fn reason_id(addr: std::net::SocketAddr, token: &str) -> i64 {
    let r = http(addr, "GET", "/api/v1/pause-reasons", Some(token), None).await;
    r.body[0]["id"].as_i64().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Calls: the stored record, the events, dial attempts

#[tokio::test]
async fn a_stored_call_keeps_the_latest_facts_and_the_day_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), None).await;
    let hub = &served.hub;
    let ana = hub.store().agent_by_user("1234567").await.unwrap().unwrap();
    // The PBX's first snapshot of a call knows neither the number nor, for sure, the
    // direction; later ones do.
    let first = CallRow {
        call_id: "1795462335.0".into(),
        agent_id: ana.id,
        direction: "incoming".into(),
        other_number: String::new(),
        state: "ringing".into(),
        ringing_at: 1_000,
        answered_at: None,
        ended_at: None,
        duration_seconds: 0,
    };
    hub.store().upsert_call(&first).await.unwrap();
    let last = CallRow {
        direction: "outgoing".into(),
        other_number: "5551234".into(),
        state: "ended".into(),
        answered_at: Some(2_000),
        ended_at: Some(62_000),
        duration_seconds: 60,
        ..first.clone()
    };
    hub.store().upsert_call(&last).await.unwrap();
    assert_eq!(
        hub.store().calls_since(ana.id, 0).await.unwrap(),
        vec![last]
    );
    let summary = hub.day_summary(ana.id, 0).await.unwrap();
    assert_eq!((summary.calls_in, summary.calls_out), (0, 1));
    assert_eq!(summary.talk_seconds, 60);
}

#[tokio::test]
async fn each_call_phase_is_announced_once_with_the_number() {
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Some(&double)).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(served.addr, "1234567", "123456").await;
    let mut ws = stream(served.addr, &t, 0).await;
    until(&mut ws, |e| e["state"] == "available").await;

    // A caller through the queue.
    let runner = {
        let d = double.clone();
        tokio::task::spawn_blocking(move || d.run(inbound("1001", 20)))
    };
    let events = until(&mut ws, |e| e["type"] == "call_ended").await;
    runner.await.unwrap();
    let calls: Vec<(&str, &str, &str)> = events
        .iter()
        .filter(|e| is_call_event(e))
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["call"]["direction"].as_str().unwrap(),
                e["call"]["otherNumber"].as_str().unwrap(),
            )
        })
        .collect();
    let number = "5215512345678";
    assert_eq!(
        calls,
        [
            ("call_ringing", "incoming", number),
            ("call_answered", "incoming", number),
            ("call_ended", "incoming", number),
        ]
    );

    // A click-to-dial the agent answers: a call from the answer on, with the number dialled.
    double.set_originate_outcome(OriginateScript::Answer { talk_ms: 20 });
    let r = post(
        served.addr,
        "/api/v1/calls",
        Some(&t),
        json!({"number": "5551234"}),
    )
    .await;
    assert_eq!(r.body["outcome"], "answered", "{:?}", r.body);
    let events = until(&mut ws, |e| e["type"] == "call_ended").await;
    let calls: Vec<(&str, &str, &str)> = events
        .iter()
        .filter(|e| is_call_event(e))
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["call"]["direction"].as_str().unwrap(),
                e["call"]["otherNumber"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("call_answered", "outgoing", "5551234"),
            ("call_ended", "outgoing", "5551234"),
        ]
    );

    // The stored records and the day say the same.
    let day = day(served.addr, &t).await;
    assert_eq!(
        (day["callsIn"].as_i64(), day["callsOut"].as_i64()),
        (Some(1), Some(1))
    );
    let ana = served
        .hub
        .store()
        .agent_by_user("1234567")
        .await
        .unwrap()
        .unwrap();
    let mut numbers: Vec<String> = served
        .hub
        .store()
        .calls_since(ana.id, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.other_number)
        .collect();
    numbers.sort();
    assert_eq!(numbers, ["5215512345678", "5551234"]);
}

#[tokio::test]
async fn a_failed_click_to_dial_is_a_dial_attempt_not_a_call() {
    let double = AmiDouble::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Some(&double)).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(served.addr, "1234567", "123456").await;
    let mut ws = stream(served.addr, &t, 0).await;
    until(&mut ws, |e| e["state"] == "available").await;
    let baño = reason_id(served.addr, &t).await;

    for (script, outcome, reason) in [
        (OriginateScript::Busy, "busy", "busy"),
        (OriginateScript::NoAnswer, "no_answer", "no_answer"),
        (OriginateScript::Fail, "failed", "unreachable"),
    ] {
        double.set_originate_outcome(script);
        let r = post(
            served.addr,
            "/api/v1/calls",
            Some(&t),
            json!({"number": "5551234"}),
        )
        .await;
        assert_eq!(r.body["outcome"], outcome, "{:?}", r.body);
        let events = until(&mut ws, |e| e["type"] == "dial_failed").await;
        let attempt = &events.last().unwrap()["attempt"];
        assert_eq!(attempt["reason"], reason, "{attempt}");
        assert_eq!(attempt["number"], "5551234");
        assert_eq!(attempt["localNumber"], "1001");
        assert!(
            !events
                .iter()
                .any(|e| e["type"].as_str().unwrap().starts_with("call_")),
            "{events:?}"
        );
    }
    // Nothing else about those attempts follows (a pause is the next event), and none is a
    // call of the day.
    let r = post(
        served.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": baño}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let events = until(&mut ws, |e| e["state"] == "paused").await;
    assert!(!events.iter().any(is_call_event), "{events:?}");
    let day = day(served.addr, &t).await;
    assert_eq!(
        (day["callsIn"].as_i64(), day["callsOut"].as_i64()),
        (Some(0), Some(0))
    );
}

// ---------------------------------------------------------------------------------------------
// A slow PBX delays nobody else

fn actions_named(double: &AmiDouble, name: &str) -> Vec<usize> {
    double
        .actions()
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            a.iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("Action") && v.eq_ignore_ascii_case(name))
        })
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test]
async fn calls_go_on_while_the_resync_waits_for_the_pbx() {
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Some(&double)).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(served.addr, "1234567", "123456").await;
    let mut ws = stream(served.addr, &t, 0).await;
    until(&mut ws, |e| e["state"] == "available").await;
    eventually("QueueAdd", || double.queue_members("support").len() == 1).await;

    // The PBX restarts and is slow to answer the re-sync's QueueStatus.
    double.hold_replies("QueueStatus", None);
    double.inject(AmiFault::DropConnections);
    eventually("the re-sync waits for QueueStatus", || {
        double.held_replies() == 1
    })
    .await;

    // Meanwhile a call comes in: the agent sees it from start to end.
    let runner = {
        let d = double.clone();
        tokio::task::spawn_blocking(move || d.run(inbound("1001", 20)))
    };
    let events = until(&mut ws, |e| e["type"] == "call_ended").await;
    runner.await.unwrap();
    assert!(events.iter().any(|e| e["type"] == "call_answered"));
    // …while the re-sync was still waiting: it has not gone past its QueueStatus.
    assert_eq!(double.held_replies(), 1);
    let status = *actions_named(&double, "QueueStatus").last().unwrap();
    for later in ["QueueAdd", "QueuePause", "QueueRemove"] {
        assert!(
            actions_named(&double, later).iter().all(|i| *i < status),
            "{later} sent before QueueStatus was answered"
        );
    }
    double.release_replies();
}

#[tokio::test]
async fn a_stalled_pbx_action_for_one_agent_does_not_delay_another() {
    let double = AmiDouble::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Some(&double)).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let ana = token(served.addr, "1234567", "123456").await;
    let beto = token(served.addr, "7654321", "654321").await;
    eventually("both in the queue", || {
        double.queue_members("support").len() == 2
    })
    .await;
    let baño = reason_id(served.addr, &ana).await;
    let pause = json!({"state": "paused", "reason": baño});

    // The PBX sits on Ana's QueuePause.
    double.hold_replies("QueuePause", Some("Local/1001@test"));
    let ana_pause = {
        let (addr, pause) = (served.addr, pause.clone());
        tokio::spawn(async move { post(addr, "/api/v1/me/state", Some(&ana), pause).await })
    };
    eventually("Ana's QueuePause reaches the PBX", || {
        double.held_replies() == 1
    })
    .await;

    // Beto pauses and is done while Ana's pause is still waiting for the PBX.
    let r = post(served.addr, "/api/v1/me/state", Some(&beto), pause).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["state"], "paused");
    assert!(
        !ana_pause.is_finished(),
        "Ana's pause finished before the PBX answered it"
    );

    double.release_replies();
    let r = ana_pause.await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["state"], "paused");
}

// ---------------------------------------------------------------------------------------------
// Changes made on the PBX

fn is_state(e: &Value, state: &str) -> bool {
    e["type"] == "agent_state" && e["state"] == state
}

#[tokio::test]
async fn a_pause_made_on_the_pbx_reaches_the_agent_at_once() {
    let double = AmiDouble::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Some(&double)).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(served.addr, "1234567", "123456").await;
    let mut ws = stream(served.addr, &t, 0).await;
    until(&mut ws, |e| is_state(e, "available")).await;
    eventually("QueueAdd", || double.queue_members("support").len() == 1).await;
    let baño = reason_id(served.addr, &t).await;

    // Another AMI client (a supervisor console, the phone's DND key through the PBX).
    let (console, mut console_events) = enlace_ami::AmiClient::start(enlace_ami::AmiConfig::new(
        double.addr().to_string(),
        "ami",
        "amisecret",
    ));
    while !matches!(
        console_events.recv().await,
        Some(enlace_ami::AmiEvent::Connected { .. })
    ) {}
    let ana = "Local/1001@test";

    // A pause with one of the hub's reasons.
    console
        .queue_pause(ana, true, Some("Baño"), None)
        .await
        .unwrap();
    let e = until(&mut ws, |e| e["type"] == "agent_state")
        .await
        .pop()
        .unwrap();
    assert_eq!(
        (&e["state"], &e["reason"]["name"], &e["source"]),
        (&json!("paused"), &json!("Baño"), &json!("phone"))
    );
    assert_eq!(me(served.addr, &t).await.body["state"]["state"], "paused");
    // Unpaused there too.
    console.queue_pause(ana, false, None, None).await.unwrap();
    let e = until(&mut ws, |e| e["type"] == "agent_state")
        .await
        .pop()
        .unwrap();
    assert_eq!(
        (&e["state"], &e["source"]),
        (&json!("available"), &json!("phone"))
    );
    // A reason the hub does not have: paused, with the PBX's text.
    console
        .queue_pause(ana, true, Some("DND"), None)
        .await
        .unwrap();
    let e = until(&mut ws, |e| e["type"] == "agent_state")
        .await
        .pop()
        .unwrap();
    assert_eq!(
        (&e["state"], &e["reason"]["name"], &e["source"]),
        (&json!("paused"), &json!("DND"), &json!("phone"))
    );
    console.queue_pause(ana, false, None, None).await.unwrap();
    until(&mut ws, |e| is_state(e, "available")).await;

    // The hub's own pause and unpause come back from the PBX as echoes: no "phone" change.
    for body in [
        json!({"state": "paused", "reason": baño}),
        json!({"state": "available"}),
    ] {
        let r = post(served.addr, "/api/v1/me/state", Some(&t), body).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let seen = until(&mut ws, |e| is_state(e, "available")).await;
    assert!(!seen.iter().any(|e| e.get("source").is_some()), "{seen:?}");

    // Removed from its only queue on the PBX: out of the queue, logged out.
    console.queue_remove("support", ana).await.unwrap();
    let e = until(&mut ws, |e| e["type"] == "agent_state")
        .await
        .pop()
        .unwrap();
    assert_eq!(
        (&e["state"], &e["source"]),
        (&json!("logged_out"), &json!("phone"))
    );
    console.shutdown().await;
}

#[tokio::test]
async fn logging_in_right_after_exit_is_not_undone_by_the_exit_echo() {
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Some(&double)).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(served.addr, "1234567", "123456").await;
    eventually("QueueAdd", || double.queue_members("support").len() == 1).await;

    // The PBX is slow: the hub's look at the queues and its next QueueAdd wait.
    double.hold_replies("QueueStatus", None);
    double.hold_replies("QueueAdd", None);
    let r = post(
        served.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "exit"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    eventually("QueueRemove", || double.queue_members("support").is_empty()).await;
    // Were the QueueRemove's echo taken for a change made on the PBX, the hub would now ask
    // the PBX whether the agent is still in a queue (held): give that a chance to happen
    // first, as in the field, where the echo was followed after the next login.
    for _ in 0..100 {
        if double.held_replies() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Logging in again while the QueueRemove's echo is still being followed.
    let login = {
        let addr = served.addr;
        tokio::spawn(async move { token(addr, "1234567", "123456").await })
    };
    eventually("the login's QueueAdd reaches the PBX", || {
        !actions_named(&double, "QueueAdd").is_empty()
            && *actions_named(&double, "QueueAdd").last().unwrap()
                > *actions_named(&double, "QueueRemove").last().unwrap()
    })
    .await;
    double.release_replies();
    let t = login.await.unwrap();
    eventually("back in the queue", || {
        double.queue_members("support").len() == 1
    })
    .await;

    // A pause made on the PBX afterwards is followed after any earlier member event: the
    // agent is still logged in, and no change came from the "phone" but that pause.
    let mut ws = stream(served.addr, &t, 0).await;
    let (console, mut console_events) = enlace_ami::AmiClient::start(enlace_ami::AmiConfig::new(
        double.addr().to_string(),
        "ami",
        "amisecret",
    ));
    while !matches!(
        console_events.recv().await,
        Some(enlace_ami::AmiEvent::Connected { .. })
    ) {}
    console
        .queue_pause("Local/1001@test", true, Some("DND"), None)
        .await
        .unwrap();
    let seen = until(&mut ws, |e| is_state(e, "paused")).await;
    let phone: Vec<_> = seen.iter().filter(|e| e["source"] == "phone").collect();
    assert_eq!(phone.len(), 1, "{seen:?}");
    let r = me(served.addr, &t).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["state"]["state"], "paused");
    console.shutdown().await;
}

#[tokio::test]
async fn a_call_ended_as_lost_on_a_reconnection_is_not_taken_up_again() {
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Some(&double)).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(served.addr, "1234567", "123456").await;
    let mut ws = stream(served.addr, &t, 0).await;
    until(&mut ws, |e| is_state(e, "available")).await;
    eventually("QueueAdd", || double.queue_members("support").len() == 1).await;

    // The connection drops during a call; the call goes on and ends on the PBX, its later
    // events arriving on the new connection.
    let runner = {
        let d = double.clone();
        tokio::task::spawn_blocking(move || d.run(inbound("1001", 3000)))
    };
    until(&mut ws, |e| e["type"] == "call_answered").await;
    double.inject(AmiFault::DropConnections);
    until(&mut ws, |e| e["type"] == "call_ended").await;
    let stored = served.hub.store().calls_since(1, 0).await.unwrap();
    assert_eq!(stored.len(), 1);
    eventually("the hub reconnects", || double.connections() == 1).await;
    runner.await.unwrap();

    // A change made on the PBX after the call: everything the call's late events caused
    // comes before it.
    let (console, mut console_events) = enlace_ami::AmiClient::start(enlace_ami::AmiConfig::new(
        double.addr().to_string(),
        "ami",
        "amisecret",
    ));
    while !matches!(
        console_events.recv().await,
        Some(enlace_ami::AmiEvent::Connected { .. })
    ) {}
    console
        .queue_pause("Local/1001@test", true, Some("DND"), None)
        .await
        .unwrap();
    let seen = until(&mut ws, |e| is_state(e, "paused")).await;
    assert!(
        !seen.iter().any(is_call_event),
        "the lost call came back: {seen:?}"
    );
    assert!(
        !seen.iter().any(|e| is_state(e, "on_call")),
        "the lost call came back: {seen:?}"
    );
    // The stored call keeps the facts it ended with (answered_at not overwritten).
    let after = served.hub.store().calls_since(1, 0).await.unwrap();
    assert_eq!(format!("{after:?}"), format!("{stored:?}"));
    console.shutdown().await;
}

#[tokio::test]
async fn a_call_that_ended_while_the_hub_was_down_is_ended_as_lost_at_start() {
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), Some(&double)).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let t = token(served.addr, "1234567", "123456").await;
    let mut ws = stream(served.addr, &t, 0).await;
    eventually("QueueAdd", || double.queue_members("support").len() == 1).await;
    let runner = {
        let d = double.clone();
        tokio::task::spawn_blocking(move || d.run(inbound("1001", 1500)))
    };
    until(&mut ws, |e| e["type"] == "call_answered").await;
    let answered = until(&mut ws, |e| is_state(e, "on_call")).await;
    let last = ids(&answered).last().copied().unwrap();
    // The hub goes away mid-call; the call ends meanwhile.
    drop(ws);
    served.shutdown().await;
    runner.await.unwrap();

    let served = Served::start(
        config(dir.path(), Some(&double)),
        Arc::new(SystemClock),
        "127.0.0.1:0",
    )
    .await;
    let mut ws = stream(served.addr, &t, last).await;
    let ended = until(&mut ws, |e| e["type"] == "call_ended")
        .await
        .pop()
        .unwrap();
    assert_eq!(
        ended["call"]["hangupCause"]["text"], "connection to the PBX lost",
        "{ended:?}"
    );
    until(&mut ws, |e| is_state(e, "available")).await;
    let r = me(served.addr, &t).await;
    assert_eq!(r.body["state"]["state"], "available", "{:?}", r.body);
    let calls = served.hub.store().calls_since(1, 0).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].state, "ended");
}

// ---------------------------------------------------------------------------------------------
// State changes and their events

#[tokio::test]
async fn a_state_is_stored_only_together_with_its_event() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), None).await;
    let t = token(served.addr, "1234567", "123456").await;
    let baño = reason_id(served.addr, &t).await;

    // The event log refuses writes (a crash between the two writes looks the same to a
    // reader): the state change must not be stored either.
    let db = sqlx::AnyPool::connect(&format!("sqlite://{}", dir.path().join("hub.db").display()))
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    .execute(&db)
    .await
    .unwrap();
    let r = post(
        served.addr,
        "/api/v1/me/state",
        Some(&t),
        json!({"state": "paused", "reason": baño}),
    )
    .await;
    assert_ne!(r.status, 200, "{:?}", r.body);
    sqlx::query("DROP TRIGGER refuse_events")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;

    let r = me(served.addr, &t).await;
    assert_eq!(r.body["state"]["state"], "available", "{:?}", r.body);
    // The stream delivers exactly what GET /me shows.
    let mut ws = stream(served.addr, &t, 0).await;
    let e = until(&mut ws, |e| e["type"] == "agent_state").await;
    assert_eq!(e.last().unwrap()["state"], "available");
}
