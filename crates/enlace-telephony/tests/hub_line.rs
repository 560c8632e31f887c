//! The hub line for real: `enlace-hub` in-process on 127.0.0.1:0 (temp SQLite database) with
//! the AMI double of `enlace-sandbox` as the PBX; calls scripted on the double reach the line
//! as `LineEvent::Call` records through the hub's stream, and agents' states as
//! `LineEvent::AgentState` (everyone's on a supervisor's line).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_core::{
    CallDirection, CallRecord, CallStatus, Clock, DialTarget, EndReason, ErrorCode, Timestamp,
};
use enlace_hub::auth::{hash_password, PasswordCost};
use enlace_hub::config::AmiSettings;
use enlace_hub::store::NewAgent;
use enlace_hub::testing::Served;
use enlace_hub::{Hub, HubConfig};
use enlace_hub_client::{AgentStateKind, HubClient, StateChange, StreamOptions};
use enlace_sandbox::{AmiDouble, AmiScenario, OriginateScript};
use enlace_secrets::Sensitive;
use enlace_telephony::{
    AgentUpdate, HubLine, HubLineConfig, LineConfig, LineEvent, LineStatus, PhoneLine,
    RandomCallIds,
};
use tokio::sync::mpsc;

const T0: i64 = 1_767_225_600_000;
const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};
const WAIT: Duration = Duration::from_secs(20);
const AGENT_INTERFACE: &str = "PJSIP/1001";

#[derive(Debug, Clone)]
struct TestClock(Arc<AtomicI64>);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// A hub serving on `addr` (`127.0.0.1:0`, or the address of a hub being restarted).
async fn serve(config: HubConfig, clock: &TestClock, addr: &str) -> Served {
    Served::start(config, Arc::new(clock.clone()), addr).await
}

/// Hub call ids of the agent's `call_ended` events, in order.
async fn ended_call_ids(server: &Served) -> Vec<String> {
    server
        .hub
        .events()
        .after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "call_ended")
        .filter_map(|e| {
            e.payload
                .get("call")
                .and_then(|c| c.get("id"))
                .and_then(|id| id.as_str())
                .map(str::to_owned)
        })
        .collect()
}

fn config(dir: &Path, double: &AmiDouble) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("hub.db").display()),
        password_memory_kib: CHEAP.memory_kib,
        password_iterations: CHEAP.iterations,
        ami: Some(AmiSettings {
            addr: double.addr().to_string(),
            username: "ami".into(),
            secret: "amisecret".into(),
            secret_file: None,
            interface_template: "PJSIP/{extension}".into(),
            dial_context: "from-internal".into(),
            originate_timeout_seconds: 5,
        }),
        ..HubConfig::default()
    }
}

async fn seed(hub: &Hub) {
    let hash = hash_password("123456", CHEAP).unwrap();
    hub.store()
        .insert_agent(
            &NewAgent {
                user: "1234567",
                password_hash: &hash,
                name: "Ana",
                extension: "1001",
                queues: &["support".to_string()],
                supervisor: false,
            },
            T0,
        )
        .await
        .unwrap();
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn login(client: &HubClient) -> Sensitive<String> {
    login_as(client, "1234567", "123456").await
}

async fn login_as(client: &HubClient, user: &str, password: &str) -> Sensitive<String> {
    let (c, user, password) = (client.clone(), user.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || c.login(&user, &Sensitive::new(password)))
        .await
        .unwrap()
        .unwrap()
        .token
}

/// Reads until an agent update that `pick` accepts (other events are skipped).
async fn agent_update(
    rx: &mut mpsc::Receiver<LineEvent>,
    mut pick: impl FnMut(&AgentUpdate) -> bool,
) -> AgentUpdate {
    loop {
        if let LineEvent::AgentState(update) = next(rx).await {
            if pick(&update) {
                return update;
            }
        }
    }
}

/// Reads until the first cursor.
async fn cursor(rx: &mut mpsc::Receiver<LineEvent>) -> u64 {
    loop {
        if let LineEvent::HubCursor(id) = next(rx).await {
            return id;
        }
    }
}

/// Plays a scripted call on the double (blocking) and waits for it to finish.
async fn run(double: &Arc<AmiDouble>, scenario: AmiScenario) {
    let d = double.clone();
    tokio::task::spawn_blocking(move || d.run(scenario))
        .await
        .unwrap();
}

fn inbound(caller: &str) -> AmiScenario {
    AmiScenario::InboundViaQueue {
        queue: "support".into(),
        caller: caller.into(),
        caller_name: "Cliente".into(),
        agent_interface: AGENT_INTERFACE.into(),
        talk_ms: 20,
    }
}

async fn next(rx: &mut mpsc::Receiver<LineEvent>) -> LineEvent {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("line event in time")
        .expect("line running")
}

/// Reads until `status`, failing on any call event on the way.
async fn wait_status(rx: &mut mpsc::Receiver<LineEvent>, want: &str) -> LineStatus {
    loop {
        match next(rx).await {
            LineEvent::Status(s) if s.as_str() == want => return s,
            LineEvent::Call(c) => panic!("unexpected call {c:?}"),
            LineEvent::Status(_)
            | LineEvent::AgentState(_)
            | LineEvent::HubCursor(_)
            | LineEvent::HubTruncated => continue,
        }
    }
}

/// Call records until one ends.
async fn one_call(rx: &mut mpsc::Receiver<LineEvent>) -> Vec<CallRecord> {
    let mut records = Vec::new();
    loop {
        if let LineEvent::Call(record) = next(rx).await {
            let ended = record.status == CallStatus::Ended;
            records.push(record);
            if ended {
                return records;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pbx_calls_reach_the_line_through_the_hub_and_dial_uses_click_to_dial() {
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let server = serve(config(dir.path(), &double), &clock, "127.0.0.1:0").await;
    seed(&server.hub).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let client = HubClient::new(&format!("http://{}", server.addr)).unwrap();
    let token = login(&client).await;
    eventually("the agent joined the queue", || {
        !double.queue_members("support").is_empty()
    })
    .await;

    // A call before the line starts is history: it is not reported.
    run(&double, inbound("5215500000001")).await;
    let hub = server.hub.clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    while ended_call_ids(&server).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "first call never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    clock.0.fetch_add(1000, Ordering::SeqCst);

    let (line, mut rx) = PhoneLine::start(
        LineConfig::Hub(HubLineConfig::new(client.clone(), token.clone())),
        Arc::new(clock.clone()),
        Arc::new(RandomCallIds::default()),
    );
    assert_eq!(line.kind(), "hub");
    assert_eq!(
        next(&mut rx).await,
        LineEvent::Status(LineStatus::Connecting)
    );
    wait_status(&mut rx, "online").await;
    assert_eq!(line.status(), LineStatus::Online);

    // An incoming queue call: ringing → answered → ended, one record id throughout.
    run(&double, inbound("5215512345678")).await;
    let records = one_call(&mut rx).await;
    let last = records.last().unwrap();
    assert!(records.iter().all(|r| r.id == last.id), "{records:?}");
    let statuses: Vec<CallStatus> = records.iter().map(|r| r.status).collect();
    assert_eq!(statuses.first(), Some(&CallStatus::Ringing), "{statuses:?}");
    assert!(statuses.contains(&CallStatus::Answered), "{statuses:?}");
    assert_eq!(last.direction, CallDirection::Incoming);
    assert_eq!(last.peer_number, "5215512345678");
    assert_eq!(last.peer_display_name.as_deref(), Some("Cliente"));
    assert_eq!(last.end_reason, Some(EndReason::Completed));
    assert!(last.answered_at.is_some() && last.ended_at.is_some());
    let hub_ids = ended_call_ids(&server).await;
    assert_eq!(hub_ids.len(), 2);
    assert_eq!(last.line_call_id, hub_ids[1]);
    assert_ne!(last.line_call_id, hub_ids[0]);

    // The agent dials a busy number from its phone.
    run(
        &double,
        AmiScenario::Busy {
            agent_interface: AGENT_INTERFACE.into(),
            number: "5551234".into(),
        },
    )
    .await;
    let records = one_call(&mut rx).await;
    let last = records.last().unwrap();
    assert_eq!(last.direction, CallDirection::Outgoing);
    assert_eq!(last.peer_number, "5551234");
    assert_eq!(last.end_reason, Some(EndReason::Busy), "{records:?}");
    assert!(last.answered_at.is_none());

    // An outbound call that is answered.
    run(
        &double,
        AmiScenario::Outbound {
            agent_interface: AGENT_INTERFACE.into(),
            number: "5557777".into(),
            talk_ms: 20,
        },
    )
    .await;
    let records = one_call(&mut rx).await;
    let last = records.last().unwrap();
    assert_eq!(last.direction, CallDirection::Outgoing);
    assert_eq!(last.peer_number, "5557777");
    assert_eq!(last.end_reason, Some(EndReason::Completed), "{records:?}");

    // Click-to-dial: the agent's phone busy, then answered.
    double.set_originate_outcome(OriginateScript::Busy);
    let e = line
        .dial(&DialTarget::Extension("5551234".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::LineRejected);
    double.set_originate_outcome(OriginateScript::Answer { talk_ms: 10 });
    line.dial(&DialTarget::Number {
        e164: "+5215512345678".into(),
        extension: None,
    })
    .await
    .unwrap();
    let originate = double
        .actions()
        .into_iter()
        .rfind(|a| a.iter().any(|(k, v)| k == "Action" && v == "Originate"))
        .unwrap();
    assert!(originate
        .iter()
        .any(|(k, v)| k == "Exten" && v == "+5215512345678"));

    // The desk phone answers, rejects and hangs up.
    for result in [
        line.answer("x").await,
        line.reject("x").await,
        line.hangup("x").await,
    ] {
        let e = result.unwrap_err();
        assert_eq!(e.code(), ErrorCode::LineRejected);
        assert!(
            e.to_string().contains("not supported by the hub line"),
            "{e}"
        );
    }

    line.shutdown().await;
    drop(hub);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_follows_the_hub_offline_and_back_without_losing_a_call() {
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let server = serve(config(dir.path(), &double), &clock, "127.0.0.1:0").await;
    seed(&server.hub).await;
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let addr = server.addr;
    let client = HubClient::new(&format!("http://{addr}")).unwrap();
    let token = login(&client).await;

    let (tx, mut rx) = mpsc::channel(256);
    let options = StreamOptions {
        // Slow enough that the call below usually happens while the line is still away.
        backoff_min: Duration::from_millis(1500),
        backoff_max: Duration::from_millis(1500),
        ..StreamOptions::default()
    };
    let line = HubLine::start_with(
        HubLineConfig::new(client, token),
        options,
        Arc::new(clock.clone()),
        Arc::new(RandomCallIds::default()),
        tx,
    );
    wait_status(&mut rx, "online").await;
    eventually("the login event is read", || line.last_event_id().is_some()).await;
    let first_id = line.last_event_id();
    assert!(first_id.is_some());

    server.shutdown().await;
    let offline = wait_status(&mut rx, "offline").await;
    assert!(offline.detail().unwrap().contains("hub"), "{offline:?}");
    assert_eq!(line.status().as_str(), "offline");

    let server = serve(config(dir.path(), &double), &clock, &addr.to_string()).await;
    eventually("the new hub connects to the PBX", || {
        double.connections() == 1
    })
    .await;
    run(&double, inbound("5215587654321")).await;
    let mut online_again = false;
    let records = loop {
        match next(&mut rx).await {
            LineEvent::Status(s) => online_again |= s == LineStatus::Online,
            LineEvent::Call(first) => {
                let mut records = vec![first];
                if records[0].status != CallStatus::Ended {
                    records.extend(one_call(&mut rx).await);
                }
                break records;
            }
            LineEvent::AgentState(_) | LineEvent::HubCursor(_) | LineEvent::HubTruncated => {}
        }
    };
    assert!(online_again);
    let last = records.last().unwrap();
    assert_eq!(last.peer_number, "5215587654321");
    assert_eq!(last.end_reason, Some(EndReason::Completed));
    assert_eq!(last.line_call_id, ended_call_ids(&server).await[0]);
    assert!(line.last_event_id() > first_id);

    line.shutdown().await;
    // The line says it stopped.
    let mut stopped = false;
    while let Ok(Some(event)) = tokio::time::timeout(WAIT, rx.recv()).await {
        if let LineEvent::Status(LineStatus::Offline { reason }) = event {
            stopped |= reason.contains("stopped");
        }
    }
    assert!(stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_states_reach_the_line_and_a_supervisor_sees_everyones() {
    let double = Arc::new(AmiDouble::start().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let server = serve(config(dir.path(), &double), &clock, "127.0.0.1:0").await;
    seed(&server.hub).await;
    let hash = hash_password("654321", CHEAP).unwrap();
    server
        .hub
        .store()
        .insert_agent(
            &NewAgent {
                user: "7654321",
                password_hash: &hash,
                name: "Sofía",
                extension: "1009",
                queues: &[],
                supervisor: true,
            },
            T0,
        )
        .await
        .unwrap();
    let bano = server
        .hub
        .store()
        .insert_pause_reason("Baño", Some(900), false, T0)
        .await
        .unwrap();
    eventually("the hub connects to the PBX", || double.connections() == 1).await;
    let client = HubClient::new(&format!("http://{}", server.addr)).unwrap();
    let agent_token = login(&client).await;
    let supervisor_token = login_as(&client, "7654321", "654321").await;

    let start = |token: &Sensitive<String>| {
        let (tx, rx) = mpsc::channel(256);
        let line = HubLine::start(
            HubLineConfig::new(client.clone(), token.clone()),
            Arc::new(clock.clone()),
            Arc::new(RandomCallIds::default()),
            tx,
        );
        (line, rx)
    };
    let (agent_line, mut agent_rx) = start(&agent_token);
    let (supervisor_line, mut supervisor_rx) = start(&supervisor_token);
    wait_status(&mut agent_rx, "online").await;
    wait_status(&mut supervisor_rx, "online").await;
    // The replay of the log ends with a cursor: the line's last event id.
    let replayed = cursor(&mut agent_rx).await;
    assert_eq!(agent_line.last_event_id(), Some(replayed));

    // The agent pauses (from its own session, not through the line).
    clock.0.fetch_add(1000, Ordering::SeqCst);
    let (c, t) = (client.clone(), agent_token.clone());
    let paused = tokio::task::spawn_blocking(move || {
        c.set_state(&t, StateChange::Paused { reason_id: bano })
    })
    .await
    .unwrap()
    .unwrap();
    let is_pause = |u: &AgentUpdate| u.state.kind == AgentStateKind::Paused;
    let own = agent_update(&mut agent_rx, is_pause).await;
    assert_eq!(own.agent.as_ref().map(|a| a.user.as_str()), Some("1234567"));
    assert_eq!(own.state, paused);
    assert!(!own.over_budget);
    let seen = agent_update(&mut supervisor_rx, is_pause).await;
    assert_eq!(
        seen.agent.as_ref().map(|a| a.user.as_str()),
        Some("1234567")
    );
    assert_eq!(
        seen.state.reason.as_ref().map(|r| r.name.as_str()),
        Some("Baño")
    );
    let after_pause = cursor(&mut supervisor_rx).await;
    assert!(after_pause > replayed);
    assert_eq!(supervisor_line.last_event_id(), Some(after_pause));

    // The pause runs past its 15 minutes: both lines hear it.
    clock.0.fetch_add(16 * 60 * 1000, Ordering::SeqCst);
    server.hub.tick().await.unwrap();
    let over = agent_update(&mut agent_rx, |u| u.over_budget).await;
    assert_eq!(over.state.since, paused.since);
    assert_eq!(over.state.kind, AgentStateKind::Paused);
    let over = agent_update(&mut supervisor_rx, |u| u.over_budget).await;
    assert_eq!(over.agent.map(|a| a.user), Some("1234567".to_owned()));

    agent_line.shutdown().await;
    supervisor_line.shutdown().await;
}
