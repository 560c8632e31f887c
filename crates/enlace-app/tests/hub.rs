#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The agent's day through the organization's server, for real: `enlace-hub` in-process on
//! 127.0.0.1:0 (temp SQLite) with the AMI double of `enlace-sandbox` as the PBX, and the app
//! logging in, receiving a PBX call on the hub line, pausing (the PBX gets QueuePause with the
//! reason), unpausing and leaving with Salida (QueueRemove, session ended); states pushed by
//! the hub's stream (the agent's own from another session, every agent's to a supervisor) and
//! the stream resumed where it stopped after the app restarts.

use std::sync::Arc;
use std::time::Duration;

use enlace_app::{App, AppOptions, DomainEvent, Host, LineKind};
use enlace_core::{CallDirection, CallStatus, ErrorCode, SystemClock};
use enlace_hub::auth::hash_password;
use enlace_hub::store::NewAgent;
use enlace_hub::testing::{TestHub, CHEAP};
use enlace_hub_client::{AgentStateKind, HubClient, StateChange};
use enlace_sandbox::{AmiDouble, AmiScenario};
use enlace_secrets::{SecretStore, Sensitive};
use enlace_store::Store;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

struct TestHost(mpsc::UnboundedSender<DomainEvent>);

impl Host for TestHost {
    fn emit(&self, event: DomainEvent) {
        let _ = self.0.send(event);
    }

    fn open_url(&self, _url: &str) -> Result<(), String> {
        Err("no browser here".into())
    }
}

async fn next_matching<T>(
    events: &mut mpsc::UnboundedReceiver<DomainEvent>,
    mut pick: impl FnMut(&DomainEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = events.recv().await.expect("events");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .expect("expected event")
}

fn actions_named(double: &AmiDouble, name: &str) -> Vec<Vec<(String, String)>> {
    double
        .actions()
        .into_iter()
        .filter(|a| a.iter().any(|(k, v)| k == "Action" && v == name))
        .collect()
}

fn field<'a>(action: &'a [(String, String)], key: &str) -> Option<&'a str> {
    action
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_take_a_pbx_call_pause_unpause_and_leave_with_salida() {
    let dir = tempfile::tempdir().unwrap();
    let double = Arc::new(AmiDouble::start().unwrap());
    let server = TestHub::start(dir.path(), Some(double.addr()), Arc::new(SystemClock)).await;
    let (tx, mut events) = mpsc::unbounded_channel();
    let secrets = SecretStore::in_memory();
    let app = App::start(
        TestHost(tx),
        Store::open(&dir.path().join("desk.sqlite3")).unwrap(),
        Arc::new(SystemClock),
        AppOptions {
            secrets: Some(secrets.clone()),
            ..AppOptions::default()
        },
    )
    .await
    .unwrap();
    let url = server.url();

    // Input is checked before anything is sent; a wrong password is the hub's answer.
    // Plain http:// to another computer would send the password in the clear: its own code.
    let err = app
        .hub_login(
            "http://hub.example.com",
            "1234567",
            Sensitive::new("123456".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InsecureHubAddress);
    let err = app
        .hub_login(&url, "12345", Sensitive::new("123456".into()))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        (ErrorCode::InvalidSetting, Some("user"))
    );
    let err = app
        .hub_login(&url, "1234567", Sensitive::new("654321".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadCredentials);

    let status = app
        .hub_login(&url, "1234567", Sensitive::new("123456".into()))
        .await
        .unwrap();
    assert_eq!(status.agent.unwrap().name, "Ana");
    assert_eq!(app.line_kind(), LineKind::Hub);
    assert_eq!(
        secrets.accounts_in_memory(),
        vec![format!("hub/{url}/1234567")],
        "the session token is in the keyring"
    );
    next_matching(&mut events, |e| match e {
        DomainEvent::LineStatus(enlace_telephony::LineStatus::Online) => Some(()),
        _ => None,
    })
    .await;
    let added = actions_named(&double, "QueueAdd");
    assert_eq!(field(&added[0], "Interface"), Some("PJSIP/1001"));

    // A customer calls the queue: the call reaches Llamadas through the hub's stream.
    let d = Arc::clone(&double);
    tokio::task::spawn_blocking(move || {
        d.run(AmiScenario::InboundViaQueue {
            queue: "support".into(),
            caller: "+50688887777".into(),
            caller_name: "Cliente".into(),
            agent_interface: "PJSIP/1001".into(),
            talk_ms: 1100,
        })
    })
    .await
    .unwrap();
    let ended = next_matching(&mut events, |e| match e {
        DomainEvent::CallUpdated(log) if log.call.status == CallStatus::Ended => {
            Some(log.call.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(ended.direction, CallDirection::Incoming);
    assert!(ended.peer_number.ends_with("88887777"), "{ended:?}");
    assert!(ended.duration_seconds() >= 1, "{ended:?}");
    assert_eq!(app.pending_calls().await.unwrap().len(), 1);

    // Pausa with a reason: the PBX stops offering queue calls, with the reason.
    let reasons = app.pause_reasons().await.unwrap();
    let bano = reasons.iter().find(|r| r.name == "Baño").unwrap();
    let state = app.agent_pause(bano.id).await.unwrap();
    assert_eq!(state.kind, AgentStateKind::Paused);
    assert!(!app.over_budget(&state));
    let pause = actions_named(&double, "QueuePause");
    let last = pause.last().unwrap();
    assert_eq!(field(last, "Paused"), Some("true"));
    assert_eq!(field(last, "Reason"), Some("Baño"));
    let state = app.agent_unpause().await.unwrap();
    assert_eq!(state.kind, AgentStateKind::Available);
    assert_eq!(
        field(
            actions_named(&double, "QueuePause").last().unwrap(),
            "Paused"
        ),
        Some("false")
    );

    // Salida: the call still waiting to be logged is listed, then the agent leaves.
    let check = app.agent_exit_check().await.unwrap();
    assert_eq!(check.pending_calls, 1);
    let status = app.agent_exit().await.unwrap();
    assert!(status.agent.is_none());
    assert!(!actions_named(&double, "QueueRemove").is_empty());
    assert!(secrets.accounts_in_memory().is_empty(), "the token is gone");
    assert_ne!(app.line_kind(), LineKind::Hub);
    assert_eq!(
        app.pause_reasons().await.unwrap_err().code(),
        ErrorCode::SessionExpired
    );
    app.shutdown().await;
}

const SUPERVISOR: (&str, &str) = ("7654321", "654321");

async fn start_app(
    dir: &std::path::Path,
    secrets: &SecretStore,
) -> (App<TestHost>, mpsc::UnboundedReceiver<DomainEvent>) {
    let (tx, events) = mpsc::unbounded_channel();
    let app = App::start(
        TestHost(tx),
        Store::open(&dir.join("desk.sqlite3")).unwrap(),
        Arc::new(SystemClock),
        AppOptions {
            secrets: Some(secrets.clone()),
            ..AppOptions::default()
        },
    )
    .await
    .unwrap();
    (app, events)
}

async fn add_supervisor(server: &TestHub) {
    let hash = hash_password(SUPERVISOR.1, CHEAP).unwrap();
    server
        .hub
        .store()
        .insert_agent(
            &NewAgent {
                user: SUPERVISOR.0,
                password_hash: &hash,
                name: "Sofía",
                extension: "1009",
                queues: &[],
                supervisor: true,
            },
            server.hub.now(),
        )
        .await
        .unwrap();
}

/// Ana's other session (another desk, the hub's web page…): pauses her in Baño.
async fn pause_from_elsewhere(url: &str) {
    let client = HubClient::new(url).unwrap();
    tokio::task::spawn_blocking(move || {
        let session = client
            .login("1234567", &Sensitive::new("123456".into()))
            .unwrap();
        let reasons = client.pause_reasons(&session.token).unwrap();
        let bano = reasons.iter().find(|r| r.name == "Baño").unwrap();
        client
            .set_state(&session.token, StateChange::Paused { reason_id: bano.id })
            .unwrap()
    })
    .await
    .unwrap();
}

async fn online(events: &mut mpsc::UnboundedReceiver<DomainEvent>) {
    next_matching(events, |e| match e {
        DomainEvent::LineStatus(enlace_telephony::LineStatus::Online) => Some(()),
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_state_is_pushed_when_another_session_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let double = Arc::new(AmiDouble::start().unwrap());
    let server = TestHub::start(dir.path(), Some(double.addr()), Arc::new(SystemClock)).await;
    let (app, mut events) = start_app(dir.path(), &SecretStore::in_memory()).await;
    app.hub_login(&server.url(), "1234567", Sensitive::new("123456".into()))
        .await
        .unwrap();
    online(&mut events).await;

    pause_from_elsewhere(&server.url()).await;
    let state = next_matching(&mut events, |e| match e {
        DomainEvent::AgentState(s) if s.kind == AgentStateKind::Paused => Some(s.clone()),
        _ => None,
    })
    .await;
    assert_eq!(state.reason.map(|r| r.name), Some("Baño".to_owned()));
    let status = app.hub_status();
    assert_eq!(status.state.map(|s| s.kind), Some(AgentStateKind::Paused));
    // Not a supervisor: no table.
    while let Ok(event) = events.try_recv() {
        assert!(!matches!(event, DomainEvent::AgentsLive(_)), "{event:?}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_another_agent_pause_in_the_live_table() {
    let dir = tempfile::tempdir().unwrap();
    let double = Arc::new(AmiDouble::start().unwrap());
    let server = TestHub::start(dir.path(), Some(double.addr()), Arc::new(SystemClock)).await;
    add_supervisor(&server).await;
    let (app, mut events) = start_app(dir.path(), &SecretStore::in_memory()).await;
    let status = app
        .hub_login(
            &server.url(),
            SUPERVISOR.0,
            Sensitive::new(SUPERVISOR.1.into()),
        )
        .await
        .unwrap();
    assert!(status.agent.unwrap().supervisor);
    // The table is read at login: Ana is not logged in yet.
    let first = next_matching(&mut events, |e| match e {
        DomainEvent::AgentsLive(rows) => Some(rows.clone()),
        _ => None,
    })
    .await;
    let ana = first.iter().find(|r| r.agent.user == "1234567").unwrap();
    assert_eq!(ana.state.kind, AgentStateKind::LoggedOut);

    // Ana logs in and pauses elsewhere: the table follows without being asked.
    pause_from_elsewhere(&server.url()).await;
    let rows = next_matching(&mut events, |e| match e {
        DomainEvent::AgentsLive(rows)
            if rows
                .iter()
                .any(|r| r.agent.user == "1234567" && r.state.kind == AgentStateKind::Paused) =>
        {
            Some(rows.clone())
        }
        _ => None,
    })
    .await;
    let ana = rows.iter().find(|r| r.agent.user == "1234567").unwrap();
    assert_eq!(
        ana.state.reason.as_ref().map(|r| r.name.as_str()),
        Some("Baño")
    );
    let me = rows.iter().find(|r| r.agent.user == SUPERVISOR.0).unwrap();
    assert_eq!(me.state.kind, AgentStateKind::Available);
    // Gestión asking again gets the same table.
    let asked = app.agents_live().await.unwrap();
    let ana = asked.iter().find(|r| r.agent.user == "1234567").unwrap();
    assert_eq!(ana.state.kind, AgentStateKind::Paused);
    app.shutdown().await;
}

fn cursor_row(dir: &std::path::Path) -> Option<enlace_app::settings::HubCursor> {
    Store::open(&dir.join("desk.sqlite3"))
        .unwrap()
        .setting_json(enlace_app::settings::HUB_CURSOR_KEY)
        .unwrap()
}

fn inbound(caller: &str) -> AmiScenario {
    AmiScenario::InboundViaQueue {
        queue: "support".into(),
        caller: caller.into(),
        caller_name: "Cliente".into(),
        agent_interface: "PJSIP/1001".into(),
        talk_ms: 50,
    }
}

async fn run(double: &Arc<AmiDouble>, scenario: AmiScenario) {
    let d = Arc::clone(double);
    tokio::task::spawn_blocking(move || d.run(scenario))
        .await
        .unwrap();
}

async fn ended_call(events: &mut mpsc::UnboundedReceiver<DomainEvent>) -> enlace_core::CallRecord {
    next_matching(events, |e| match e {
        DomainEvent::CallUpdated(log) if log.call.status == CallStatus::Ended => {
            Some(log.call.clone())
        }
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_the_stream_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let double = Arc::new(AmiDouble::start().unwrap());
    let server = TestHub::start(dir.path(), Some(double.addr()), Arc::new(SystemClock)).await;
    let secrets = SecretStore::in_memory();
    let (app, mut events) = start_app(dir.path(), &secrets).await;
    app.hub_login(&server.url(), "1234567", Sensitive::new("123456".into()))
        .await
        .unwrap();
    online(&mut events).await;
    run(&double, inbound("+50611110001")).await;
    let first = ended_call(&mut events).await;
    assert!(first.peer_number.ends_with("11110001"), "{first:?}");
    app.shutdown().await;
    drop(app);
    let saved = cursor_row(dir.path()).expect("the cursor is saved");
    assert_eq!(
        (saved.server.as_str(), saved.user.as_str()),
        (server.url().as_str(), "1234567")
    );
    assert!(saved.last_event_id > 0);

    // A call while Enlace is closed: it is history for a new session, but not for this one.
    run(&double, inbound("+50622220002")).await;

    let (app, mut events) = start_app(dir.path(), &secrets).await;
    let missed = ended_call(&mut events).await;
    assert!(missed.peer_number.ends_with("22220002"), "{missed:?}");
    assert_eq!(app.line_kind(), LineKind::Hub);
    let history = app.history().await.unwrap();
    let mut hub_ids: Vec<_> = history
        .iter()
        .map(|l| l.call.line_call_id.clone())
        .collect();
    assert_eq!(history.len(), 2, "no call lost or repeated: {history:?}");
    hub_ids.dedup();
    assert_eq!(hub_ids.len(), 2);
    assert!(cursor_row(dir.path()).unwrap().last_event_id > saved.last_event_id);

    // Logging out drops the cursor: the next session starts afresh.
    app.hub_logout().await.unwrap();
    assert_eq!(cursor_row(dir.path()), None);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_gap_the_hub_no_longer_keeps_the_state_is_read_again_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestHub::start(dir.path(), None, Arc::new(SystemClock)).await;
    let secrets = SecretStore::in_memory();
    let (app, mut events) = start_app(dir.path(), &secrets).await;
    app.hub_login(&server.url(), "1234567", Sensitive::new("123456".into()))
        .await
        .unwrap();
    online(&mut events).await;
    // The line handles the login's state: its cursor is saved.
    for _ in 0..400 {
        if cursor_row(dir.path()).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.shutdown().await;
    drop(app);
    assert!(cursor_row(dir.path()).is_some());

    // While Enlace is closed Ana pauses elsewhere, and the hub prunes every event so far
    // (as retention would after a long absence).
    pause_from_elsewhere(&server.url()).await;
    let pruned = server
        .hub
        .store()
        .prune_events(server.hub.now() + 1)
        .await
        .unwrap();
    assert!(pruned > 0);

    let (app, mut events) = start_app(dir.path(), &secrets).await;
    let status = next_matching(&mut events, |e| match e {
        DomainEvent::HubStatus(s) if s.resynced_at.is_some() => Some(s.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        status.state.map(|s| s.kind),
        Some(AgentStateKind::Paused),
        "the state read again from the hub"
    );
    assert!(app.hub_status().resynced_at.is_some());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_asks_the_hub_and_its_stream_with_the_saved_session() {
    use enlace_app::doctor::{ask_hub, doctor_line, DoctorLine};
    let dir = tempfile::tempdir().unwrap();
    let server = TestHub::start(dir.path(), None, Arc::new(SystemClock)).await;
    let secrets = SecretStore::in_memory();
    let (tx, _events) = mpsc::unbounded_channel();
    let app = App::start(
        TestHost(tx),
        Store::open(&dir.path().join(enlace_app::DATABASE_FILE)).unwrap(),
        Arc::new(SystemClock),
        AppOptions {
            secrets: Some(secrets.clone()),
            ..AppOptions::default()
        },
    )
    .await
    .unwrap();
    app.hub_login(&server.url(), "1234567", Sensitive::new("123456".into()))
        .await
        .unwrap();

    // The doctor runs in its own process: a plain thread here, off the runtime.
    let ask = |dir: std::path::PathBuf, secrets: SecretStore| {
        std::thread::spawn(move || match doctor_line(&dir, &secrets, None) {
            DoctorLine::Hub { client, token } => ask_hub(&client, &token, WAIT),
            other => Err(format!("not the hub line: {other:?}")),
        })
        .join()
        .unwrap()
    };
    let said = ask(dir.path().to_owned(), secrets.clone()).expect("the hub answers");
    assert!(said.contains("stream is up"), "{said}");
    assert!(said.contains("Ana (user 1234567"), "{said}");

    // The session ends at the hub (another desk's Salida would do the same): the doctor says so.
    let entry = format!("hub/{}/1234567", server.url());
    let token = secrets.get(&entry).unwrap();
    let client = HubClient::new(&server.url()).unwrap();
    tokio::task::spawn_blocking(move || client.logout(&token).unwrap())
        .await
        .unwrap();
    let err = ask(dir.path().to_owned(), secrets.clone()).unwrap_err();
    assert!(err.contains("session_expired"), "{err}");

    // Logged out here: the server is configured, nobody is logged in.
    app.hub_logout().await.unwrap();
    let line = {
        let (dir, secrets) = (dir.path().to_owned(), secrets.clone());
        std::thread::spawn(move || doctor_line(&dir, &secrets, None))
            .join()
            .unwrap()
    };
    assert!(
        matches!(&line, DoctorLine::HubNotLoggedIn { server: s } if *s == server.url()),
        "{line:?}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_of_a_newer_hub_is_acknowledged_once_and_the_feed_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestHub::start(dir.path(), None, Arc::new(SystemClock)).await;
    let secrets = SecretStore::in_memory();
    let (app, mut events) = start_app(dir.path(), &secrets).await;
    app.hub_login(&server.url(), "1234567", Sensitive::new("123456".into()))
        .await
        .unwrap();
    online(&mut events).await;
    let ana = server
        .hub
        .store()
        .agent_by_user("1234567")
        .await
        .unwrap()
        .unwrap();
    // A type this desktop does not know (as a newer hub would send), then one it knows.
    let mut payload = serde_json::Map::new();
    payload.insert("campaign".into(), serde_json::json!({"name": "Navidad"}));
    let unknown = server
        .hub
        .events()
        .append(Some(ana.id), "campaign_started", payload, server.hub.now())
        .await
        .unwrap();
    pause_from_elsewhere(&server.url()).await;
    let state = next_matching(&mut events, |e| match e {
        DomainEvent::AgentState(s) => Some(s.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        state.kind,
        AgentStateKind::Paused,
        "the event after it arrived"
    );
    // The cursor went past the unknown event: a restart does not read it again.
    let mut saved = None;
    for _ in 0..400 {
        saved = cursor_row(dir.path()).map(|c| c.last_event_id);
        if saved.is_some_and(|id| id > unknown.id as u64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(saved.is_some_and(|id| id > unknown.id as u64), "{saved:?}");
    app.shutdown().await;
}
