#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The CRM use-cases against the local Salesforce and Zoho doubles (`enlace-sandbox`), over a
//! real SQLite file: sign-in through a driven browser, the keyring entry, search and the cache,
//! create + log through the outbox, back-off, and the outbox surviving `kill -9` of the process
//! that was delivering (the test re-runs this binary as the child process).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_app::{
    format_transcript, App, AppOptions, ChatLogRequest, DomainEvent, Host, LinkState, OutboxKind,
    OutboxState, Settings, TranscriptLine,
};
use enlace_core::{
    CallDirection, CallId, CallRecord, CallStatus, Clock, ContactKind, Crm, EndReason, ErrorCode,
    LogState, NewContact, RecordRef, Timestamp,
};
use enlace_crm::{CrmConfig, SalesforceConfig, ZohoConfig};
use enlace_sandbox::{Fault, SalesforceDouble, ZohoDouble};
use enlace_secrets::{SecretStore, Sensitive};
use enlace_store::Store;
use tokio::sync::mpsc;

/// A browser that follows the authorize page's redirect to the app's loopback listener.
struct TestHost(
    mpsc::UnboundedSender<DomainEvent>,
    mpsc::UnboundedSender<String>,
);

impl Host for TestHost {
    fn emit(&self, event: DomainEvent) {
        let _ = self.0.send(event);
    }

    fn open_url(&self, url: &str) -> Result<(), String> {
        let _ = self.1.send(url.to_owned());
        let url = url.to_owned();
        std::thread::spawn(move || {
            // reqwest follows the 302 to http://127.0.0.1:<port>/… like a browser would.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let _ = reqwest::blocking::get(&url);
        });
        Ok(())
    }
}

/// A clock the test moves by hand (back-off waits without sleeping).
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

impl TestClock {
    fn advance(&self, by: Duration) {
        self.0
            .fetch_add(i64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Harness {
    app: App<TestHost>,
    events: mpsc::UnboundedReceiver<DomainEvent>,
    opened: mpsc::UnboundedReceiver<String>,
    secrets: SecretStore,
    clock: Arc<TestClock>,
    db: PathBuf,
}

async fn start(db: &Path, config: CrmConfig) -> Harness {
    let store = Store::open(db).unwrap();
    let (tx, events) = mpsc::unbounded_channel();
    let (open_tx, opened) = mpsc::unbounded_channel();
    let secrets = SecretStore::in_memory();
    let clock = Arc::new(TestClock(AtomicI64::new(system_now())));
    let options = AppOptions {
        secrets: Some(secrets.clone()),
        demo_crm: Some(config),
        ..AppOptions::default()
    };
    let app = App::start(TestHost(tx, open_tx), store, clock.clone(), options)
        .await
        .unwrap();
    Harness {
        app,
        events,
        opened,
        secrets,
        clock,
        db: db.to_owned(),
    }
}

fn config(sf: &SalesforceDouble, zoho: &ZohoDouble) -> CrmConfig {
    CrmConfig {
        salesforce: SalesforceConfig {
            login_host: sf.base_url(),
            client_id: sf.client_id().to_owned(),
            redirect_port: 0,
            ..SalesforceConfig::default()
        },
        zoho: ZohoConfig {
            accounts_server: zoho.accounts_url(),
            client_id: zoho.client_id().to_owned(),
            client_secret: zoho.client_secret().to_owned(),
            redirect_port: 0,
        },
    }
}

fn doubles() -> (SalesforceDouble, ZohoDouble) {
    let sf = SalesforceDouble::start().unwrap();
    let zoho = ZohoDouble::start().unwrap();
    sf.set_demo_mode(true);
    zoho.set_demo_mode(true);
    sf.add_user("agente@example.com", "secreto123TOKEN");
    (sf, zoho)
}

/// An ended incoming call from `number`, as the phone line would have stored it.
fn ended_call(db: &Path, id: &str, number: &str) -> CallRecord {
    let started = Timestamp(1_718_000_000_000);
    let call = CallRecord {
        id: CallId(id.to_owned()),
        line_call_id: format!("line-{id}"),
        direction: CallDirection::Incoming,
        peer_number: number.to_owned(),
        peer_display_name: None,
        local_number: Some("1001".to_owned()),
        status: CallStatus::Ended,
        started_at: started,
        answered_at: Some(Timestamp(started.0 + 5_000)),
        ended_at: Some(Timestamp(started.0 + 130_000)),
        end_reason: Some(EndReason::Completed),
        log_state: LogState::Pending,
    };
    Store::open(db).unwrap().upsert_call(&call).unwrap();
    call
}

async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = check() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn password_link(h: &Harness) {
    let status = h
        .app
        .crm_password_sign_in(
            "agente@example.com".into(),
            Sensitive::new("secreto123TOKEN".to_owned()),
        )
        .await
        .unwrap();
    let sf = status
        .links
        .iter()
        .find(|l| l.crm == Crm::Salesforce)
        .unwrap();
    assert_eq!(sf.state, LinkState::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sign_in_keeps_tokens_in_the_keyring_and_only_a_reference_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let (sf, zoho) = doubles();
    let mut h = start(&dir.path().join("db.sqlite3"), config(&sf, &zoho)).await;

    let status = h.app.crm_sign_in(Crm::Zoho).await.unwrap();
    let opened = h.opened.recv().await.unwrap();
    assert!(opened.starts_with(&zoho.accounts_url()), "{opened}");
    assert!(opened.contains("access_type=offline"), "{opened}");
    let link = status.links.iter().find(|l| l.crm == Crm::Zoho).unwrap();
    assert_eq!(link.state, LinkState::Ok);
    assert!(
        link.access_expires_at.is_some(),
        "Zoho shows the token's expiry"
    );
    assert!(
        link.warning.is_some(),
        "the 20-refresh-token cap is explained"
    );

    let status = h.app.crm_sign_in(Crm::Salesforce).await.unwrap();
    let sf_link = status
        .links
        .iter()
        .find(|l| l.crm == Crm::Salesforce)
        .unwrap();
    assert_eq!(sf_link.state, LinkState::Ok);

    // The Zoho client secret the agent typed in Settings goes to the keyring as well.
    let client_secret = "zoho-client-secret-typed-in-settings";
    let mut settings = h.app.settings();
    settings.zoho.client_secret = client_secret.into();
    h.app.save_settings(settings).await.unwrap();

    // The tokens are in the keyring under a namespaced entry; the database has none of them.
    let mut entries = h.secrets.accounts_in_memory();
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(entries.iter().any(|e| e.starts_with("crm/zoho/")));
    entries.retain(|e| e != "crm-client/zoho");
    assert_eq!(
        h.secrets.get("crm-client/zoho").unwrap().expose(),
        client_secret
    );
    let database = std::fs::read(&h.db).unwrap();
    let wal = std::fs::read(h.db.with_extension("sqlite3-wal")).unwrap_or_default();
    assert!(!contains(&database, client_secret.as_bytes()));
    assert!(!contains(&wal, client_secret.as_bytes()));
    for entry in &entries {
        let secret = h.secrets.get(entry).unwrap();
        let tokens = enlace_crm::Tokens::from_secret(&secret).unwrap();
        for token in [Some(&tokens.access), tokens.refresh.as_ref()]
            .into_iter()
            .flatten()
        {
            let bytes = token.expose().as_bytes();
            assert!(bytes.len() > 8);
            assert!(!contains(&database, bytes) && !contains(&wal, bytes));
        }
    }

    // Unlink revokes at the CRM and forgets the tokens.
    let status = h.app.crm_unlink(Crm::Zoho).await.unwrap();
    let link = status.links.iter().find(|l| l.crm == Crm::Zoho).unwrap();
    assert_eq!(link.state, LinkState::NotLinked);
    assert_eq!(zoho.revoked_tokens().len(), 1);
    assert_eq!(h.secrets.accounts_in_memory().len(), 2);
    drop(h.events);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_flow_blocked_by_the_org_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (sf, zoho) = doubles();
    sf.set_password_flow_enabled(false);
    let h = start(&dir.path().join("db.sqlite3"), config(&sf, &zoho)).await;
    let err = h
        .app
        .crm_password_sign_in(
            "agente@example.com".into(),
            Sensitive::new("secreto123TOKEN".to_owned()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::CrmAuthFailed);
    assert!(err.to_string().to_lowercase().contains("browser"), "{err}");
    assert!(
        h.secrets.accounts_in_memory().is_empty(),
        "nothing stored on failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_fills_the_cache_and_the_caller_is_found_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (sf, zoho) = doubles();
    let id = sf.insert_record(
        ContactKind::Contact,
        serde_json::json!({"FirstName":"Lucía","LastName":"Quesada","Phone":"+506 8888-1234",
                           "Email":"lucia@example.com"}),
    );
    let h = start(&dir.path().join("db.sqlite3"), config(&sf, &zoho)).await;
    assert_eq!(
        h.app.search_contacts("Lucía").await.unwrap_err().code(),
        ErrorCode::CrmNotLinked
    );
    password_link(&h).await;

    let found = h.app.search_contacts("8888 1234").await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].crm_id, id);
    // The CRM goes away; the cache still answers, by name prefix and by the caller's number.
    sf.inject(Fault::ServerErrors(100));
    let cached = h.app.cached_contacts("luc").await.unwrap();
    assert_eq!(cached.len(), 1);
    assert_eq!(cached[0].display_name(), "Lucía Quesada");
    assert_eq!(
        h.app.search_contacts("quesada").await.unwrap()[0].crm_id,
        id,
        "a CRM outage still shows what the cache has"
    );
    let err = h.app.search_contacts("nadie").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::CrmUnavailable);
    assert_eq!(
        h.app.search_contacts("a").await.unwrap_err().code(),
        ErrorCode::SearchTooShort
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_created_from_a_call_and_the_call_reach_zoho_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (sf, zoho) = doubles();
    let call = ended_call(&db, "call-lead", "+50688887777");
    let h = start(&db, config(&sf, &zoho)).await;
    h.app.crm_sign_in(Crm::Zoho).await.unwrap();

    // Validation happens before anything is queued, on the right field.
    let no_company = NewContact {
        kind: ContactKind::Lead,
        first_name: Some("Rosa".into()),
        last_name: "Jiménez".into(),
        email: Some("rosa@example.com".into()),
        phone: Some("+506 8888 7777".into()),
        mobile: None,
        company: None,
    };
    let err = h
        .app
        .create_contact_for_call(&call.id, no_company.clone())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        (ErrorCode::CrmInvalidField, Some("company"))
    );

    // The CRM is down: both writes wait in the outbox, the call already shows them.
    zoho.inject(Fault::ServerErrors(2));
    let lead = NewContact {
        company: Some("Pura Vida Tours".into()),
        ..no_company
    };
    let log = h.app.create_contact_for_call(&call.id, lead).await.unwrap();
    assert_eq!(log.record.as_ref().unwrap().name, "Rosa Jiménez");
    assert_eq!(log.record.as_ref().unwrap().id, None);
    let log = h
        .app
        .log_call(
            &call.id,
            "Consulta de tarifas".into(),
            "Quiere el tour del sábado".into(),
        )
        .await
        .unwrap();
    assert_eq!(log.call.log_state, LogState::Logged);
    assert_eq!(log.writes.len(), 2);

    // Back-off: move the clock instead of sleeping; the courier delivers both, in order.
    let delivered = eventually("both writes delivered", || {
        h.clock.advance(Duration::from_secs(60));
        let store = Store::open(&db).unwrap();
        let writes = store.outbox_for_call(&call.id).unwrap();
        writes
            .iter()
            .all(|w| w.state == OutboxState::Delivered)
            .then_some(writes)
    })
    .await;
    assert!(
        delivered.iter().any(|w| w.attempts > 1),
        "the 5xx were retried"
    );

    let leads: Vec<_> = zoho
        .records("Leads")
        .into_iter()
        .filter(|l| l["Last_Name"] == "Jiménez")
        .collect();
    assert_eq!(leads.len(), 1, "{leads:?}");
    assert_eq!(leads[0]["Company"], "Pura Vida Tours");
    let lead_id = leads[0]["id"].as_str().unwrap().to_owned();
    let calls = zoho.records("Calls");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let logged = &calls[0];
    assert_eq!(logged["Subject"], "Consulta de tarifas");
    // The comment, then the write's idempotency key (what a retry looks for).
    assert_eq!(
        logged["Description"],
        format!(
            "Quiere el tour del sábado\n\n[enlace:{}]",
            delivered[1].idempotency_key
        )
    );
    assert_eq!(
        leads[0]["Description"],
        format!("[enlace:{}]", delivered[0].idempotency_key)
    );
    assert_eq!(logged["Call_Type"], "Inbound");
    assert_eq!(logged["Call_Duration"], "02:05");
    assert_eq!(logged["Call_Start_Time"], "2024-06-10T06:13:20+00:00");
    assert_eq!(logged["$se_module"], "Leads");
    assert_eq!(logged["What_Id"]["id"], lead_id.as_str());
    assert!(logged.get("Who_Id").is_none_or(serde_json::Value::is_null));

    // The call now points at the created lead, and Ver opens it.
    let history = h.app.history().await.unwrap();
    let record = history[0].record.clone().unwrap();
    assert_eq!(record.id.as_deref(), Some(lead_id.as_str()));
    assert!(h.app.pending_calls().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_error_waits_for_the_agent_and_a_rate_limit_backs_off() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (sf, zoho) = doubles();
    let contact = sf.insert_record(
        ContactKind::Contact,
        serde_json::json!({"FirstName":"Ana","LastName":"Mora","Phone":"+50640001111"}),
    );
    let call = ended_call(&db, "call-sf", "+50640001111");
    let h = start(&db, config(&sf, &zoho)).await;
    password_link(&h).await;
    h.app.search_contacts("Mora").await.unwrap();
    let log = h
        .app
        .attach_record(
            &call.id,
            RecordRef {
                crm: Crm::Salesforce,
                kind: ContactKind::Contact,
                id: contact.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(log.record.unwrap().name, "Ana Mora");

    sf.set_request_limit_exceeded(true);
    h.app
        .log_call(&call.id, "Soporte".into(), "Reinicio del equipo".into())
        .await
        .unwrap();
    let write = eventually("a rate-limited attempt", || {
        let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
        w.into_iter()
            .find(|w| w.attempts >= 1 && w.state == OutboxState::Pending)
    })
    .await;
    assert_eq!(write.last_error.unwrap().code, ErrorCode::CrmRateLimited);
    let tries = sf.requests().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sf.requests().len(), tries, "no hammering while backing off");

    sf.set_request_limit_exceeded(false);
    eventually("the task delivered", || {
        h.clock.advance(Duration::from_secs(31));
        let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
        (w[0].state == OutboxState::Delivered).then_some(())
    })
    .await;
    let tasks = sf.records("Task");
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(task["WhoId"], contact.as_str());
    assert_eq!(task["TaskSubtype"], "Call");
    assert_eq!(task["CallType"], "Inbound");
    assert_eq!(task["CallDurationInSeconds"], 125);
    assert_eq!(task["Status"], "Completed");
    assert_eq!(task["ActivityDate"], "2024-06-10");
    assert_eq!(task["Subject"], "Soporte");
    assert_eq!(task["Description"], "Reinicio del equipo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_offers_the_existing_record_and_the_call_is_logged_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (sf, zoho) = doubles();
    let existing = sf.insert_record(
        ContactKind::Contact,
        serde_json::json!({"FirstName":"Ana","LastName":"Mora","Email":"ana@example.com"}),
    );
    let call = ended_call(&db, "call-dup", "+50640002222");
    let h = start(&db, config(&sf, &zoho)).await;
    password_link(&h).await;

    // The org's duplicate rule refuses the new contact and names the one it matched.
    let new = NewContact {
        kind: ContactKind::Contact,
        first_name: Some("Ana".into()),
        last_name: "Mora Solís".into(),
        email: Some("ana@example.com".into()),
        phone: None,
        mobile: None,
        company: None,
    };
    h.app.create_contact_for_call(&call.id, new).await.unwrap();
    h.app
        .log_call(&call.id, "Reclamo".into(), "Factura duplicada".into())
        .await
        .unwrap();
    let refused = eventually("the duplicate needs the agent", || {
        let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
        w.into_iter()
            .find(|w| w.state == OutboxState::NeedsAttention)
    })
    .await;
    let error = refused.last_error.clone().unwrap();
    assert_eq!(error.code, ErrorCode::CrmDuplicate);
    assert_eq!(
        error.existing,
        Some(RecordRef {
            crm: Crm::Salesforce,
            kind: ContactKind::Contact,
            id: existing.clone(),
        })
    );
    assert!(sf.records("Task").is_empty(), "the log waits behind it");

    // One click: the creation is settled with the existing record; the log goes to it.
    let log = h
        .app
        .use_existing_record(refused.id)
        .await
        .unwrap()
        .unwrap();
    let record = log.record.unwrap();
    assert_eq!(
        (record.kind, record.id.as_deref()),
        (ContactKind::Contact, Some(existing.as_str()))
    );
    eventually("the task delivered", || {
        h.clock.advance(Duration::from_secs(5));
        let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
        w.iter()
            .all(|w| w.state == OutboxState::Delivered)
            .then_some(())
    })
    .await;
    let tasks = sf.records("Task");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["WhoId"], existing.as_str());
    assert_eq!(sf.records("Contact").len(), 1, "no second contact");

    // Only a duplicate that named a record can be settled that way.
    let err = h.app.use_existing_record(refused.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_on_a_deleted_record_waits_for_another_record_and_goes_there() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (sf, zoho) = doubles();
    let gone = sf.insert_record(
        ContactKind::Contact,
        serde_json::json!({"FirstName":"Ana","LastName":"Mora"}),
    );
    let other = sf.insert_record(
        ContactKind::Lead,
        serde_json::json!({"FirstName":"Ana","LastName":"Mora","Company":"Acme"}),
    );
    let call = ended_call(&db, "call-gone", "+50640003333");
    let h = start(&db, config(&sf, &zoho)).await;
    password_link(&h).await;
    let attach = |kind, id: &str| RecordRef {
        crm: Crm::Salesforce,
        kind,
        id: id.to_owned(),
    };
    h.app
        .attach_record(&call.id, attach(ContactKind::Contact, &gone))
        .await
        .unwrap();
    sf.delete_record(&gone);
    h.app
        .log_call(&call.id, "Soporte".into(), "Sin servicio".into())
        .await
        .unwrap();
    let refused = eventually("the deleted record needs the agent", || {
        let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
        w.into_iter()
            .find(|w| w.state == OutboxState::NeedsAttention)
    })
    .await;
    assert_eq!(
        refused.last_error.unwrap().code,
        ErrorCode::CrmRecordDeleted
    );
    // The agent chooses another record and retries: the log goes there.
    h.app
        .attach_record(&call.id, attach(ContactKind::Lead, &other))
        .await
        .unwrap();
    h.app.retry_crm_write(refused.id).await.unwrap();
    eventually("the task delivered", || {
        let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
        (w[0].state == OutboxState::Delivered).then_some(())
    })
    .await;
    let tasks = sf.records("Task");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["WhoId"], other.as_str());
}

// ---- attended WhatsApp chats -----------------------------------------------------------------

fn chat_request(conversation_id: i64, customer: &str) -> ChatLogRequest {
    let lines = [
        TranscriptLine {
            at: 1_718_000_000_000,
            from_customer: true,
            text: "Hola, ¿mi pedido?".into(),
        },
        TranscriptLine {
            at: 1_718_000_445_000,
            from_customer: false,
            text: "Sale mañana 👍".into(),
        },
    ];
    ChatLogRequest {
        conversation_id,
        customer: customer.into(),
        customer_name: Some("Lucía".into()),
        business_number: "+50622223333".into(),
        started_at: 1_718_000_000_000,
        ended_at: 1_718_000_445_000,
        transcript: format_transcript(&lines, 0),
    }
}

async fn log_chats_to_crm(h: &Harness) {
    let on = Settings {
        chat_log_to_crm: true,
        ..h.app.settings()
    };
    h.app.save_settings(on).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attended_chat_reaches_salesforce_once_as_a_task_on_the_cached_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (sf, zoho) = doubles();
    let id = sf.insert_record(
        ContactKind::Contact,
        serde_json::json!({"FirstName":"Lucía","LastName":"Quesada","Phone":"+506 8888-1234"}),
    );
    let h = start(&db, config(&sf, &zoho)).await;

    // Off by default: nothing is queued, even without a CRM.
    assert!(!h.app.settings().chat_log_to_crm);
    h.app
        .queue_chat_log(chat_request(7, "+50688881234"))
        .await
        .unwrap();
    assert!(Store::open(&db)
        .unwrap()
        .outbox_for_conversation(7)
        .unwrap()
        .is_empty());
    log_chats_to_crm(&h).await;
    assert_eq!(
        h.app
            .queue_chat_log(chat_request(7, "+50688881234"))
            .await
            .unwrap_err()
            .code(),
        ErrorCode::CrmNotLinked
    );
    assert_eq!(
        h.app
            .queue_chat_log(chat_request(7, "  "))
            .await
            .unwrap_err()
            .field(),
        Some("customer")
    );

    password_link(&h).await;
    h.app.search_contacts("8888 1234").await.unwrap(); // the cache knows the customer now
    h.app
        .queue_chat_log(chat_request(7, "+50688881234"))
        .await
        .unwrap();
    let written = eventually("the chat's Task delivered", || {
        let w = Store::open(&db)
            .unwrap()
            .outbox_for_conversation(7)
            .unwrap();
        (w.len() == 1 && w[0].state == OutboxState::Delivered).then(|| w[0].clone())
    })
    .await;
    assert_eq!(written.kind, OutboxKind::LogChat);
    assert_eq!(written.call_id, None);
    let tasks = sf.records("Task");
    assert_eq!(tasks.len(), 1, "exactly one Task");
    let task = &tasks[0];
    assert_eq!(written.result_id.as_deref(), task["Id"].as_str());
    assert_eq!(task["WhoId"], id.as_str());
    assert_eq!(task["Subject"], "WhatsApp +50688881234");
    assert_eq!(task["TaskSubtype"], "Task");
    assert_eq!(task["Status"], "Completed");
    assert_eq!(
        task["Description"],
        format!(
            "[10/06/2024 06:13] Cliente: Hola, ¿mi pedido?\n[10/06/2024 06:20] Agente: Sale \
             mañana 👍\n\n[enlace:{}]",
            written.idempotency_key
        )
    );

    // A number the cache does not know: a Task without WhoId.
    h.app
        .queue_chat_log(chat_request(8, "+50670001111"))
        .await
        .unwrap();
    eventually("the second Task delivered", || {
        let w = Store::open(&db)
            .unwrap()
            .outbox_for_conversation(8)
            .unwrap();
        (w.len() == 1 && w[0].state == OutboxState::Delivered).then_some(())
    })
    .await;
    let tasks = sf.records("Task");
    assert_eq!(tasks.len(), 2);
    assert!(tasks[1].get("WhoId").is_none_or(serde_json::Value::is_null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attended_chat_is_a_zoho_note_and_after_its_record_is_deleted_an_unattached_call() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (sf, zoho) = doubles();
    let lead = zoho.insert_record(
        "Leads",
        serde_json::json!({"First_Name":"Rosa","Last_Name":"Jiménez","Company":"Acme",
                           "Phone":"+506 8888 7777"}),
    );
    let h = start(&db, config(&sf, &zoho)).await;
    h.app.crm_sign_in(Crm::Zoho).await.unwrap();
    log_chats_to_crm(&h).await;
    h.app.search_contacts("8888 7777").await.unwrap();

    // The CRM is down at first: the note waits, then goes out once.
    zoho.inject(Fault::ServerErrors(1));
    h.app
        .queue_chat_log(chat_request(21, "+50688887777"))
        .await
        .unwrap();
    eventually("the note delivered", || {
        let w = Store::open(&db)
            .unwrap()
            .outbox_for_conversation(21)
            .unwrap();
        if w.first()
            .is_some_and(|w| w.state == OutboxState::Pending && w.attempts > 0)
        {
            h.clock.advance(Duration::from_secs(10));
        }
        (w[0].state == OutboxState::Delivered).then_some(())
    })
    .await;
    let notes = zoho.records("Notes");
    assert_eq!(notes.len(), 1, "exactly one note");
    assert_eq!(notes[0]["Parent_Id"]["module"]["api_name"], "Leads");
    assert_eq!(notes[0]["Parent_Id"]["id"], lead.as_str());
    assert!(notes[0]["Note_Content"]
        .as_str()
        .unwrap()
        .starts_with("[10/06/2024 06:13] Cliente: Hola"));

    // The lead is deleted in Zoho: the next chat's note needs the agent; Reintentar logs it
    // as a call without a record (the cache has no other record of the number).
    zoho.delete_record("Leads", &lead);
    h.app
        .queue_chat_log(chat_request(22, "+50688887777"))
        .await
        .unwrap();
    let refused = eventually("the deleted lead needs the agent", || {
        let w = Store::open(&db)
            .unwrap()
            .outbox_for_conversation(22)
            .unwrap();
        w.into_iter()
            .find(|w| w.state == OutboxState::NeedsAttention)
    })
    .await;
    assert_eq!(
        refused.last_error.unwrap().code,
        ErrorCode::CrmRecordDeleted
    );
    h.app.retry_crm_write(refused.id).await.unwrap();
    eventually("the call delivered", || {
        let w = Store::open(&db)
            .unwrap()
            .outbox_for_conversation(22)
            .unwrap();
        (w[0].state == OutboxState::Delivered).then_some(())
    })
    .await;
    let calls = zoho.records("Calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["Call_Type"], "Inbound");
    assert!(calls[0]
        .get("What_Id")
        .is_none_or(serde_json::Value::is_null));
    assert_eq!(zoho.records("Notes").len(), 1);
}

// ---- kill -9 in the middle of a delivery ----------------------------------------------------

const CHILD_ENV: &str = "ENLACE_OUTBOX_CHILD";
/// When set, the child first queues an attended chat with this customer number (the chat
/// setting on, the customer's record cached by a search).
const CHILD_CHAT_ENV: &str = "ENLACE_OUTBOX_CHILD_CHAT";

/// Not a test on its own: the body of the child process of the kill tests. It links the CRM
/// named in its spec (Salesforce with the password flow, Zoho through the browser sign-in)
/// and lets the courier deliver whatever the database holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let (db, crm) = match parts.as_slice() {
        [db, "salesforce", login_host] => (
            *db,
            CrmConfig {
                salesforce: SalesforceConfig {
                    login_host: (*login_host).to_owned(),
                    redirect_port: 0,
                    ..SalesforceConfig::default()
                },
                ..CrmConfig::default()
            },
        ),
        [db, "zoho", accounts, client_id, client_secret] => (
            *db,
            CrmConfig {
                zoho: ZohoConfig {
                    accounts_server: (*accounts).to_owned(),
                    client_id: (*client_id).to_owned(),
                    client_secret: (*client_secret).to_owned(),
                    redirect_port: 0,
                },
                ..CrmConfig::default()
            },
        ),
        _ => panic!("bad child spec {spec:?}"),
    };
    let zoho = parts[1] == "zoho";
    let h = start(Path::new(db), crm).await;
    if zoho {
        h.app.crm_sign_in(Crm::Zoho).await.unwrap();
    } else {
        password_link(&h).await;
    }
    if let Ok(number) = std::env::var(CHILD_CHAT_ENV) {
        log_chats_to_crm(&h).await;
        h.app.search_contacts(&number).await.unwrap();
        h.app
            .queue_chat_log(chat_request(31, &number))
            .await
            .unwrap();
    }
    // Deliver until killed.
    tokio::time::sleep(Duration::from_secs(120)).await;
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The CRM a kill test's child links.
enum ChildCrm<'a> {
    Salesforce(&'a SalesforceDouble),
    Zoho(&'a ZohoDouble),
}

fn spawn_child(db: &Path, crm: &ChildCrm<'_>) -> Child {
    spawn_child_queueing(db, crm, None)
}

/// A child that queues an attended chat with `chat_customer` before delivering.
fn spawn_child_queueing(db: &Path, crm: &ChildCrm<'_>, chat_customer: Option<&str>) -> Child {
    let spec = match crm {
        ChildCrm::Salesforce(sf) => format!("{}|salesforce|{}", db.display(), sf.base_url()),
        ChildCrm::Zoho(z) => format!(
            "{}|zoho|{}|{}|{}",
            db.display(),
            z.accounts_url(),
            z.client_id(),
            z.client_secret()
        ),
    };
    let exe = std::env::current_exe().unwrap();
    let mut command = std::process::Command::new(exe);
    command
        .args(["--exact", "outbox_child_process", "--nocapture"])
        .env(CHILD_ENV, spec)
        .env_remove(CHILD_CHAT_ENV)
        .stdout(std::process::Stdio::null());
    if let Some(number) = chat_customer {
        command.env(CHILD_CHAT_ENV, number);
    }
    Child(command.spawn().unwrap())
}

/// Kill the delivering process with SIGKILL once `posted` says the write reached the CRM
/// (committed or not, as the injected fault decides), then start another: it must finish the
/// write exactly once.
async fn kill_and_restart(
    db: &Path,
    crm: &ChildCrm<'_>,
    posted: impl Fn() -> bool,
    delivered: impl Fn() -> bool,
) {
    let mut first = spawn_child(db, crm);
    eventually("the write reached the CRM", || posted().then_some(())).await;
    let _ = first.0.kill();
    let _ = first.0.wait();
    let _second = spawn_child(db, crm);
    eventually("delivered after the restart", || delivered().then_some(())).await;
}

async fn kill_mid_delivery(fault: Fault, committed_before_kill: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (sf, _zoho) = doubles();
    let contact = sf.insert_record(
        ContactKind::Contact,
        serde_json::json!({"FirstName":"Ana","LastName":"Mora","Phone":"+50640001111"}),
    );
    let call = ended_call(&db, "call-kill", "+50640001111");
    {
        let store = Store::open(&db).unwrap();
        store
            .attach_record(
                &call.id,
                &RecordRef {
                    crm: Crm::Salesforce,
                    kind: ContactKind::Contact,
                    id: contact.clone(),
                },
                "Ana Mora",
            )
            .unwrap();
    }
    // Queue through a short-lived app (its courier has no link yet, so nothing is sent).
    {
        let h = start(&db, CrmConfig::default()).await;
        h.app
            .log_call(&call.id, "Cobro".into(), "Pagará el viernes".into())
            .await
            .unwrap();
        h.app.shutdown().await;
    }
    sf.inject(fault);
    let committed = sf.records("Task").len() + usize::from(committed_before_kill);
    kill_and_restart(
        &db,
        &ChildCrm::Salesforce(&sf),
        || {
            sf.requests()
                .iter()
                .any(|r| r.method == "POST" && r.path.ends_with("/sobjects/Task/"))
                && sf.records("Task").len() == committed
        },
        || {
            let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
            w[0].state == OutboxState::Delivered
        },
    )
    .await;
    let tasks = sf.records("Task");
    assert_eq!(tasks.len(), 1, "exactly one activity: {tasks:?}");
    assert_eq!(tasks[0]["WhoId"], contact.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_the_crm_committed_but_before_the_reply_leaves_exactly_one_activity() {
    kill_mid_delivery(Fault::StallAfterCommit(Duration::from_secs(60)), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_before_the_crm_committed_leaves_exactly_one_activity() {
    kill_mid_delivery(Fault::StallBeforeCommit(Duration::from_secs(60)), false).await;
}

/// A contact or lead created from a call through the outbox, the delivering process killed
/// while the creation is at Salesforce: one record in the end, the one carrying the write's
/// key, even though a record with exactly the same fields already existed.
async fn kill_mid_creation(kind: ContactKind, fault: Fault, committed_before_kill: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (sf, _zoho) = doubles();
    let object = match kind {
        ContactKind::Contact => "Contact",
        ContactKind::Lead => "Lead",
    };
    let mut same =
        serde_json::json!({"FirstName":"Rosa","LastName":"Jiménez","Phone":"+50688887777"});
    if kind == ContactKind::Lead {
        same["Company"] = serde_json::json!("Pura Vida Tours");
    }
    let namesake = sf.insert_record(kind, same);
    let call = ended_call(&db, "call-kill-create", "+50688887777");
    let new = NewContact {
        kind,
        first_name: Some("Rosa".into()),
        last_name: "Jiménez".into(),
        email: None,
        phone: Some("+50688887777".into()),
        mobile: None,
        company: (kind == ContactKind::Lead).then(|| "Pura Vida Tours".to_owned()),
    };
    // Queued as "Nuevo contacto" queues it (the payload is the outbox's storage format), by a
    // process that then stops before any delivery.
    {
        let store = Store::open(&db).unwrap();
        let payload = serde_json::json!({"type":"create_contact","kind": kind.as_str(),
            "first_name": new.first_name, "last_name": new.last_name, "email": new.email,
            "phone": new.phone, "mobile": new.mobile, "company": new.company});
        store
            .queue_create_contact(
                Some(&call.id),
                Crm::Salesforce,
                kind,
                "enl-kill-create",
                &payload.to_string(),
                "Rosa Jiménez",
                Timestamp(system_now()),
            )
            .unwrap();
    }
    sf.inject(fault);
    let committed = 1 + usize::from(committed_before_kill);
    let path = format!("/sobjects/{object}/");
    kill_and_restart(
        &db,
        &ChildCrm::Salesforce(&sf),
        || {
            sf.requests()
                .iter()
                .any(|r| r.method == "POST" && r.path.ends_with(&path))
                && sf.records(object).len() == committed
        },
        || {
            let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
            w[0].state == OutboxState::Delivered
        },
    )
    .await;
    let records = sf.records(object);
    assert_eq!(
        records.len(),
        2,
        "the namesake and exactly one new {object}: {records:?}"
    );
    let mine = records
        .iter()
        .find(|r| r["Id"] != namesake.as_str())
        .unwrap();
    assert_eq!(mine["Description"], "[enlace:enl-kill-create]");
    let log = Store::open(&db)
        .unwrap()
        .call_log(&call.id)
        .unwrap()
        .unwrap();
    assert_eq!(
        log.record.unwrap().id.as_deref(),
        mine["Id"].as_str(),
        "the call is on the new {object}, not on its namesake"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_salesforce_committed_a_contact_leaves_exactly_that_contact() {
    kill_mid_creation(
        ContactKind::Contact,
        Fault::StallAfterCommit(Duration::from_secs(60)),
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_salesforce_committed_a_lead_leaves_exactly_that_lead() {
    kill_mid_creation(
        ContactKind::Lead,
        Fault::StallAfterCommit(Duration::from_secs(60)),
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_before_salesforce_committed_a_lead_creates_it_once_and_not_its_namesake() {
    kill_mid_creation(
        ContactKind::Lead,
        Fault::StallBeforeCommit(Duration::from_secs(60)),
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_zoho_committed_a_call_leaves_exactly_that_call() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (_sf, zoho) = doubles();
    let contact = zoho.insert_record(
        "Contacts",
        serde_json::json!({"First_Name":"Ana","Last_Name":"Mora","Phone":"+50640001111"}),
    );
    // A colleague already logged a call with the same subject, start and contact.
    let colleague = zoho.insert_record(
        "Calls",
        serde_json::json!({"Subject":"Cobro","Call_Type":"Inbound",
            "Call_Start_Time":"2024-06-10T06:13:20+00:00","Call_Duration":"02:05",
            "Who_Id":{"id": contact},"Description":"Registrada por un colega"}),
    );
    let call = ended_call(&db, "call-kill-zoho", "+50640001111");
    Store::open(&db)
        .unwrap()
        .attach_record(
            &call.id,
            &RecordRef {
                crm: Crm::Zoho,
                kind: ContactKind::Contact,
                id: contact.clone(),
            },
            "Ana Mora",
        )
        .unwrap();
    {
        let h = start(&db, CrmConfig::default()).await;
        h.app
            .log_call(&call.id, "Cobro".into(), "Pagará el viernes".into())
            .await
            .unwrap();
        h.app.shutdown().await;
    }
    zoho.inject(Fault::StallAfterCommit(Duration::from_secs(60)));
    kill_and_restart(
        &db,
        &ChildCrm::Zoho(&zoho),
        || zoho.records("Calls").len() == 2,
        || {
            let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
            w[0].state == OutboxState::Delivered
        },
    )
    .await;
    let calls = zoho.records("Calls");
    assert_eq!(
        calls.len(),
        2,
        "the colleague's and exactly one more: {calls:?}"
    );
    let mine = calls
        .iter()
        .find(|c| c["id"] != colleague.as_str())
        .unwrap();
    let w = Store::open(&db).unwrap().outbox_for_call(&call.id).unwrap();
    assert_eq!(
        mine["Description"],
        format!("Pagará el viernes\n\n[enlace:{}]", w[0].idempotency_key)
    );
    assert_eq!(
        w[0].result_id.as_deref(),
        mine["id"].as_str(),
        "not the colleague's call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_zoho_committed_a_chat_note_leaves_exactly_that_note() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (_sf, zoho) = doubles();
    let lead = zoho.insert_record(
        "Leads",
        serde_json::json!({"Last_Name":"Jiménez","Company":"Acme","Phone":"+506 8888 7777"}),
    );
    // The note is committed, then the reply never comes: the process is killed meanwhile.
    zoho.inject(Fault::StallAfterCommit(Duration::from_secs(60)));
    let mut first = spawn_child_queueing(&db, &ChildCrm::Zoho(&zoho), Some("+50688887777"));
    eventually("the note committed", || {
        (zoho.records("Notes").len() == 1).then_some(())
    })
    .await;
    let _ = first.0.kill();
    let _ = first.0.wait();
    let _second = spawn_child(&db, &ChildCrm::Zoho(&zoho));
    eventually("delivered after the restart", || {
        let w = Store::open(&db)
            .unwrap()
            .outbox_for_conversation(31)
            .unwrap();
        (w.len() == 1 && w[0].state == OutboxState::Delivered).then_some(())
    })
    .await;
    let notes = zoho.records("Notes");
    assert_eq!(notes.len(), 1, "exactly one note: {notes:?}");
    assert_eq!(notes[0]["Parent_Id"]["id"], lead.as_str());
    let w = Store::open(&db)
        .unwrap()
        .outbox_for_conversation(31)
        .unwrap();
    assert_eq!(w[0].result_id.as_deref(), notes[0]["id"].as_str());
    assert!(w[0].attempts >= 2, "the restart found the note: {w:?}");
}
