//! The client against the real `enlace-hub`, served in-process on 127.0.0.1:0 with a temp
//! SQLite database (no PBX: click-to-dial answers `pbx_offline`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_core::{Clock, Timestamp};
use enlace_hub::auth::{hash_password, PasswordCost};
use enlace_hub::store::NewAgent;
use enlace_hub::testing::Served;
use enlace_hub::{Hub, HubConfig};
use enlace_hub_client::{
    AgentStateKind, HubClient, HubEvent, HubStream, Session, StateChange, StreamEvent,
    StreamOptions,
};
use enlace_secrets::Sensitive;

const T0: i64 = 1_767_225_600_000;
const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};
const WAIT: Duration = Duration::from_secs(20);

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

fn client(server: &Served) -> HubClient {
    HubClient::new(&server.url()).unwrap()
}

fn config(dir: &Path) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("hub.db").display()),
        password_memory_kib: CHEAP.memory_kib,
        password_iterations: CHEAP.iterations,
        ..HubConfig::default()
    }
}

struct Seed {
    baño: i64,
}

async fn seed(hub: &Hub) -> Seed {
    for (user, password, name, ext, sup) in [
        ("1234567", "123456", "Ana", "1001", false),
        ("1111111", "111111", "Sara", "1009", true),
    ] {
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
    let baño = hub
        .store()
        .insert_pause_reason("Baño", Some(900), false, T0)
        .await
        .unwrap();
    hub.store()
        .insert_pause_reason("Salida", None, true, T0)
        .await
        .unwrap();
    Seed { baño }
}

/// Runs blocking client code off the runtime's workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn secret(s: &str) -> Sensitive<String> {
    Sensitive::new(s.to_owned())
}

async fn login(client: &HubClient, user: &str, password: &str) -> Session {
    let (c, u, p) = (client.clone(), user.to_owned(), secret(password));
    blocking(move || c.login(&u, &p)).await.unwrap()
}

async fn set_state(client: &HubClient, token: &Sensitive<String>, change: StateChange) {
    let (c, t) = (client.clone(), token.clone());
    blocking(move || c.set_state(&t, change)).await.unwrap();
}

async fn next(stream: &mut HubStream) -> HubEvent {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("stream event in time")
        .expect("stream running")
}

async fn next_event(stream: &mut HubStream) -> StreamEvent {
    loop {
        match next(stream).await {
            HubEvent::Event(e) => return e,
            HubEvent::Online | HubEvent::Offline { .. } | HubEvent::Truncated { .. } => continue,
            HubEvent::SessionEnded => panic!("session ended"),
        }
    }
}

fn fast() -> StreamOptions {
    StreamOptions {
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..StreamOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_succeeds_refuses_wrong_passwords_and_is_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let server = serve(config(dir.path()), &clock, "127.0.0.1:0").await;
    seed(&server.hub).await;
    let client = client(&server);

    let session = login(&client, "1234567", "123456").await;
    assert_eq!(session.agent.user, "1234567");
    assert_eq!(session.agent.extension, "1001");
    assert_eq!(session.agent.queues, ["support"]);
    assert_eq!(session.state.kind, AgentStateKind::Available);
    assert!(!format!("{session:?}").contains(session.token.expose()));
    let (c, t) = (client.clone(), session.token.clone());
    let me = blocking(move || c.me(&t)).await.unwrap();
    assert_eq!(me.agent.name, "Ana");
    assert_eq!(me.state.kind, AgentStateKind::Available);

    for _ in 0..5 {
        let c = client.clone();
        let e = blocking(move || c.login("1234567", &secret("000000")))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "bad_credentials");
    }
    let c = client.clone();
    let e = blocking(move || c.login("1234567", &secret("123456")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "throttled");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));

    // A disabled agent.
    server
        .hub
        .store()
        .set_agent_disabled("1111111", true)
        .await
        .unwrap();
    let c = client.clone();
    let e = blocking(move || c.login("1111111", &secret("111111")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "agent_disabled");

    // A token the hub never issued.
    let c = client.clone();
    let e = blocking(move || c.me(&secret("guess"))).await.unwrap_err();
    assert_eq!(e.code(), "session_expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_reasons_day_agents_dial_and_logout() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let server = serve(config(dir.path()), &clock, "127.0.0.1:0").await;
    let seed = seed(&server.hub).await;
    let client = client(&server);
    let ana = login(&client, "1234567", "123456").await.token;
    let sara = login(&client, "1111111", "111111").await.token;

    let (c, t) = (client.clone(), ana.clone());
    let reasons = blocking(move || c.pause_reasons(&t)).await.unwrap();
    let names: Vec<&str> = reasons.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&"Baño") && names.contains(&"Salida"),
        "{names:?}"
    );
    assert!(reasons.iter().any(|r| r.name == "Salida" && r.is_exit));
    assert_eq!(
        reasons
            .iter()
            .find(|r| r.id == seed.baño)
            .unwrap()
            .budget_seconds,
        Some(900)
    );

    let (c, t) = (client.clone(), ana.clone());
    let state = blocking(move || {
        c.set_state(
            &t,
            StateChange::Paused {
                reason_id: seed.baño,
            },
        )
    })
    .await
    .unwrap();
    assert_eq!(state.kind, AgentStateKind::Paused);
    assert_eq!(state.reason.unwrap().name, "Baño");

    let (c, t) = (client.clone(), ana.clone());
    let e = blocking(move || c.set_state(&t, StateChange::Paused { reason_id: 999 }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");

    clock.0.fetch_add(120_000, Ordering::SeqCst);
    let (c, t) = (client.clone(), ana.clone());
    let state = blocking(move || c.set_state(&t, StateChange::Available))
        .await
        .unwrap();
    assert_eq!(state.kind, AgentStateKind::Available);
    let (c, t) = (client.clone(), ana.clone());
    let day = blocking(move || c.day_since(&t, T0)).await.unwrap();
    assert_eq!((day.calls_in, day.calls_out), (0, 0));
    assert_eq!(day.pauses.len(), 1);
    assert_eq!(day.pauses[0].reason.name, "Baño");
    assert_eq!(day.pauses[0].seconds, 120);

    // Supervisors only.
    let (c, t) = (client.clone(), ana.clone());
    let e = blocking(move || c.agents(&t)).await.unwrap_err();
    assert_eq!(e.code(), "forbidden");
    let (c, t) = (client.clone(), sara.clone());
    let agents = blocking(move || c.agents(&t)).await.unwrap();
    let ana_live = agents.iter().find(|a| a.agent.user == "1234567").unwrap();
    assert_eq!(ana_live.state.kind, AgentStateKind::Available);
    assert!(!ana_live.disabled);

    // No PBX configured.
    let (c, t) = (client.clone(), ana.clone());
    let e = blocking(move || c.dial(&t, "5551234")).await.unwrap_err();
    assert_eq!(e.code(), "pbx_offline");

    // Salida ends the session.
    let (c, t) = (client.clone(), ana.clone());
    let state = blocking(move || c.set_state(&t, StateChange::Exit))
        .await
        .unwrap();
    assert_eq!(state.kind, AgentStateKind::LoggedOut);
    let (c, t) = (client.clone(), ana.clone());
    assert_eq!(
        blocking(move || c.me(&t)).await.unwrap_err().code(),
        "session_expired"
    );

    // Logout ends the supervisor's session.
    let (c, t) = (client.clone(), sara.clone());
    blocking(move || c.logout(&t)).await.unwrap();
    let (c, t) = (client.clone(), sara.clone());
    assert_eq!(
        blocking(move || c.me(&t)).await.unwrap_err().code(),
        "session_expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_resumes_after_a_hub_restart_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let server = serve(config(dir.path()), &clock, "127.0.0.1:0").await;
    let seed = seed(&server.hub).await;
    let addr = server.addr;
    let client = client(&server);
    let token = login(&client, "1234567", "123456").await.token;
    let agent_id = server
        .hub
        .store()
        .agent_by_user("1234567")
        .await
        .unwrap()
        .unwrap()
        .id;

    let mut stream = client.stream_with(&token, None, fast());
    assert_eq!(next(&mut stream).await, HubEvent::Online);
    let mut got = vec![next_event(&mut stream).await];
    assert_eq!(
        got[0].agent_state().unwrap().1.kind,
        AgentStateKind::Available
    );
    for i in 0..6 {
        let change = if i % 2 == 0 {
            StateChange::Paused {
                reason_id: seed.baño,
            }
        } else {
            StateChange::Available
        };
        set_state(&client, &token, change).await;
    }
    for _ in 0..6 {
        got.push(next_event(&mut stream).await);
    }

    // Cut: the hub restarts on the same address and database.
    server.shutdown().await;
    match next(&mut stream).await {
        HubEvent::Offline { reason } => assert!(reason.contains("1012"), "{reason}"),
        other => panic!("expected offline, got {other:?}"),
    }
    let server = serve(config(dir.path()), &clock, &addr.to_string()).await;
    // Changes while the stream may still be reconnecting.
    for i in 0..6 {
        let change = if i % 2 == 0 {
            StateChange::Paused {
                reason_id: seed.baño,
            }
        } else {
            StateChange::Available
        };
        set_state(&client, &token, change).await;
    }
    let mut online_again = false;
    while got.len() < 13 {
        match next(&mut stream).await {
            HubEvent::Online => online_again = true,
            HubEvent::Event(e) => got.push(e),
            HubEvent::Offline { .. } => {}
            HubEvent::SessionEnded => panic!("session ended"),
            HubEvent::Truncated { .. } => panic!("nothing was pruned"),
        }
    }
    assert!(online_again);
    let expected: Vec<u64> = server
        .hub
        .events()
        .after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.agent_id == Some(agent_id))
        .map(|e| u64::try_from(e.id).unwrap())
        .collect();
    let ids: Vec<u64> = got.iter().map(|e| e.id).collect();
    assert_eq!(ids, expected);
    assert_eq!(stream.last_id(), expected.last().copied());
    let kinds: Vec<AgentStateKind> = got
        .iter()
        .map(|e| e.agent_state().unwrap().1.kind)
        .collect();
    assert_eq!(kinds[12], AgentStateKind::Available);
    assert_eq!(kinds[11], AgentStateKind::Paused);

    // A new stream resuming from an id gets only what follows it.
    let mut resumed = client.stream_with(&token, Some(expected[10]), fast());
    assert_eq!(next(&mut resumed).await, HubEvent::Online);
    assert_eq!(next_event(&mut resumed).await.id, expected[11]);
    assert_eq!(next_event(&mut resumed).await.id, expected[12]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_says_when_the_hub_pruned_events_it_had_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let server = serve(config(dir.path()), &clock, "127.0.0.1:0").await;
    let seed = seed(&server.hub).await;
    let client = client(&server);
    let token = login(&client, "1234567", "123456").await.token;
    set_state(
        &client,
        &token,
        StateChange::Paused {
            reason_id: seed.baño,
        },
    )
    .await;
    let old = server.hub.events().after(0, 100).await.unwrap();
    let seen = u64::try_from(old[0].id).unwrap();
    // A minute later the agent is available again; then everything older is pruned.
    clock.0.fetch_add(60_000, Ordering::SeqCst);
    set_state(&client, &token, StateChange::Available).await;
    server.hub.store().prune_events(T0 + 1).await.unwrap();
    let pruned = u64::try_from(server.hub.store().pruned_through().await.unwrap()).unwrap();
    assert!(pruned > seen);

    // The notice's id is the one asked for (already "seen"): it still comes through, first.
    let mut stream = client.stream_with(&token, Some(seen), fast());
    assert_eq!(next(&mut stream).await, HubEvent::Online);
    assert_eq!(
        next(&mut stream).await,
        HubEvent::Truncated {
            oldest_available: Some(pruned + 1)
        }
    );
    let kept = next_event(&mut stream).await;
    assert_eq!(kept.id, pruned + 1);
    assert_eq!(
        kept.agent_state().unwrap().1.kind,
        AgentStateKind::Available
    );
    assert_eq!(stream.last_id(), Some(pruned + 1));

    // A stream resuming after what is kept hears no notice.
    let mut stream = client.stream_with(&token, Some(pruned + 1), fast());
    assert_eq!(next(&mut stream).await, HubEvent::Online);
    set_state(&client, &token, StateChange::Available).await;
    set_state(
        &client,
        &token,
        StateChange::Paused {
            reason_id: seed.baño,
        },
    )
    .await;
    match next(&mut stream).await {
        HubEvent::Event(e) => assert!(e.id > pruned + 1),
        other => panic!("expected the next event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_ends_with_the_session_and_refuses_unknown_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let server = serve(config(dir.path()), &clock, "127.0.0.1:0").await;
    seed(&server.hub).await;
    let client = client(&server);
    let token = login(&client, "1234567", "123456").await.token;

    let mut stream = client.stream_with(&token, None, fast());
    assert_eq!(next(&mut stream).await, HubEvent::Online);
    next_event(&mut stream).await;
    let (c, t) = (client.clone(), token.clone());
    blocking(move || c.logout(&t)).await.unwrap();
    // The logged_out state, then the end.
    let e = next_event(&mut stream).await;
    assert_eq!(e.agent_state().unwrap().1.kind, AgentStateKind::LoggedOut);
    assert_eq!(next(&mut stream).await, HubEvent::SessionEnded);
    assert!(stream.next().await.is_none());

    let mut stream = client.stream_with(&secret("never-issued"), None, fast());
    assert_eq!(next(&mut stream).await, HubEvent::SessionEnded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_answers_the_hubs_pings_and_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let mut cfg = config(dir.path());
    // The hub closes a stream that does not answer for two heartbeats.
    cfg.heartbeat_seconds = 1;
    let server = serve(cfg, &clock, "127.0.0.1:0").await;
    let seed = seed(&server.hub).await;
    let client = client(&server);
    let token = login(&client, "1234567", "123456").await.token;

    let mut stream = client.stream_with(&token, None, fast());
    assert_eq!(next(&mut stream).await, HubEvent::Online);
    next_event(&mut stream).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    set_state(
        &client,
        &token,
        StateChange::Paused {
            reason_id: seed.baño,
        },
    )
    .await;
    // Still the first connection: no Offline/Online in between.
    match next(&mut stream).await {
        HubEvent::Event(e) => {
            assert_eq!(e.agent_state().unwrap().1.kind, AgentStateKind::Paused)
        }
        other => panic!("the stream was interrupted: {other:?}"),
    }
}

/// Plain `http://` would carry the password and the session token in the clear: it is accepted
/// only for a hub on this computer, and the refusal says why with its own code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_unless_the_hub_is_on_this_computer() {
    for remote in [
        "http://hub.example.com",
        "http://192.0.2.10:8640",
        "http://[2001:db8::1]:8640",
        "http://localhost.example.com",
        "http://127.0.0.1.example.com",
        "http://[::ffff:192.0.2.10]",
    ] {
        let e = HubClient::new(remote).unwrap_err();
        assert_eq!(e.code(), "insecure_hub_address", "{remote}");
        assert!(e.to_string().contains("https://"), "{e}");
    }
    for allowed in [
        "https://hub.example.com",
        "https://192.0.2.10:8640",
        "http://localhost:8640",
        "http://LOCALHOST:8640",
        "http://127.0.0.1:8640",
        "http://127.20.30.40",
        "http://[::1]:8640",
    ] {
        assert!(HubClient::new(allowed).is_ok(), "{allowed}");
    }

    // A loopback hub named `localhost` is reached over plain http.
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let server = serve(config(dir.path()), &clock, "127.0.0.1:0").await;
    seed(&server.hub).await;
    let local = HubClient::new(&format!("http://localhost:{}", server.addr.port())).unwrap();
    let session = login(&local, "1234567", "123456").await;
    assert_eq!(session.agent.user, "1234567");
}

/// The client speaks TLS (rustls, webpki roots) and refuses a certificate no public authority
/// issued, saying so without the address's path or query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_refuses_a_certificate_from_an_unknown_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let hub = Hub::open(config(dir.path()), Arc::new(clock.clone()))
        .await
        .unwrap();
    seed(&hub).await;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let acceptor = enlace_hub::tls::acceptor(&cert, &key).unwrap();
    let listener = enlace_hub::tls::TlsListener::new(tcp, acceptor).unwrap();
    let _server = Served::serve(hub, listener, addr);

    let client = HubClient::new(&format!("https://localhost:{}", addr.port())).unwrap();
    let e = blocking(move || client.login("1234567", &secret("123456")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "hub_unreachable");
    assert!(e.to_string().contains("TLS error"), "{e}");
    assert!(!e.to_string().contains("123456"), "{e}");
}
