#![allow(clippy::unwrap_used)]
//! The use-cases over a real phone line: an agent baresip controlled through ctrl_tcp, SIPp as
//! the far end and as a calling customer, and a real SQLite file.

use std::sync::Arc;
use std::time::Duration;

use enlace_app::{App, AppOptions, DemoLine, DialSource, DomainEvent, Host};
use enlace_core::{
    CallDirection, CallRecord, CallStatus, EndReason, ErrorCode, LogState, SystemClock,
};
use enlace_peers::{DemoFarEnd, Sipp};
use enlace_store::Store;
use tokio::sync::mpsc;

struct ChannelHost(mpsc::UnboundedSender<DomainEvent>);

impl Host for ChannelHost {
    fn emit(&self, event: DomainEvent) {
        let _ = self.0.send(event);
    }

    fn open_url(&self, _url: &str) -> Result<(), String> {
        Err("no browser in these tests".to_owned())
    }
}

struct Harness {
    app: App<ChannelHost>,
    events: mpsc::UnboundedReceiver<DomainEvent>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(demo: Option<DemoLine>) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("enlace.sqlite3")).unwrap();
        let (tx, events) = mpsc::unbounded_channel();
        let options = AppOptions {
            demo_line: demo,
            secrets: Some(enlace_secrets::SecretStore::in_memory()),
            ..AppOptions::default()
        };
        let app = App::start(ChannelHost(tx), store, Arc::new(SystemClock), options)
            .await
            .unwrap();
        Harness {
            app,
            events,
            _dir: dir,
        }
    }

    async fn next_matching<T>(&mut self, mut pick: impl FnMut(&DomainEvent) -> Option<T>) -> T {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let event = self.events.recv().await.expect("event channel open");
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
        })
        .await
        .expect("expected event did not arrive")
    }

    async fn call_in(&mut self, status: CallStatus) -> CallRecord {
        self.next_matching(|e| match e {
            DomainEvent::CallUpdated(c) if c.call.status == status => Some(c.call.clone()),
            _ => None,
        })
        .await
    }

    async fn online(&mut self) {
        self.next_matching(|e| match e {
            DomainEvent::LineStatus(enlace_telephony::LineStatus::Online) => Some(()),
            _ => None,
        })
        .await;
    }
}

fn demo(line: &enlace_peers::DemoLine) -> DemoLine {
    DemoLine {
        ctrl_addr: line.ctrl_addr(),
        sip_domain: line.sip_domain(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_call_is_stored_waiting_to_be_logged_and_can_be_ignored() {
    let line = enlace_peers::DemoLine::start_with(DemoFarEnd::RingThenAnswer { ring_ms: 100 })
        .expect("demo line");
    let mut h = Harness::start(Some(demo(&line))).await;
    h.online().await;
    // The demo line stands in for an unconfigured line, and says it is a baresip line.
    assert_eq!(h.app.line_kind(), enlace_app::LineKind::Baresip);

    let target = h
        .app
        .dial("tel:+506-4000-4000", DialSource::Link)
        .await
        .expect("dial");
    assert_eq!(target.dial_string(), "+50640004000");
    let answered = h.call_in(CallStatus::Answered).await;
    assert_eq!(answered.direction, CallDirection::Outgoing);
    assert_eq!(answered.peer_number, "+50640004000");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    h.app.hangup(&answered.id).await.expect("hang up");
    let ended = h.call_in(CallStatus::Ended).await;
    assert_eq!(ended.id, answered.id);
    assert_eq!(ended.end_reason, Some(EndReason::Completed));
    assert!(
        ended.duration_seconds() >= 1,
        "talked for over a second: {ended:?}"
    );

    let pending: Vec<CallRecord> = h
        .app
        .pending_calls()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.call)
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, ended.id);
    assert_eq!(pending[0].log_state, LogState::Pending);
    assert_eq!(pending[0].duration_seconds(), ended.duration_seconds());

    h.app.ignore(&ended.id).await.unwrap();
    assert!(h.app.pending_calls().await.unwrap().is_empty());
    let history: Vec<CallRecord> = h
        .app
        .history()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.call)
        .collect();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].log_state, LogState::Ignored);
    assert_eq!(history[0].to_number(), Some("+50640004000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_call_rings_then_is_answered_and_logged_as_incoming() {
    let line = enlace_peers::DemoLine::start_with(DemoFarEnd::RingThenAnswer { ring_ms: 100 })
        .expect("demo line");
    let mut h = Harness::start(Some(demo(&line))).await;
    h.online().await;

    let mut customer = Sipp::call(
        line.agent().sip_addr(),
        "1001",
        "+15550001",
        "ACME Customer",
        1500,
    )
    .expect("sipp customer");
    let ringing = h
        .next_matching(|e| match e {
            DomainEvent::IncomingRinging { call, .. } => Some(call.clone()),
            _ => None,
        })
        .await;
    assert_eq!(ringing.peer_number, "+15550001");
    assert_eq!(ringing.peer_display_name.as_deref(), Some("ACME Customer"));
    h.app.answer(&ringing.id).await.expect("answer");
    h.next_matching(|e| match e {
        DomainEvent::IncomingStopped(id) if *id == ringing.id => Some(()),
        _ => None,
    })
    .await;
    let ended = h.call_in(CallStatus::Ended).await;
    assert_eq!(ended.direction, CallDirection::Incoming);
    assert_eq!(ended.end_reason, Some(EndReason::Completed));
    assert!(customer
        .wait(Duration::from_secs(20))
        .expect("sipp exit")
        .success());
    let pending = h.app.pending_calls().await.unwrap();
    assert_eq!(pending[0].call.from_number(), Some("+15550001"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_links_are_refused_with_codes_and_nothing_is_dialed() {
    let mut h = Harness::start(None).await;
    assert_eq!(h.app.line_kind(), enlace_app::LineKind::None);
    for (input, code) in [
        ("javascript:alert(1)", ErrorCode::UnsupportedScheme),
        ("callto:skypename", ErrorCode::NotAPhoneNumber),
        ("tel:+1;$(reboot)", ErrorCode::ForbiddenCharacter),
        ("", ErrorCode::Empty),
    ] {
        let err = h.app.dial(input, DialSource::Link).await.expect_err(input);
        assert_eq!(err.code(), code, "{input:?}");
    }
    // A valid number with no phone line configured: a clear line_offline error.
    let err = h
        .app
        .dial("tel:+50640004000", DialSource::Ui)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::LineOffline);
    // Links from other programs are reported as events too.
    h.app.dial_link("mailto:someone@example.com").await;
    let code = h
        .next_matching(|e| match e {
            DomainEvent::DialFailed { error, .. } => Some(error.code()),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::UnsupportedScheme);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_settings_fall_back_to_defaults_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    {
        let store = Store::open(&path).unwrap();
        store
            .set_setting(
                enlace_app::settings::SETTINGS_KEY,
                r#"{"lineKind":"carrier-pigeon"}"#,
            )
            .unwrap();
    }
    let (tx, _events) = mpsc::unbounded_channel();
    let app = App::start(
        ChannelHost(tx),
        Store::open(&path).unwrap(),
        Arc::new(SystemClock),
        AppOptions::default(),
    )
    .await
    .unwrap();
    assert!(app.settings_problem().is_some());
    assert_eq!(app.settings(), enlace_app::Settings::default());
}

fn files_of(db: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap();
    bytes.extend(std::fs::read(db.with_extension("sqlite3-wal")).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn start_over(
    path: &std::path::Path,
    secrets: &enlace_secrets::SecretStore,
) -> App<ChannelHost> {
    let (tx, _events) = mpsc::unbounded_channel();
    let options = AppOptions {
        secrets: Some(secrets.clone()),
        ..AppOptions::default()
    };
    App::start(
        ChannelHost(tx),
        Store::open(path).unwrap(),
        Arc::new(SystemClock),
        options,
    )
    .await
    .unwrap()
}

/// Polls until the app's settings in memory carry `secret` (the keyring is read after start).
async fn zoho_secret_becomes(app: &App<ChannelHost>, secret: &str) {
    for _ in 0..400 {
        if app.settings().zoho.client_secret == secret {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the Zoho client secret never came back from the keyring");
}

const ZOHO_SECRET: &str = "zoho-client-secret-4f9d2a7c1e";
const ZOHO_SECRET_REF: &str = "crm-client/zoho";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zoho_client_secret_lives_in_the_keyring_never_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    let secrets = enlace_secrets::SecretStore::in_memory();
    let app = start_over(&path, &secrets).await;
    let mut new = app.settings();
    new.zoho.client_id = "1000.ABCDEF".into();
    new.zoho.client_secret = ZOHO_SECRET.into();
    let saved = app.save_settings(new).await.unwrap();
    assert_eq!(saved.zoho.client_secret, ZOHO_SECRET);
    assert_eq!(secrets.get(ZOHO_SECRET_REF).unwrap().expose(), ZOHO_SECRET);
    // The sign-in and refreshes use it.
    assert_eq!(app.crm_config().zoho.client_secret, ZOHO_SECRET);
    assert!(!contains(&files_of(&path), ZOHO_SECRET.as_bytes()));
    app.shutdown().await;
    drop(app);

    // A new run reads it back from the keyring.
    let app = start_over(&path, &secrets).await;
    zoho_secret_becomes(&app, ZOHO_SECRET).await;
    assert_eq!(app.settings().zoho.client_id, "1000.ABCDEF");
    assert!(!contains(&files_of(&path), ZOHO_SECRET.as_bytes()));

    // Cleared: gone from the keyring.
    let mut cleared = app.settings();
    cleared.zoho.client_secret = String::new();
    app.save_settings(cleared).await.unwrap();
    assert!(secrets.get(ZOHO_SECRET_REF).is_err());
    assert_eq!(app.crm_config().zoho.client_secret, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zoho_client_secret_an_older_version_stored_moves_to_the_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlace.sqlite3");
    {
        let store = Store::open(&path).unwrap();
        store
            .set_setting(
                enlace_app::settings::SETTINGS_KEY,
                &format!(
                    r#"{{"lineKind":"none","zohoClientId":"1000.OLD","zohoClientSecret":"{ZOHO_SECRET}"}}"#
                ),
            )
            .unwrap();
    }
    assert!(contains(&files_of(&path), ZOHO_SECRET.as_bytes()));
    let secrets = enlace_secrets::SecretStore::in_memory();
    let app = start_over(&path, &secrets).await;
    assert_eq!(app.settings().zoho.client_secret, ZOHO_SECRET);
    for _ in 0..400 {
        if secrets.get(ZOHO_SECRET_REF).is_ok()
            && !contains(&files_of(&path), ZOHO_SECRET.as_bytes())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(secrets.get(ZOHO_SECRET_REF).unwrap().expose(), ZOHO_SECRET);
    assert!(!contains(&files_of(&path), ZOHO_SECRET.as_bytes()));
    assert_eq!(app.settings().zoho.client_id, "1000.OLD");
    assert!(app.settings_problem().is_none());
}

#[test]
fn the_doctor_asks_baresip_itself_not_just_its_port() {
    use enlace_app::doctor::ask_baresip;
    let mut baresip =
        enlace_peers::Baresip::start(enlace_peers::BaresipConfig::agent()).expect("baresip");
    let addr = baresip.ctrl_addr();
    let said = ask_baresip(addr, Duration::from_secs(10)).expect("baresip answers");
    assert!(said.contains("sip:1001@"), "{said}");
    assert!(said.starts_with("baresip answers: sip:1001@"), "{said}");

    // Something listens on the port but is not baresip: it never answers the command.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = ask_baresip(silent.local_addr().unwrap(), Duration::from_millis(300)).unwrap_err();
    assert!(err.starts_with("no reply to reginfo"), "{err}");

    baresip.kill();
    let err = ask_baresip(addr, Duration::from_secs(2)).unwrap_err();
    assert!(err.starts_with("no connection"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_be_opened_leaves_the_app_running_from_memory_and_saying_why() {
    // Not under the system's temporary folder, so that warning stays out of the way (unless
    // the checkout itself is there: then it is left out below).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(
        dir.path().join(enlace_app::DATABASE_FILE),
        b"this is not an SQLite database, but it is long enough to look like a header......",
    )
    .unwrap();
    let (store, mut problems) = enlace_app::open_store(dir.path()).unwrap();
    problems.retain(|p| !p.starts_with("data folder: "));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("storage: "), "{problems:?}");
    assert!(problems[0].contains("until Enlace closes"), "{problems:?}");
    assert_eq!(store.journal_mode().unwrap(), "memory");

    let (tx, _events) = mpsc::unbounded_channel();
    let app = App::start(
        ChannelHost(tx),
        store,
        Arc::new(SystemClock),
        AppOptions::default(),
    )
    .await
    .expect("the app starts from memory");
    assert!(app.history().await.unwrap().is_empty());
    let mut settings = app.settings();
    settings.notifications = false;
    app.save_settings(settings)
        .await
        .expect("settings work, in memory");
    assert!(!app.settings().notifications);

    // A good folder: no problem at all.
    let good = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (store, problems) = enlace_app::open_store(&good.path().join("enlace")).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(store.journal_mode().unwrap(), "wal");
}

#[test]
fn a_data_folder_in_the_temporary_folder_is_a_warning() {
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let (store, problems) = enlace_app::open_store(&dir.path().join("enlace")).unwrap();
    assert_eq!(store.journal_mode().unwrap(), "wal", "it still works");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("data folder: "), "{problems:?}");
    assert!(problems[0].contains("ENLACE_DATA_DIR"), "{problems:?}");
}
