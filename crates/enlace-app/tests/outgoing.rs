#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Sending files, voice notes and locations for real: the hub (`enlace-hub`, in-process,
//! SQLite) with WhatsApp pointed at the WhatsApp Cloud API double of `enlace-sandbox`, and the
//! app signed in as an agent of the number's queue (the set-up of `tests/inbox.rs`). What the
//! agent sends is checked at the double, field by field (api-facts C3), with the media ids of
//! real uploads the double holds.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use enlace_app::{
    App, AppOptions, ChatMessage, ChatStatus, DomainEvent, Host, OutgoingMessage, PositionSource,
};
use enlace_core::{ErrorCode, SystemClock};
use enlace_hub::auth::hash_password;
use enlace_hub::config::{WhatsAppNumber, WhatsAppSettings};
use enlace_hub::store::NewAgent;
use enlace_hub::testing::{Served, CHEAP};
use enlace_hub_client::HubClient;
use enlace_sandbox::{Inbound, WhatsAppDouble};
use enlace_secrets::{SecretStore, Sensitive};
use enlace_store::Store;
use serde_json::{json, Value};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);
const QUEUE: &str = "support";
const AGENT: (&str, &str) = ("1234567", "123456");
const BETO: (&str, &str) = ("2345678", "234567");
const CUSTOMER: &str = "5215512345678";

struct TestHost(mpsc::UnboundedSender<DomainEvent>);

impl Host for TestHost {
    fn emit(&self, event: DomainEvent) {
        let _ = self.0.send(event);
    }

    fn open_url(&self, _url: &str) -> Result<(), String> {
        Err("no browser here".into())
    }
}

type Events = mpsc::UnboundedReceiver<DomainEvent>;

/// Waits for an event `pick` accepts; `seen` gets every event read on the way.
async fn until<T>(
    events: &mut Events,
    seen: &mut Vec<DomainEvent>,
    mut pick: impl FnMut(&DomainEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = events.recv().await.expect("events");
            let found = pick(&event);
            seen.push(event);
            if let Some(found) = found {
                return found;
            }
        }
    })
    .await
    .expect("expected event")
}

/// Polls `check` until it holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn hub_config(dir: &Path, wa: &WhatsAppDouble) -> enlace_hub::HubConfig {
    enlace_hub::HubConfig {
        whatsapp: Some(WhatsAppSettings {
            verify_token: "verify".into(),
            app_secret: wa.app_secret(),
            access_token: wa.access_token(),
            graph_url: wa.graph_url(),
            waba_id: wa.waba_id(),
            numbers: vec![WhatsAppNumber {
                phone_number_id: wa.phone_number_id(),
                display_number: wa.display_phone_number(),
                name: "Ventas".into(),
                queue: QUEUE.into(),
            }],
            pair_burst: 1000,
            pair_interval_ms: 1,
            media_dir: dir.join("hub-media").display().to_string(),
            ..WhatsAppSettings::default()
        }),
        heartbeat_seconds: 3600,
        ..enlace_hub::testing::config(dir, None)
    }
}

async fn start_hub(dir: &Path, wa: &WhatsAppDouble, addr: &str) -> Served {
    let served = Served::start(hub_config(dir, wa), Arc::new(SystemClock), addr).await;
    wa.set_webhook_url(Some(&format!("{}/webhooks/whatsapp", served.url())));
    served
}

async fn seed(served: &Served) {
    for ((user, password), name, extension) in [(AGENT, "Ana", "1001"), (BETO, "Beto", "1002")] {
        let hash = hash_password(password, CHEAP).unwrap();
        served
            .hub
            .store()
            .insert_agent(
                &NewAgent {
                    user,
                    password_hash: &hash,
                    name,
                    extension,
                    queues: &[QUEUE.to_string()],
                    supervisor: false,
                },
                0,
            )
            .await
            .unwrap();
    }
    served
        .hub
        .store()
        .insert_pause_reason("Baño", Some(900), false, 0)
        .await
        .unwrap();
}

async fn start_app(db: &Path, secrets: &SecretStore) -> (App<TestHost>, Events) {
    let (tx, events) = mpsc::unbounded_channel();
    let app = App::start(
        TestHost(tx),
        Store::open(db).unwrap(),
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

/// The desktop on `dir`'s database, signed in to `hub` as the agent (with its keyring, for a
/// restart).
async fn signed_in_app(dir: &Path, hub: &Served) -> (App<TestHost>, Events, SecretStore) {
    let secrets = SecretStore::in_memory();
    let (app, events) = start_app(&dir.join("desk.sqlite3"), &secrets).await;
    app.hub_login(&hub.url(), AGENT.0, Sensitive::new(AGENT.1.into()))
        .await
        .unwrap();
    (app, events, secrets)
}

/// Waits until the customer's conversation is cached and returns its id.
async fn customer_writes(
    wa: &WhatsAppDouble,
    events: &mut Events,
    seen: &mut Vec<DomainEvent>,
    body: &str,
) -> i64 {
    wa.customer_sends(CUSTOMER, Inbound::Text(body.into()));
    until(events, seen, |e| match e {
        DomainEvent::InboxMessage {
            conversation,
            message,
        } if !message.outgoing && message.text.as_deref() == Some(body) => Some(conversation.id),
        _ => None,
    })
    .await
}

/// A real OGG/Opus voice note: `ms` of a 440 Hz tone, mono, 48 kHz (enlace-voice's encoder).
fn voice_note_ogg(ms: u32) -> Vec<u8> {
    let tone: Vec<f32> = (0..ms * 48)
        .map(|i| (f64::from(i) / 48_000.0 * 440.0 * std::f64::consts::TAU).sin() as f32 * 0.25)
        .collect();
    enlace_voice::encode_ogg_opus(&tone).unwrap()
}

/// Waits until the message with `client_id` left `pending` (the hub took it or it failed).
async fn settled(events: &mut Events, seen: &mut Vec<DomainEvent>, client_id: &str) -> ChatMessage {
    until(events, seen, |e| match e {
        DomainEvent::InboxMessage { message, .. }
            if message.client_id.as_deref() == Some(client_id)
                && message.status != ChatStatus::Pending =>
        {
            Some(message.clone())
        }
        _ => None,
    })
    .await
}

/// The messages of `kind` the double received.
fn sent_of(wa: &WhatsAppDouble, kind: &str) -> Vec<Value> {
    wa.sent_messages()
        .into_iter()
        .filter(|m| m.kind == kind)
        .map(|m| m.body)
        .collect()
}

/// Uploads the double received (`POST /{phone-number-id}/media`).
fn uploads_at_meta(wa: &WhatsAppDouble) -> usize {
    wa.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/media"))
        .count()
}

/// Files the hub keeps (uploads and customers' media) under its media folder.
fn files_at_hub(dir: &Path) -> usize {
    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path)
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    walk(&dir.join("hub-media"))
}

fn pdf_bytes() -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    pdf.extend((0..400_000u32).map(|i| b'a' + (i % 26) as u8));
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_with_a_caption_reaches_the_double_with_c3s_fields_and_shows_without_a_download() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "¿me manda la cotización?").await;

    let pdf = pdf_bytes();
    let picked = dir.path().join("cotización.pdf");
    std::fs::write(&picked, &pdf).unwrap();
    let staged = app.inbox_stage_file(&picked).await.unwrap();
    assert_eq!(
        (
            staged.kind.as_str(),
            staged.mime.as_str(),
            staged.name.as_str()
        ),
        ("document", "application/pdf", "cotización.pdf")
    );
    assert_eq!(staged.size, pdf.len() as u64);
    assert!(!staged.voice && staged.warning.is_none());
    let (preview, mime) = app.inbox_staged_path(&staged.token).await.unwrap();
    assert_eq!(std::fs::read(&preview).unwrap(), pdf);
    assert_eq!(mime, "application/pdf");
    assert_eq!(uploads_at_meta(&wa), 0, "nothing uploaded while staging");

    let pending = app
        .inbox_send_staged(id, "doc-1", &staged.token, Some("La cotización".into()))
        .await
        .unwrap();
    assert_eq!(pending.status, ChatStatus::Pending);
    assert_eq!(pending.kind, "document");
    let content: Value = serde_json::from_str(&pending.content).unwrap();
    assert_eq!(content["caption"], "La cotización");
    assert_eq!(content["filename"], "cotización.pdf");
    assert_eq!(content["size"], json!(pdf.len()));
    assert_eq!(content["mime"], "application/pdf");
    // The same client id again: the same message, nothing queued twice.
    let again = app
        .inbox_send_staged(id, "doc-1", &staged.token, Some("La cotización".into()))
        .await
        .unwrap();
    assert_eq!(again.key(), pending.key());
    // The staged token is used up.
    assert_eq!(
        app.inbox_staged_path(&staged.token)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::NotFound
    );

    let accepted = settled(&mut events, &mut seen, "doc-1").await;
    assert_ne!(accepted.status, ChatStatus::Failed, "{:?}", accepted.error);
    let hub_media = accepted.media_id.clone().expect("the hub's media id");

    // Upload progress: in order, ending at the file's size.
    let progress: Vec<(u64, u64)> = seen
        .iter()
        .filter_map(|e| match e {
            DomainEvent::InboxUpload {
                conversation_id,
                key,
                sent,
                total,
            } if *conversation_id == id && *key == pending.key() => Some((*sent, *total)),
            _ => None,
        })
        .collect();
    assert!(!progress.is_empty());
    assert!(
        progress.iter().all(|p| p.1 == pdf.len() as u64),
        "{progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "{progress:?}"
    );
    assert_eq!(progress.last().unwrap().0, pdf.len() as u64);

    // At the double: exactly C3's document object, with the id of an upload it holds.
    eventually("the document at the double", || {
        !sent_of(&wa, "document").is_empty()
    })
    .await;
    let sent = sent_of(&wa, "document");
    assert_eq!(sent.len(), 1);
    let meta_id = sent[0]["document"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        sent[0]["document"],
        json!({"id": meta_id, "caption": "La cotización", "filename": "cotización.pdf"})
    );
    let file = wa
        .media_file(&meta_id)
        .expect("the double holds the upload");
    assert_eq!(file.bytes, pdf);
    assert_eq!(file.mime_type, "application/pdf");
    assert_eq!(uploads_at_meta(&wa), 1);

    // The agent's own file is in the media cache: no download even with the hub away.
    hub.shutdown().await;
    let cached = app.inbox_media_path(&hub_media).await.unwrap();
    assert!(cached.starts_with(dir.path().join("media")), "{cached:?}");
    assert_eq!(std::fs::read(&cached).unwrap(), pdf);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_with_a_quick_address_reaches_the_double_and_is_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    hub.hub
        .store()
        .insert_wa_quick_address("Oficina central", "Av. Paseo de la Reforma 222, CDMX", 0)
        .await
        .unwrap();
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "¿dónde están?").await;
    assert_eq!(app.last_position().await.unwrap(), None);

    // The organization's quick addresses and the agent's own.
    let own = app
        .inbox_quick_address_save(
            "Bodega",
            "Calle 5 #10, Naucalpan",
            Some(19.47),
            Some(-99.23),
        )
        .await
        .unwrap();
    assert!(own.id.starts_with("own:") && own.own);
    for (name, address, lat, lon, code) in [
        ("", "Calle 5", None, None, ErrorCode::InvalidRequest),
        ("Bodega", " ", None, None, ErrorCode::InvalidRequest),
        ("X", "Y", Some(91.0), Some(0.0), ErrorCode::InvalidLocation),
        ("X", "Y", Some(10.0), None, ErrorCode::InvalidLocation),
    ] {
        let e = app
            .inbox_quick_address_save(name, address, lat, lon)
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{name:?} {address:?}");
    }
    let list = app.inbox_quick_addresses().await.unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let office = list.iter().find(|q| !q.own).unwrap().clone();
    assert!(office.id.starts_with("org:"));
    assert_eq!(office.address, "Av. Paseo de la Reforma 222, CDMX");
    assert_eq!((office.latitude, office.longitude), (None, None));
    assert_eq!(list.iter().find(|q| q.own).unwrap(), &own);
    assert_eq!(
        app.inbox_quick_address_delete(&office.id)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::Forbidden
    );
    app.inbox_quick_address_delete(&own.id).await.unwrap();
    assert_eq!(
        app.inbox_quick_addresses().await.unwrap(),
        vec![office.clone()]
    );

    // Out of range or not a number: refused, nothing queued.
    for (lat, lon) in [(91.0, 0.0), (0.0, 181.0), (f64::NAN, 0.0)] {
        let e = app
            .inbox_send(
                id,
                "loc-bad",
                OutgoingMessage::Location {
                    latitude: lat,
                    longitude: lon,
                    name: None,
                    address: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidLocation);
    }

    let (lat, lon) = (19.4326, -99.1332);
    app.inbox_send(
        id,
        "loc-1",
        OutgoingMessage::Location {
            latitude: lat,
            longitude: lon,
            name: Some(office.name.clone()),
            address: Some(office.address.clone()),
        },
    )
    .await
    .unwrap();
    let accepted = settled(&mut events, &mut seen, "loc-1").await;
    assert_ne!(accepted.status, ChatStatus::Failed, "{:?}", accepted.error);
    eventually("the location at the double", || {
        !sent_of(&wa, "location").is_empty()
    })
    .await;
    let sent = sent_of(&wa, "location");
    assert_eq!(sent.len(), 1, "the refused ones never left");
    let location = &sent[0]["location"];
    let number = |v: &Value| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap()
    };
    assert_eq!(number(&location["latitude"]), lat);
    assert_eq!(number(&location["longitude"]), lon);
    assert_eq!(location["name"], "Oficina central");
    assert_eq!(location["address"], "Av. Paseo de la Reforma 222, CDMX");

    let last = app.last_position().await.unwrap().unwrap();
    assert_eq!((last.latitude, last.longitude), (lat, lon));
    assert_eq!(last.source, PositionSource::LastUsed);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_voice_note_arrives_as_audio_with_voice_true() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "mándeme un audio").await;

    let ogg = voice_note_ogg(1_000);
    let staged = app
        .inbox_stage_recording(ogg.clone(), 1_000, vec![10, 200, 90])
        .await
        .unwrap();
    assert!(staged.voice);
    assert_eq!(
        (staged.kind.as_str(), staged.mime.as_str()),
        ("audio", "audio/ogg")
    );
    assert_eq!(staged.duration_ms, Some(1_000));
    assert_eq!(staged.warning, None);
    // Audio takes no caption.
    let e = app
        .inbox_send_staged(id, "voice-0", &staged.token, Some("escuche".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::WhatsappInvalidMessage);
    let pending = app
        .inbox_send_staged(id, "voice-1", &staged.token, None)
        .await
        .unwrap();
    let content: Value = serde_json::from_str(&pending.content).unwrap();
    assert_eq!(content["voice"], true);
    assert_eq!(content["durationMs"], 1_000);
    let accepted = settled(&mut events, &mut seen, "voice-1").await;
    assert_ne!(accepted.status, ChatStatus::Failed, "{:?}", accepted.error);

    eventually("the voice note at the double", || {
        !sent_of(&wa, "audio").is_empty()
    })
    .await;
    let sent = sent_of(&wa, "audio");
    let meta_id = sent[0]["audio"]["id"].as_str().unwrap().to_owned();
    assert_eq!(sent[0]["audio"], json!({"id": meta_id, "voice": true}));
    let file = wa.media_file(&meta_id).unwrap();
    assert_eq!(file.bytes, ogg);
    assert_eq!(file.mime_type, "audio/ogg");

    // Empty recordings, and a recording that is not OGG/Opus, are refused.
    assert_eq!(
        app.inbox_stage_recording(Vec::new(), 0, Vec::new())
            .await
            .unwrap_err()
            .code(),
        ErrorCode::RecordingEmpty
    );
    assert_eq!(
        app.inbox_stage_recording(b"RIFF\0\0\0\0WAVE".to_vec(), 500, Vec::new())
            .await
            .unwrap_err()
            .code(),
        ErrorCode::WhatsappMediaContent
    );
    // Past 512 KB: staged with the warning that it may show as a file.
    let mut large = voice_note_ogg(200);
    large.resize(600_000, 0);
    let big = app
        .inbox_stage_recording(large, 200, Vec::new())
        .await
        .unwrap();
    assert_eq!(big.warning.as_deref(), Some("voice_note_large"));
    app.inbox_discard_staged(&big.token).await.unwrap();
    assert_eq!(
        app.inbox_staged_path(&big.token).await.unwrap_err().code(),
        ErrorCode::NotFound
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_over_the_limits_are_refused_before_any_upload() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    customer_writes(&wa, &mut events, &mut seen, "hola").await;
    let hub_files = files_at_hub(dir.path());

    let png_head = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let mut big_png = png_head.clone();
    big_png.resize(6_000_000, 0);
    let cases: Vec<(&str, Vec<u8>, ErrorCode, &str)> = vec![
        (
            "foto.png",
            big_png,
            ErrorCode::WhatsappMediaTooLarge,
            "5 MB",
        ),
        (
            "factura.pdf",
            png_head.clone(),
            ErrorCode::WhatsappMediaContent,
            "PDF",
        ),
        (
            "vacío.pdf",
            Vec::new(),
            ErrorCode::WhatsappMediaEmpty,
            "empty",
        ),
        (
            "setup.exe",
            b"MZ\x90\0".to_vec(),
            ErrorCode::WhatsappMediaType,
            ".exe",
        ),
    ];
    for (name, bytes, code, says) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let e = app.inbox_stage_file(&path).await.unwrap_err();
        assert_eq!(e.code(), code, "{name}: {e}");
        assert!(e.to_string().contains(says), "{name}: {e}");
        // Pasted, the same bytes are refused the same way.
        let e = app.inbox_stage_bytes(name, bytes).await.unwrap_err();
        assert_eq!(e.code(), code, "{name} pasted: {e}");
    }
    // A 2 GB file is refused from its size alone (sparse: never written, never read).
    let huge = dir.path().join("respaldo.pdf");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(2_000_000_000)
        .unwrap();
    let e = app.inbox_stage_file(&huge).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::WhatsappMediaTooLarge);
    assert!(e.to_string().contains("100 MB"), "{e}");

    // Nothing reached the hub or WhatsApp, nothing was staged.
    assert_eq!(uploads_at_meta(&wa), 0);
    assert_eq!(files_at_hub(dir.path()), hub_files);
    let outgoing = dir.path().join("outgoing");
    assert!(
        std::fs::read_dir(&outgoing).map_or(true, |mut d| d.next().is_none()),
        "nothing staged"
    );
    assert!(sent_of(&wa, "document").is_empty() && sent_of(&wa, "image").is_empty());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_before_a_restart_is_sent_once_without_uploading_again() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let secrets = SecretStore::in_memory();
    let db = dir.path().join("desk.sqlite3");
    let (app, mut events) = start_app(&db, &secrets).await;
    app.hub_login(&hub.url(), AGENT.0, Sensitive::new(AGENT.1.into()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "hola").await;
    app.shutdown().await;
    drop(app);

    // Where the app stopped: the message queued with its file, the file already at the hub
    // (its id kept in the queue), the message not handed over yet.
    let pdf = pdf_bytes();
    let queued = dir
        .path()
        .join("outgoing/queue/0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&queued).unwrap();
    let file = queued.join("factura.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let client = HubClient::new(&hub.url()).unwrap();
    let (path, up) = (file.clone(), client.clone());
    let uploaded = tokio::task::spawn_blocking(move || {
        let token = up
            .login(AGENT.0, &Sensitive::new(AGENT.1.into()))
            .unwrap()
            .token;
        up.upload_media(
            &token,
            &path,
            "application/pdf",
            "document",
            Some("factura.pdf"),
            &mut |_, _| {},
        )
        .unwrap()
    })
    .await
    .unwrap();
    let message = OutgoingMessage::Media {
        kind: "document".into(),
        media_id: String::new(),
        caption: Some("su factura".into()),
        filename: Some("factura.pdf".into()),
        voice: false,
    };
    let json = serde_json::to_string(&message).unwrap();
    {
        let store = Store::open(&db).unwrap();
        let pending = ChatMessage {
            seq: 0,
            hub_id: None,
            client_id: Some("file-1".into()),
            conversation_id: id,
            wamid: None,
            outgoing: true,
            kind: "document".into(),
            text: Some("su factura".into()),
            content: json.clone(),
            media_id: None,
            reply_to: None,
            status: ChatStatus::Pending,
            error: None,
            agent_id: None,
            at: 1,
        };
        store
            .queue_chat_file_send(&pending, &json, &file.display().to_string())
            .unwrap();
        store
            .chat_send_media_uploaded("file-1", &uploaded.id)
            .unwrap();
    }
    let hub_files = files_at_hub(dir.path());

    // Opened again: the message goes once, with the file the hub already has.
    let (app, mut events) = start_app(&db, &secrets).await;
    let mut seen = Vec::new();
    let accepted = settled(&mut events, &mut seen, "file-1").await;
    assert_ne!(accepted.status, ChatStatus::Failed, "{:?}", accepted.error);
    assert_eq!(accepted.media_id.as_deref(), Some(uploaded.id.as_str()));
    eventually("the document at the double", || {
        !sent_of(&wa, "document").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = sent_of(&wa, "document");
    assert_eq!(sent.len(), 1, "sent once");
    let meta_id = sent[0]["document"]["id"].as_str().unwrap();
    assert_eq!(wa.media_file(meta_id).unwrap().bytes, pdf);
    assert_eq!(files_at_hub(dir.path()), hub_files, "not uploaded again");
    assert!(!seen
        .iter()
        .any(|e| matches!(e, DomainEvent::InboxUpload { .. })));
    // The file moved into the media cache under the hub's id.
    assert!(!file.exists());
    assert_eq!(
        std::fs::read(app.inbox_media_path(&uploaded.id).await.unwrap()).unwrap(),
        pdf
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_the_hub_refuses_fails_with_its_code_and_reintentar_sends_it() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let addr = hub.addr.to_string();
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "¿y la factura?").await;

    // Queued while the hub is away; meanwhile the queued file stops being a PDF.
    hub.shutdown().await;
    let pdf = pdf_bytes();
    let picked = dir.path().join("factura.pdf");
    std::fs::write(&picked, &pdf).unwrap();
    let staged = app.inbox_stage_file(&picked).await.unwrap();
    let pending = app
        .inbox_send_staged(id, "bad-1", &staged.token, Some("su factura".into()))
        .await
        .unwrap();
    let content: Value = serde_json::from_str(&pending.content).unwrap();
    let queued = std::path::PathBuf::from(content["stagedPath"].as_str().unwrap());
    std::fs::write(&queued, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();

    // The hub is back and refuses the file: failed with the code, nothing at WhatsApp.
    let hub = start_hub(dir.path(), &wa, &addr).await;
    let failed = settled(&mut events, &mut seen, "bad-1").await;
    assert_eq!(failed.status, ChatStatus::Failed);
    let error = failed.error.clone().unwrap();
    assert_eq!(error.kind.as_deref(), Some("whatsapp_media_content"));
    assert_eq!(uploads_at_meta(&wa), 0);
    assert!(sent_of(&wa, "document").is_empty());

    // Reintentar (the file fixed): a new message with the same file goes out.
    std::fs::write(&queued, &pdf).unwrap();
    let retried = app.inbox_retry(id, &failed.key()).await.unwrap();
    assert_eq!(retried.status, ChatStatus::Pending);
    let client = retried.client_id.clone().unwrap();
    let accepted = settled(&mut events, &mut seen, &client).await;
    assert_ne!(accepted.status, ChatStatus::Failed, "{:?}", accepted.error);
    eventually("the document at the double", || {
        !sent_of(&wa, "document").is_empty()
    })
    .await;
    let sent = sent_of(&wa, "document");
    assert_eq!(sent[0]["document"]["caption"], "su factura");
    let meta_id = sent[0]["document"]["id"].as_str().unwrap();
    assert_eq!(wa.media_file(meta_id).unwrap().bytes, pdf);
    app.shutdown().await;
    hub.shutdown().await;
}
