//! The client's WhatsApp inbox calls against the real `enlace-hub` (in-process, SQLite) wired
//! to the WhatsApp Cloud API double of `enlace-sandbox`: customers write through signed
//! webhooks, the hub sends through the double's Graph API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use enlace_core::{Clock, Timestamp};
use enlace_hub::auth::{hash_password, PasswordCost};
use enlace_hub::config::{WhatsAppNumber, WhatsAppSettings};
use enlace_hub::store::NewAgent;
use enlace_hub::testing::Served;
use enlace_hub::HubConfig;
use enlace_hub_client::api::{
    BusinessNumber, Conversation, OutgoingMessage, SendMessageRequest, StartConversationRequest,
};
use enlace_hub_client::{HubClient, HubError};
use enlace_sandbox::{Inbound, InboundMedia, Template, WhatsAppDouble};
use enlace_secrets::Sensitive;

const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};
const WAIT: Duration = Duration::from_secs(20);
const QUEUE: &str = "support";

/// Real time (the double's webhook timestamps open the 24-hour window).
#[derive(Debug, Clone)]
struct WallClock(Arc<AtomicI64>);

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

fn wall() -> WallClock {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    WallClock(Arc::new(AtomicI64::new(i64::try_from(now).unwrap())))
}

fn config(dir: &Path, wa: &WhatsAppDouble) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("hub.db").display()),
        password_memory_kib: CHEAP.memory_kib,
        password_iterations: CHEAP.iterations,
        heartbeat_seconds: 3600,
        whatsapp: Some(WhatsAppSettings {
            verify_token: "verify".into(),
            app_secret: wa.app_secret(),
            access_token: wa.access_token(),
            graph_url: wa.graph_url(),
            waba_id: wa.waba_id(),
            numbers: vec![WhatsAppNumber {
                phone_number_id: wa.phone_number_id(),
                display_number: wa.display_phone_number(),
                name: "Soporte".into(),
                queue: QUEUE.into(),
            }],
            pair_burst: 1000,
            pair_interval_ms: 1,
            media_dir: dir.join("media").display().to_string(),
            ..WhatsAppSettings::default()
        }),
        ..HubConfig::default()
    }
}

struct Env {
    _dir: tempfile::TempDir,
    wa: WhatsAppDouble,
    server: Served,
    client: HubClient,
}

async fn start() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let server = Served::start(config(dir.path(), &wa), Arc::new(wall()), "127.0.0.1:0").await;
    for (user, password, name, ext, supervisor) in [
        ("1234567", "123456", "Ana", "1001", false),
        ("2345678", "234567", "Beto", "1002", false),
        ("1111111", "111111", "Sara", "1009", true),
    ] {
        let hash = hash_password(password, CHEAP).unwrap();
        server
            .hub
            .store()
            .insert_agent(
                &NewAgent {
                    user,
                    password_hash: &hash,
                    name,
                    extension: ext,
                    queues: &[QUEUE.to_string()],
                    supervisor,
                },
                0,
            )
            .await
            .unwrap();
    }
    wa.set_webhook_url(Some(&format!("{}/webhooks/whatsapp", server.url())));
    let client = HubClient::new(&server.url()).unwrap();
    Env {
        _dir: dir,
        wa,
        server,
        client,
    }
}

/// Runs blocking client code off the runtime's workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

async fn login(client: &HubClient, user: &str, password: &str) -> Sensitive<String> {
    let (c, u, p) = (
        client.clone(),
        user.to_owned(),
        Sensitive::new(password.to_owned()),
    );
    blocking(move || c.login(&u, &p)).await.unwrap().token
}

/// Calls `f` with a clone of the client and the token, off the runtime.
async fn with<T: Send + 'static>(
    env: &Env,
    token: &Sensitive<String>,
    f: impl FnOnce(&HubClient, &Sensitive<String>) -> T + Send + 'static,
) -> T {
    let (c, t) = (env.client.clone(), token.clone());
    blocking(move || f(&c, &t)).await
}

/// Polls the token's conversation list until `pick` finds one.
async fn wait_conversation(
    env: &Env,
    token: &Sensitive<String>,
    pick: impl Fn(&Conversation) -> bool + Send + Sync + Clone + 'static,
) -> Conversation {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let pick = pick.clone();
        let list = with(env, token, |c, t| c.conversations(t, None))
            .await
            .unwrap();
        if let Some(found) = list.into_iter().find(|c| pick(c)) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for a conversation"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn text(client_id: &str, body: &str) -> SendMessageRequest {
    SendMessageRequest {
        client_id: client_id.into(),
        message: OutgoingMessage::Text {
            body: body.into(),
            preview_url: false,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_calls_list_read_send_comment_take_release_and_attend() {
    let env = start().await;
    let ana = login(&env.client, "1234567", "123456").await;
    let beto = login(&env.client, "2345678", "234567").await;
    let sara = login(&env.client, "1111111", "111111").await;
    // Only Ana is available: the customers' conversations go to her.
    let reason_id = env
        .server
        .hub
        .store()
        .insert_pause_reason("Comida", None, false, 0)
        .await
        .unwrap();
    for t in [&beto, &sara] {
        with(&env, t, move |c, t| {
            c.set_state(t, enlace_hub_client::StateChange::Paused { reason_id })
        })
        .await
        .unwrap();
    }

    let numbers = with(&env, &beto, |c, t| c.whatsapp_numbers(t))
        .await
        .unwrap();
    assert_eq!(
        numbers,
        [BusinessNumber {
            phone_number_id: env.wa.phone_number_id(),
            display_number: env.wa.display_phone_number(),
            name: "Soporte".into(),
            queue: QUEUE.into(),
        }]
    );

    env.wa
        .customer_sends("5215512340001", Inbound::Text("hola".into()));
    // Listed (unassigned, her queue) as soon as it exists; routed to her a moment later.
    let conv = wait_conversation(&env, &ana, |c| {
        c.wa_id == "5215512340001" && c.agent_id.is_some()
    })
    .await;
    assert_eq!(conv.agent_name.as_deref(), Some("Ana"));
    assert_eq!(
        conv.last_message.as_ref().and_then(|m| m.text.as_deref()),
        Some("hola")
    );
    assert!(conv.window_open);
    let id = conv.id;
    // Beto sees his queue's conversation (assigned to Ana) and can search it.
    let found = with(&env, &beto, |c, t| {
        c.conversations(t, Some("+52 55 1234 0001"))
    })
    .await
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, id);

    // Send: queued once; the same client id again is the same message.
    let sent = with(&env, &ana, move |c, t| {
        c.send_message(t, id, &text("c-1", "¿en qué le ayudo?"))
    })
    .await
    .unwrap();
    assert_eq!(sent.direction, "out");
    let again = with(&env, &ana, move |c, t| {
        c.send_message(t, id, &text("c-1", "¿en qué le ayudo?"))
    })
    .await
    .unwrap();
    assert_eq!(again.id, sent.id);
    // Another agent may read it, not write to it.
    let e = with(&env, &beto, move |c, t| {
        c.send_message(t, id, &text("b-1", "yo"))
    })
    .await
    .unwrap_err();
    assert_eq!(e.code(), "forbidden");

    // Pages: newest first page of 1, then the one before it.
    let page = with(&env, &ana, move |c, t| c.messages(t, id, None, 1))
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].id, sent.id);
    let before = page.next_before;
    assert!(before.is_some());
    let older = with(&env, &ana, move |c, t| c.messages(t, id, before, 50))
        .await
        .unwrap();
    assert_eq!(older.messages.len(), 1);
    assert_eq!(older.messages[0].text.as_deref(), Some("hola"));
    assert_eq!(older.next_before, None);

    with(&env, &ana, move |c, t| c.mark_read(t, id))
        .await
        .unwrap();
    let comment = with(&env, &ana, move |c, t| c.add_comment(t, id, "cliente VIP"))
        .await
        .unwrap();
    assert_eq!(comment.body, "cliente VIP");
    let comments = with(&env, &beto, move |c, t| c.comments(t, id))
        .await
        .unwrap();
    assert_eq!(comments, [comment]);
    let e = with(&env, &ana, move |c, t| c.add_comment(t, id, "  "))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_request");

    // Beto may not release Ana's conversation; Ana pauses and hands it back: nobody is
    // available, so it waits unassigned; Beto takes it; Ana cannot take it then.
    let e = with(&env, &beto, move |c, t| c.release(t, id))
        .await
        .unwrap_err();
    assert_eq!(e, HubError::Forbidden);
    with(&env, &ana, move |c, t| {
        c.set_state(t, enlace_hub_client::StateChange::Paused { reason_id })
    })
    .await
    .unwrap();
    let released = with(&env, &ana, move |c, t| c.release(t, id))
        .await
        .unwrap();
    assert_eq!(released.agent_id, None);
    let taken = with(&env, &beto, move |c, t| c.take(t, id)).await.unwrap();
    assert_eq!(taken.agent_name.as_deref(), Some("Beto"));
    let e = with(&env, &ana, move |c, t| c.take(t, id))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_request");

    let attended = with(&env, &beto, move |c, t| c.mark_attended(t, id))
        .await
        .unwrap();
    assert_eq!(attended.state, "attended");
    let open = with(&env, &beto, |c, t| c.conversations(t, None))
        .await
        .unwrap();
    assert!(open.iter().all(|c| c.id != id), "attended leaves the list");

    let e = with(&env, &ana, |c, t| c.messages(t, 999_999, None, 10))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_window_offers_templates_and_a_template_starts_the_conversation() {
    let env = start().await;
    env.wa.add_template(Template::new(
        "seguimiento",
        "es_MX",
        "UTILITY",
        "Hola {{1}}, le escribimos de Enlace.",
    ));
    let store = env.server.hub.store().clone();
    store
        .insert_wa_canned_response("/hola", "Hola, ¿en qué le ayudo?", 0)
        .await
        .unwrap();
    store
        .insert_wa_quick_address("Matriz", "Av. Reforma 1, CDMX", 0)
        .await
        .unwrap();
    let ana = login(&env.client, "1234567", "123456").await;

    let templates = with(&env, &ana, |c, t| c.templates(t, true)).await.unwrap();
    assert!(templates.iter().any(|t| t.name == "seguimiento"));
    let cached = with(&env, &ana, |c, t| c.templates(t, false))
        .await
        .unwrap();
    assert_eq!(cached, templates);
    let canned = with(&env, &ana, |c, t| c.canned_responses(t))
        .await
        .unwrap();
    assert_eq!(canned[0].shortcut, "/hola");
    let addresses = with(&env, &ana, |c, t| c.quick_addresses(t)).await.unwrap();
    assert_eq!(addresses[0].name, "Matriz");

    // Free text to a customer who never wrote: refused, with the templates to use instead.
    let number = env.wa.display_phone_number();
    let start = move |message: OutgoingMessage, client_id: &str| StartConversationRequest {
        business_number: number.clone(),
        customer_number: "+52 55 1234 0002".into(),
        client_id: client_id.into(),
        message,
    };
    let refused = start(
        OutgoingMessage::Text {
            body: "hola".into(),
            preview_url: false,
        },
        "s-1",
    );
    let e = with(&env, &ana, move |c, t| c.start_conversation(t, &refused))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "window_closed");
    assert!(e.templates().iter().any(|t| t.name == "seguimiento"));
    let template = start(
        OutgoingMessage::Template {
            name: "seguimiento".into(),
            language: "es_MX".into(),
            parameters: vec!["Lucía".into()],
        },
        "s-2",
    );
    let started = with(&env, &ana, move |c, t| c.start_conversation(t, &template))
        .await
        .unwrap();
    assert_eq!(started.message.kind, "template");
    assert_eq!(started.conversation.agent_name.as_deref(), Some("Ana"));
    assert_eq!(
        started.conversation.last_message.as_ref().map(|m| m.id),
        Some(started.message.id)
    );
    let id = started.conversation.id;
    // In that conversation free text is still refused, with the templates.
    let e = with(&env, &ana, move |c, t| {
        c.send_message(t, id, &text("s-3", "¿me lee?"))
    })
    .await
    .unwrap_err();
    assert!(matches!(e, HubError::WindowClosed { ref templates, .. } if !templates.is_empty()));
    // The template reaches the double.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !env.wa.sent_messages().iter().any(|m| m.kind == "template") {
        assert!(tokio::time::Instant::now() < deadline, "template not sent");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_downloads_with_type_and_name_within_the_limit_only() {
    let env = start().await;
    let ana = login(&env.client, "1234567", "123456").await;
    env.wa.customer_sends(
        "5215512340003",
        Inbound::Media(InboundMedia::document("factura marzo/2026.pdf", None)),
    );
    let conv = wait_conversation(&env, &ana, |c| {
        c.wa_id == "5215512340003"
            && c.last_message
                .as_ref()
                .is_some_and(|m| m.media_id.is_some())
    })
    .await;
    let message = conv.last_message.unwrap();
    let media_id = message.media_id.clone().unwrap();
    let meta_id = message.content["document"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let original = env.wa.media_bytes(&meta_id).unwrap();

    let id = media_id.clone();
    let file = with(&env, &ana, move |c, t| c.download_media(t, &id, 10_000_000))
        .await
        .unwrap();
    assert_eq!(file.bytes, original);
    assert_eq!(file.mime_type, "application/pdf");
    // The customer's name, with the path separator made harmless.
    assert_eq!(file.filename.as_deref(), Some("factura marzo_2026.pdf"));

    let id = media_id.clone();
    let limit = u64::try_from(original.len()).unwrap() - 1;
    let e = with(&env, &ana, move |c, t| c.download_media(t, &id, limit))
        .await
        .unwrap_err();
    assert_eq!(e, HubError::MediaTooLarge { limit });
    assert_eq!(e.code(), "media_too_large");

    // Ids are untrusted: whatever they hold stays one path segment.
    for bad in ["../../api/v1/me", "x?y=1", "a/b", "..", "%2e%2e"] {
        let e = with(&env, &ana, move |c, t| c.download_media(t, bad, 1000))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "not_found", "{bad}");
    }
    let e = with(&env, &ana, |c, t| c.download_media(t, "", 1000))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_stream_the_file_with_progress_and_refusals_have_media_codes() {
    let env = start().await;
    let ana = login(&env.client, "1234567", "123456").await;
    let dir = tempfile::tempdir().unwrap();
    let pdf: Vec<u8> = [b"%PDF-1.7\n".to_vec(), vec![b'x'; 300_000]].concat();
    let path = dir.path().join("cotización.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let p = path.clone();
    let (uploaded, ticks) = with(&env, &ana, move |c, t| {
        let mut ticks: Vec<(u64, u64)> = Vec::new();
        let r = c.upload_media(
            t,
            &p,
            "application/pdf",
            "document",
            Some("cotización.pdf"),
            &mut |sent, total| ticks.push((sent, total)),
        );
        (r, ticks)
    })
    .await;
    let uploaded = uploaded.unwrap();
    assert_eq!(uploaded.size, pdf.len() as i64);
    assert_eq!(uploaded.mime_type, "application/pdf");
    let total = pdf.len() as u64;
    assert_eq!(ticks.first(), Some(&(0, total)));
    assert_eq!(ticks.last(), Some(&(total, total)));
    assert!(ticks.windows(2).all(|w| w[0].0 <= w[1].0), "{ticks:?}");
    let kept = env
        .server
        .hub
        .store()
        .wa_media(&uploaded.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.filename.as_deref(), Some("cotización.pdf"));
    let id = uploaded.id.clone();
    let back = with(&env, &ana, move |c, t| c.download_media(t, &id, 10_000_000))
        .await
        .unwrap();
    assert_eq!(back.bytes, pdf);

    // The hub's refusals (WhatsApp's limits) come back with the media codes.
    let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![0u8; 100]].concat();
    let big: Vec<u8> = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![0u8; 5_000_000]].concat();
    for (name, bytes, mime, kind, code) in [
        (
            "a.pdf",
            png.clone(),
            "application/pdf",
            "document",
            "whatsapp_media_content",
        ),
        (
            "b.png",
            big,
            "image/png",
            "image",
            "whatsapp_media_too_large",
        ),
        (
            "c.gif",
            b"GIF89a".to_vec(),
            "image/gif",
            "image",
            "whatsapp_media_type",
        ),
        (
            "d.png",
            Vec::new(),
            "image/png",
            "image",
            "whatsapp_media_empty",
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = with(&env, &ana, move |c, t| {
            c.upload_media(t, &p, mime, kind, None, &mut |_, _| {})
        })
        .await
        .unwrap_err();
        assert_eq!(e.code(), code, "{name}: {e}");
    }
    let missing = dir.path().join("gone.pdf");
    let e = with(&env, &ana, move |c, t| {
        c.upload_media(
            t,
            &missing,
            "application/pdf",
            "document",
            None,
            &mut |_, _| {},
        )
    })
    .await
    .unwrap_err();
    assert_eq!(e.code(), "invalid_request");
}
