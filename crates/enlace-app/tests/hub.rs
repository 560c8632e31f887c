#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The agent's day through the organization's server, for real: `enlace-hub` in-process on
//! 127.0.0.1:0 (temp SQLite) with the AMI double of `enlace-sandbox` as the PBX, and the app
//! logging in, receiving a PBX call on the hub line, pausing (the PBX gets QueuePause with the
//! reason), unpausing and leaving with Salida (QueueRemove, session ended).

use std::sync::Arc;
use std::time::Duration;

use enlace_app::{App, AppOptions, DomainEvent, Host, LineKind};
use enlace_core::{CallDirection, CallStatus, ErrorCode, SystemClock};
use enlace_hub::testing::TestHub;
use enlace_hub_client::AgentStateKind;
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
