//! WhatsApp in the hub, end to end: the real hub (`Served`, SQLite) against the WhatsApp Cloud
//! API double of `enlace-sandbox`, which posts signed webhooks to the hub like Meta and takes
//! the hub's sends like the Graph API. Agents use the real HTTP API and stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::Future;
use std::net::SocketAddr;
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
use enlace_sandbox::{
    BatchLayout, Inbound, InboundMedia, InboundMessage, MediaKind, StatusPlan, WhatsAppDouble,
};
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHEAP: PasswordCost = PasswordCost {
    memory_kib: 64,
    iterations: 1,
};
const QUEUE: &str = "support";
const ANA: (&str, &str) = ("1234567", "123456");
const BETO: (&str, &str) = ("2345678", "234567");
const SARA: (&str, &str) = ("3456789", "345678");
const VERIFY: &str = "verify-me-7f3a";

/// The hub's clock: real time (so the double's timestamps agree), moved forward by tests.
#[derive(Debug, Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn new() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        TestClock(Arc::new(AtomicI64::new(i64::try_from(now).unwrap())))
    }
    fn advance(&self, d: Duration) {
        self.0
            .fetch_add(i64::try_from(d.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

fn settings(wa: &WhatsAppDouble, dir: &Path) -> WhatsAppSettings {
    WhatsAppSettings {
        verify_token: VERIFY.into(),
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
    }
}

fn config(dir: &Path, wa: WhatsAppSettings) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("hub.db").display()),
        password_memory_kib: CHEAP.memory_kib,
        password_iterations: CHEAP.iterations,
        heartbeat_seconds: 3600,
        whatsapp: Some(wa),
        ..HubConfig::default()
    }
}

struct Env {
    dir: tempfile::TempDir,
    wa: WhatsAppDouble,
    clock: TestClock,
    server: Option<Served>,
    settings: WhatsAppSettings,
}

impl Env {
    async fn start(tune: impl FnOnce(&mut WhatsAppSettings)) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let wa = WhatsAppDouble::start().unwrap();
        let mut s = settings(&wa, dir.path());
        tune(&mut s);
        let clock = TestClock::new();
        let server = Served::start(
            config(dir.path(), s.clone()),
            Arc::new(clock.clone()),
            "127.0.0.1:0",
        )
        .await;
        seed(&server).await;
        wa.set_webhook_url(Some(&format!("{}/webhooks/whatsapp", server.url())));
        Env {
            dir,
            wa,
            clock,
            server: Some(server),
            settings: s,
        }
    }

    fn server(&self) -> &Served {
        self.server.as_ref().unwrap()
    }

    fn addr(&self) -> SocketAddr {
        self.server().addr
    }

    /// Stops the hub and starts it again on the same database (and the same address).
    async fn restart(&mut self, tune: impl FnOnce(&mut WhatsAppSettings)) {
        let old = self.server.take().unwrap();
        let addr = old.addr.to_string();
        old.shutdown().await;
        tune(&mut self.settings);
        let server = Served::start(
            config(self.dir.path(), self.settings.clone()),
            Arc::new(self.clock.clone()),
            &addr,
        )
        .await;
        self.server = Some(server);
    }
}

async fn seed(server: &Served) {
    let hash = |p: &str| hash_password(p, CHEAP).unwrap();
    for (i, ((user, password), name, supervisor)) in [
        (ANA, "Ana", false),
        (BETO, "Beto", false),
        (SARA, "Sara", true),
    ]
    .into_iter()
    .enumerate()
    {
        let h = hash(password);
        server
            .hub
            .store()
            .insert_agent(
                &NewAgent {
                    user,
                    password_hash: &h,
                    name,
                    extension: &format!("100{i}"),
                    queues: &[QUEUE.to_string()],
                    supervisor,
                },
                0,
            )
            .await
            .unwrap();
    }
}

async fn get(addr: SocketAddr, path: &str, token: &str) -> Reply {
    http(addr, "GET", path, Some(token), None).await
}

/// Waits (polling) until `check` returns `Some`.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn conversations(addr: SocketAddr, token: &str) -> Vec<Value> {
    let r = get(addr, "/api/v1/conversations", token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body.as_array().unwrap().clone()
}

async fn messages(addr: SocketAddr, token: &str, conversation: i64) -> Vec<Value> {
    let r = get(
        addr,
        &format!("/api/v1/conversations/{conversation}/messages"),
        token,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["messages"].as_array().unwrap().clone()
}

/// The conversation with customer `wa_id` as a supervisor sees it (waits for it).
async fn conversation_of(env: &Env, boss: &str, wa_id: &str) -> Value {
    processed(env).await;
    let addr = env.addr();
    let wa_id = wa_id.to_string();
    wait_for(&format!("conversation with {wa_id}"), || {
        let wa_id = wa_id.clone();
        async move {
            conversations(addr, boss)
                .await
                .into_iter()
                .find(|c| c["waId"] == wa_id.as_str())
        }
    })
    .await
}

async fn send_text(
    addr: SocketAddr,
    token: &str,
    conversation: i64,
    client: &str,
    text: &str,
) -> Reply {
    post(
        addr,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(token),
        json!({"clientId": client, "type": "text", "body": text}),
    )
    .await
}

/// A POST with any headers and body, answered raw.
async fn raw_post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn webhook_body(phone_number_id: &str, wamid: &str, from: &str, text: &str) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
            "contacts": [{"profile": {"name": "Cliente"}, "wa_id": from}],
            "messages": [{"from": from, "id": wamid, "timestamp": "1700000000",
                          "type": "text", "text": {"body": text}, "a_new_field": {"x": 1}}]
        }}]}]
    })
    .to_string()
}

// ---------------------------------------------------------------------------------------------
// Webhook: verification and signatures

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_answers_the_challenge_only_to_the_right_token() {
    let env = Env::start(|_| {}).await;
    let url = format!("{}/webhooks/whatsapp", env.server().url());
    let wa = &env.wa;
    let (good, bad) = tokio::task::block_in_place(|| {
        (
            wa.verify_webhook(&url, VERIFY).unwrap(),
            wa.verify_webhook(&url, "wrong").unwrap(),
        )
    });
    assert!(good, "the right token gets the challenge back");
    assert!(!bad);
    let r = http(
        env.addr(),
        "GET",
        "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=42",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    let r = http(
        env.addr(),
        "GET",
        &format!(
            "/webhooks/whatsapp?hub.mode=unsubscribe&hub.verify_token={VERIFY}&hub.challenge=42"
        ),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_correctly_signed_raw_bodies_are_stored() {
    let env = Env::start(|_| {}).await;
    let store = env.server().hub.store().clone();
    let secret = enlace_whatsapp::AppSecret::new(env.wa.app_secret());
    let body = webhook_body(
        &env.wa.phone_number_id(),
        "wamid.SIG1",
        "5215512345678",
        "hola",
    );
    let good = enlace_whatsapp::sign(&secret, body.as_bytes());

    // Missing, wrong, and a body parsed and written again (same JSON, other bytes): 401.
    let (status, _) = raw_post(
        env.addr(),
        "/webhooks/whatsapp",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 401);
    let wrong = enlace_whatsapp::sign(&enlace_whatsapp::AppSecret::new("other"), body.as_bytes());
    let (status, _) = raw_post(
        env.addr(),
        "/webhooks/whatsapp",
        &[("X-Hub-Signature-256", &wrong)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 401);
    let reserialized =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    let (status, _) = raw_post(
        env.addr(),
        "/webhooks/whatsapp",
        &[("X-Hub-Signature-256", &good)],
        reserialized.as_bytes(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        store.wa_webhook_counts().await.unwrap().0,
        0,
        "nothing stored"
    );

    let (status, _) = raw_post(
        env.addr(),
        "/webhooks/whatsapp",
        &[("X-Hub-Signature-256", &good)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(store.wa_webhook_counts().await.unwrap().0, 1);
    // The same body again (Meta's retry): stored again, processed, the message kept once.
    let (status, _) = raw_post(
        env.addr(),
        "/webhooks/whatsapp",
        &[("X-Hub-Signature-256", &good)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    let sara = token(env.addr(), SARA.0, SARA.1).await;
    let c = conversation_of(&env, &sara, "5215512345678").await;
    wait_for("both webhooks processed", || {
        let store = store.clone();
        async move { (store.wa_webhook_counts().await.unwrap() == (2, 0)).then_some(()) }
    })
    .await;
    let list = messages(env.addr(), &sara, c["id"].as_i64().unwrap()).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["wamid"], "wamid.SIG1");
    // Unknown fields are kept with the message.
    assert_eq!(list[0]["content"]["a_new_field"]["x"], 1);
    // Processed bodies are removed after 8 days; a late retry of Meta's still adds nothing.
    env.clock.advance(Duration::from_secs(9 * 86_400));
    wait_for("old bodies pruned", || {
        let store = store.clone();
        async move { (store.wa_webhook_counts().await.unwrap() == (0, 0)).then_some(()) }
    })
    .await;
    let (status, _) = raw_post(
        env.addr(),
        "/webhooks/whatsapp",
        &[("X-Hub-Signature-256", &good)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    wait_for("processed", || {
        let store = store.clone();
        async move { (store.wa_webhook_counts().await.unwrap() == (1, 0)).then_some(()) }
    })
    .await;
    let sara = token(env.addr(), SARA.0, SARA.1).await;
    assert_eq!(
        messages(env.addr(), &sara, c["id"].as_i64().unwrap())
            .await
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_not_configured_is_stored_and_reported() {
    let env = Env::start(|_| {}).await;
    let sara = token(env.addr(), SARA.0, SARA.1).await;
    let mut ws = stream(env.addr(), &sara, 0).await;
    let secret = enlace_whatsapp::AppSecret::new(env.wa.app_secret());
    let body = webhook_body("999000999", "wamid.UNK1", "5491123456789", "¿hay alguien?");
    let sig = enlace_whatsapp::sign(&secret, body.as_bytes());
    let (status, _) = raw_post(
        env.addr(),
        "/webhooks/whatsapp",
        &[("X-Hub-Signature-256", &sig)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    let events = until(&mut ws, |e| e["type"] == "whatsapp_alert").await;
    assert_eq!(events.last().unwrap()["code"], "whatsapp_unknown_number");
    let c = conversation_of(&env, &sara, "5491123456789").await;
    assert_eq!(c["phoneNumberId"], "999000999");
    assert_eq!(c["agentId"], Value::Null);
    assert_eq!(
        messages(env.addr(), &sara, c["id"].as_i64().unwrap())
            .await
            .len(),
        1
    );
    let alerts = env.server().hub.store().wa_alerts().await.unwrap();
    assert!(alerts
        .iter()
        .any(|(code, _, _)| code == "whatsapp_unknown_number"));
}

// ---------------------------------------------------------------------------------------------
// Inbound messages

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_inbound_type_is_stored_once_and_streamed() {
    let env = Env::start(|_| {}).await;
    let ana = token(env.addr(), ANA.0, ANA.1).await;
    let mut ws = stream(env.addr(), &ana, 0).await;
    let customer = "5215511112222";
    env.wa.add_customer(customer, "Lucía");
    let photo: Vec<u8> = [b"\xFF\xD8\xFF\xE0".to_vec(), vec![7u8; 300]].concat();
    let contents = vec![
        Inbound::Text("hola".into()),
        Inbound::Media(InboundMedia::with_bytes(
            MediaKind::Image,
            "image/jpeg",
            photo.clone(),
        )),
        Inbound::Media(InboundMedia::voice_note()),
        Inbound::Media(InboundMedia::audio_file()),
        Inbound::Media(InboundMedia::video(Some("mira"))),
        Inbound::Media(InboundMedia::document("factura.pdf", None)),
        Inbound::Media(InboundMedia::sticker(true)),
        Inbound::Location {
            latitude: 19.43,
            longitude: -99.13,
            name: Some("Zócalo".into()),
            address: None,
            url: None,
        },
        Inbound::Contacts(
            json!([{"name": {"formatted_name": "Pepe"}, "phones": [{"phone": "+5215500000000"}]}]),
        ),
        Inbound::TemplateButton {
            text: "Sí".into(),
            payload: "YES".into(),
        },
        Inbound::Order {
            catalog_id: "cat1".into(),
            text: None,
            product_items: json!([{"product_retailer_id": "sku1", "quantity": 2, "item_price": 10.5, "currency": "MXN"}]),
        },
        Inbound::Unsupported,
        Inbound::Raw(json!({"type": "future_type", "future_type": {"x": 1}})),
    ];
    let n = contents.len();
    let mut wamids = Vec::new();
    for c in contents {
        wamids.push(env.wa.customer_sends(customer, c));
    }
    let first = wamids[0].clone();
    let reaction = env.wa.customer_sends(
        customer,
        Inbound::Reaction {
            message_id: first,
            emoji: Some("👍".into()),
        },
    );
    wamids.push(reaction);
    // Meta retries: every webhook posted again, byte for byte.
    for i in 0..env.wa.webhooks().len() {
        env.wa.redeliver(i);
    }
    let events = until(&mut ws, |e| {
        e["type"] == "message_received" && e["message"]["wamid"] == wamids[n].as_str()
    })
    .await;
    let received: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "message_received")
        .collect();
    assert_eq!(received.len(), n + 1);
    assert!(env.wa.wait_webhooks_idle(WAIT));

    let c = conversation_of(&env, &ana, customer).await;
    assert_eq!(c["profileName"], "Lucía");
    let found = get(env.addr(), "/api/v1/conversations?search=luc%C3%ADa", &ana).await;
    assert_eq!(found.body.as_array().unwrap().len(), 1, "{:?}", found.body);
    let none = get(env.addr(), "/api/v1/conversations?search=%25", &ana).await;
    assert!(
        none.body.as_array().unwrap().is_empty(),
        "LIKE wildcards are literal"
    );
    assert_eq!(
        c["agentId"],
        json!(
            events
                .iter()
                .find(|e| e["type"] == "conversation_assigned")
                .unwrap()["conversation"]["agentId"]
        )
    );
    let list = wait_for("every webhook processed", || {
        let store = env.server().hub.store().clone();
        let addr = env.addr();
        let ana = ana.clone();
        let id = c["id"].as_i64().unwrap();
        async move {
            let (_, pending) = store.wa_webhook_counts().await.unwrap();
            if pending > 0 {
                return None;
            }
            Some(messages(addr, &ana, id).await)
        }
    })
    .await;
    assert_eq!(list.len(), n + 1, "each wamid once");
    let types: Vec<&str> = list.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "text",
            "image",
            "audio",
            "audio",
            "video",
            "document",
            "sticker",
            "location",
            "contacts",
            "button",
            "order",
            "unsupported",
            "future_type",
            "reaction"
        ]
    );
    assert!(list
        .iter()
        .all(|m| m["direction"] == "in" && m["status"] == "received"));
    assert_eq!(list[0]["text"], "hola");
    // Media kept by the hub, byte for byte.
    let media = list[1]["mediaId"].as_str().expect("image kept");
    let r = raw_get(env.addr(), &format!("/api/v1/media/{media}"), &ana).await;
    assert_eq!(r, photo);
    // Meta keeps a customer's file 7 days; the hub keeps its copy.
    let remote = list[1]["content"]["image"]["id"].as_str().unwrap();
    env.wa.advance_clock(Duration::from_secs(8 * 86_400));
    assert!(env.wa.media_bytes(remote).is_none(), "Meta's copy expired");
    let r = raw_get(env.addr(), &format!("/api/v1/media/{media}"), &ana).await;
    assert_eq!(r, photo);
    assert!(list[2]["mediaId"].is_string() && list[5]["mediaId"].is_string());
}

async fn raw_get(addr: SocketAddr, path: &str, token: &str) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    raw[split + 4..].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_every_layout_are_read_whole() {
    let env = Env::start(|_| {}).await;
    let sara = token(env.addr(), SARA.0, SARA.1).await;
    let mut all = Vec::new();
    for (i, layout) in [
        BatchLayout::OneChange,
        BatchLayout::ChangePerMessage,
        BatchLayout::EntryPerMessage,
    ]
    .into_iter()
    .enumerate()
    {
        let msgs = (0..3)
            .map(|j| {
                InboundMessage::new(
                    &format!("52155{i}000000{j}"),
                    Inbound::Text(format!("m{i}{j}")),
                )
            })
            .collect();
        all.extend(env.wa.customer_sends_batch(layout, msgs));
    }
    assert!(env.wa.wait_webhooks_idle(WAIT));
    let store = env.server().hub.store().clone();
    for wamid in all {
        let store = store.clone();
        wait_for("message stored", || {
            let store = store.clone();
            let wamid = wamid.clone();
            async move { store.wa_message_by_wamid(&wamid).await.unwrap() }
        })
        .await;
    }
    assert_eq!(conversations(env.addr(), &sara).await.len(), 9);
}

// ---------------------------------------------------------------------------------------------
// Statuses

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_out_of_order_and_repeated_keep_the_highest() {
    let env = Env::start(|_| {}).await;
    env.wa.set_status_plan(StatusPlan {
        out_of_order: true,
        duplicate: true,
        ..StatusPlan::default()
    });
    let ana = token(env.addr(), ANA.0, ANA.1).await;
    let customer = "5215522223333";
    env.wa
        .customer_sends(customer, Inbound::Text("hola".into()));
    let c = conversation_of(&env, &ana, customer).await;
    let id = c["id"].as_i64().unwrap();
    let r = send_text(env.addr(), &ana, id, "c-1", "¿En qué le ayudo?").await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let read = wait_for("status read", || {
        let ana = ana.clone();
        let addr = env.addr();
        async move {
            messages(addr, &ana, id)
                .await
                .into_iter()
                .find(|m| m["direction"] == "out" && m["status"] == "read")
        }
    })
    .await;
    assert!(env.wa.wait_webhooks_idle(WAIT));
    // Every status was processed; `read` stays although `sent` and `delivered` came after it.
    wait_for("webhooks processed", || {
        let store = env.server().hub.store().clone();
        async move { (store.wa_webhook_counts().await.unwrap().1 == 0).then_some(()) }
    })
    .await;
    let m = messages(env.addr(), &ana, id)
        .await
        .into_iter()
        .find(|m| m["direction"] == "out")
        .unwrap();
    assert_eq!(m["status"], "read");
    assert_eq!(m["wamid"], read["wamid"]);
    assert!(m["wamid"].as_str().unwrap().starts_with("wamid."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_status_keeps_code_title_and_details() {
    let env = Env::start(|_| {}).await;
    let ana = token(env.addr(), ANA.0, ANA.1).await;
    let customer = "5215533334444";
    env.wa
        .customer_sends(customer, Inbound::Text("hola".into()));
    let id = conversation_of(&env, &ana, customer).await["id"]
        .as_i64()
        .unwrap();
    env.wa.fail_next_send(131026);
    let mut ws = stream(env.addr(), &ana, 0).await;
    assert_eq!(
        send_text(env.addr(), &ana, id, "f-1", "hola").await.status,
        202
    );
    let events = until(&mut ws, |e| {
        e["type"] == "message_status" && e["message"]["status"] == "failed"
    })
    .await;
    let m = &events.last().unwrap()["message"];
    assert_eq!(m["error"]["code"], 131026);
    assert_eq!(m["error"]["kind"], "whatsapp_undeliverable");
    assert!(m["error"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(m["error"]["details"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_before_the_send_reply_is_kept_and_applied() {
    let env = Env::start(|_| {}).await;
    let hub = env.server().hub.clone();
    let store = hub.store().clone();
    let secret = enlace_whatsapp::AppSecret::new(env.wa.app_secret());
    let wamid = "wamid.EARLY1";
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "1", "phone_number_id": env.wa.phone_number_id()},
        "statuses": [{"id": wamid, "status": "delivered", "timestamp": "1700000001", "recipient_id": "5215544445555"}]
    }}]}]}).to_string();
    let sig = enlace_whatsapp::sign(&secret, body.as_bytes());
    let (status, _) = raw_post(
        env.addr(),
        "/webhooks/whatsapp",
        &[("X-Hub-Signature-256", &sig)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    wait_for("processed", || {
        let store = store.clone();
        async move { (store.wa_webhook_counts().await.unwrap() == (1, 0)).then_some(()) }
    })
    .await;
    // Now the send reply arrives for a message queued meanwhile.
    let conv = store
        .ensure_wa_conversation(&env.wa.phone_number_id(), "5215544445555", QUEUE, hub.now())
        .await
        .unwrap();
    let (m, _) = store
        .insert_wa_outbound(&enlace_hub::store::NewOutbound {
            conversation_id: conv,
            client_id: "early-1",
            msg_type: "text",
            content: r#"{"type":"text","body":"x"}"#,
            media_id: None,
            agent_id: None,
            at: hub.now(),
        })
        .await
        .unwrap();
    assert!(store.claim_wa_outbound(m.id).await.unwrap());
    hub.wa_message_accepted(m.id, wamid).await.unwrap();
    let m = store.wa_message(m.id).await.unwrap().unwrap();
    assert_eq!(m.status, "delivered");
    assert_eq!(m.wamid.as_deref(), Some(wamid));
}

// ---------------------------------------------------------------------------------------------
// The 24-hour window

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_form_outside_the_window_is_refused_with_the_templates() {
    let env = Env::start(|s| s.window_warning_minutes = 60).await;
    let ana = token(env.addr(), ANA.0, ANA.1).await;
    let customer = "5215566667777";
    // Starting from a call card without a window: text refused, template sent.
    let start = |message: Value, client: &str| {
        let ana = ana.clone();
        let addr = env.addr();
        let phone = env.wa.display_phone_number();
        let client = client.to_string();
        async move {
            post(
                addr,
                "/api/v1/conversations",
                Some(&ana),
                json!({"businessNumber": phone, "customerNumber": format!("+{customer}"),
                       "clientId": client, "message": message}),
            )
            .await
        }
    };
    let r = start(json!({"type": "text", "body": "hola"}), "w-1").await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["code"], "window_closed");
    let names: Vec<&str> = r.body["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"hello_world"), "{names:?}");
    assert!(
        !names.contains(&"promo_temporada"),
        "paused templates are not offered"
    );
    assert!(env.wa.sent_messages().is_empty(), "nothing reached Meta");
    let r = start(
        json!({"type": "template", "name": "hello_world", "language": "en_US"}),
        "w-2",
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    wait_for("template sent", || async {
        (env.wa.sent_messages().len() == 1).then_some(())
    })
    .await;
    assert_eq!(env.wa.sent_messages()[0].kind, "template");

    // The customer answers: the window opens; it closes 24 h later; a warning an hour before.
    let mut ws = stream(env.addr(), &ana, 0).await;
    env.wa
        .customer_sends(customer, Inbound::Text("¿qué tal?".into()));
    until(&mut ws, |e| e["type"] == "message_received").await;
    let id = r.body["conversation"]["id"].as_i64().unwrap();
    assert_eq!(
        send_text(env.addr(), &ana, id, "w-3", "todo bien")
            .await
            .status,
        202
    );
    env.clock.advance(Duration::from_secs(23 * 3600 + 30 * 60));
    let e = until(&mut ws, |e| e["type"] == "window_closing").await;
    assert_eq!(e.last().unwrap()["conversation"]["id"], id);
    env.clock.advance(Duration::from_secs(3600));
    // A new session (the old one expired with the clock's jump).
    let ana = token(env.addr(), ANA.0, ANA.1).await;
    let r = send_text(env.addr(), &ana, id, "w-4", "¿sigue ahí?").await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["code"], "window_closed");
}

// ---------------------------------------------------------------------------------------------
// Routing

/// Waits until every webhook the double posted was acknowledged and processed.
async fn processed(env: &Env) {
    let wa = &env.wa;
    assert!(tokio::task::block_in_place(|| wa.wait_webhooks_idle(WAIT)));
    let store = env.server().hub.store().clone();
    wait_for("webhooks processed", || {
        let store = store.clone();
        async move { (store.wa_webhook_counts().await.unwrap().1 == 0).then_some(()) }
    })
    .await;
}

async fn owner(env: &Env, sara: &str, wa_id: &str) -> Option<i64> {
    processed(env).await;
    conversation_of(env, sara, wa_id).await["agentId"].as_i64()
}

async fn login_available(addr: SocketAddr, who: (&str, &str)) -> String {
    token(addr, who.0, who.1).await
}

async fn agent_id(addr: SocketAddr, token: &str) -> i64 {
    me(addr, token).await.body["agent"]["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_fewest_open_cap_pause_sticky_take_and_reassign() {
    let env = Env::start(|s| s.max_open_per_agent = 2).await;
    let addr = env.addr();
    let ana = login_available(addr, ANA).await;
    let beto = login_available(addr, BETO).await;
    let sara = token(addr, SARA.0, SARA.1).await;
    // Sara is a supervisor in the queue too: pause her so routing is between Ana and Beto.
    let reasons = get(addr, "/api/v1/pause-reasons", &sara).await;
    let reason = match reasons.body.as_array().and_then(|a| a.first()) {
        Some(r) => r["id"].as_i64().unwrap(),
        None => env
            .server()
            .hub
            .store()
            .insert_pause_reason("Comida", None, false, 0)
            .await
            .unwrap(),
    };
    let r = post(
        addr,
        "/api/v1/me/state",
        Some(&sara),
        json!({"state": "paused", "reason": reason}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (ana_id, beto_id) = (agent_id(addr, &ana).await, agent_id(addr, &beto).await);

    env.wa
        .customer_sends("5215500000001", Inbound::Text("1".into()));
    assert_eq!(
        owner(&env, &sara, "5215500000001").await,
        Some(ana_id),
        "tie: lowest id"
    );
    env.wa
        .customer_sends("5215500000002", Inbound::Text("2".into()));
    assert_eq!(
        owner(&env, &sara, "5215500000002").await,
        Some(beto_id),
        "fewest open"
    );
    env.wa
        .customer_sends("5215500000003", Inbound::Text("3".into()));
    assert_eq!(owner(&env, &sara, "5215500000003").await, Some(ana_id));

    // Beto pauses: he gets none; Ana is at her cap: the next one waits unassigned.
    let r = post(
        addr,
        "/api/v1/me/state",
        Some(&beto),
        json!({"state": "paused", "reason": reason}),
    )
    .await;
    assert_eq!(r.status, 200);
    env.wa
        .customer_sends("5215500000004", Inbound::Text("4".into()));
    let c4 = conversation_of(&env, &sara, "5215500000004").await;
    wait_for("processed", || {
        let store = env.server().hub.store().clone();
        async move { (store.wa_webhook_counts().await.unwrap().1 == 0).then_some(()) }
    })
    .await;
    assert_eq!(c4["agentId"], Value::Null);
    // Queue agents see the unassigned one; Beto takes it; Ana cannot take it then.
    let visible: Vec<i64> = conversations(addr, &ana)
        .await
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(visible.contains(&c4["id"].as_i64().unwrap()));
    let c4_id = c4["id"].as_i64().unwrap();
    let r = post(
        addr,
        &format!("/api/v1/conversations/{c4_id}/assign"),
        Some(&beto),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["agentId"], beto_id);
    let r = post(
        addr,
        &format!("/api/v1/conversations/{c4_id}/assign"),
        Some(&ana),
        json!({}),
    )
    .await;
    assert_ne!(r.status, 200);
    let c3 = conversation_of(&env, &sara, "5215500000003").await["id"]
        .as_i64()
        .unwrap();
    let r = post(
        addr,
        &format!("/api/v1/conversations/{c3}/assign"),
        Some(&ana),
        json!({"agentId": beto_id}),
    )
    .await;
    assert_eq!(r.status, 403, "only supervisors reassign");
    // The supervisor reassigns to Ana; Beto hears he lost it.
    let mut beto_ws = stream(addr, &beto, 0).await;
    let r = post(
        addr,
        &format!("/api/v1/conversations/{c4_id}/assign"),
        Some(&sara),
        json!({"agentId": ana_id}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["agentId"], ana_id);
    until(&mut beto_ws, |e| {
        e["type"] == "conversation_assigned"
            && e["previousAgentId"] == beto_id
            && e["conversation"]["id"] == c4_id
    })
    .await;

    // Sticky: Beto back, 1 (Ana's) attended; the customer writes again: back to Ana although
    // Beto has fewer open conversations... once Ana is under her cap.
    let r = post(
        addr,
        "/api/v1/me/state",
        Some(&beto),
        json!({"state": "available"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let c1 = conversation_of(&env, &sara, "5215500000001").await["id"]
        .as_i64()
        .unwrap();
    for c in [c1, c3] {
        let r = post(
            addr,
            &format!("/api/v1/conversations/{c}/attended"),
            Some(&ana),
            json!({}),
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["state"], "attended");
    }
    env.wa
        .customer_sends("5215500000001", Inbound::Text("otra vez".into()));
    let again = wait_for("reopened", || {
        let sara = sara.clone();
        async move {
            let c = conversations(addr, &sara)
                .await
                .into_iter()
                .find(|c| c["id"] == c1)?;
            (c["state"] == "open").then_some(c)
        }
    })
    .await;
    assert_eq!(
        again["agentId"], ana_id,
        "the agent who served the customer last"
    );
    // Attended ones stay searchable.
    let r = get(addr, "/api/v1/conversations?search=5215500000003", &ana).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["state"], "attended");
}

// ---------------------------------------------------------------------------------------------
// Outbox

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_keeps_order_ignores_repeats_and_backs_off() {
    let env = Env::start(|_| {}).await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    let customer = "5215588889999";
    env.wa
        .customer_sends(customer, Inbound::Text("hola".into()));
    let id = conversation_of(&env, &ana, customer).await["id"]
        .as_i64()
        .unwrap();
    env.wa.reject_next_send(130429);
    let texts: Vec<String> = (1..=6).map(|i| format!("mensaje {i}")).collect();
    for (i, t) in texts.iter().enumerate() {
        let r = send_text(addr, &ana, id, &format!("o-{i}"), t).await;
        assert_eq!(r.status, 202, "{:?}", r.body);
    }
    // A retried request (same client id): the same message, not a new one.
    let r = send_text(addr, &ana, id, "o-0", "mensaje 1").await;
    assert_eq!(r.status, 200);
    // The first send met 130429: it waits its back-off and nothing overtakes it.
    wait_for("the rate limit met", || async {
        let sent = env
            .wa
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/messages"))
            .count();
        (sent >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        env.wa.sent_messages().is_empty(),
        "nothing overtakes the delayed first message"
    );
    env.clock.advance(Duration::from_secs(600));
    wait_for("all sent", || async {
        (env.wa.sent_messages().len() == 6).then_some(())
    })
    .await;
    let bodies: Vec<String> = env
        .wa
        .sent_messages()
        .iter()
        .map(|s| s.body["text"]["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, texts);
    let first = messages(addr, &ana, id)
        .await
        .into_iter()
        .find(|m| m["clientId"] == "o-0")
        .unwrap();
    assert!(first["wamid"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_closed_by_meta_fails_the_message_with_131047() {
    let env = Env::start(|_| {}).await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    let customer = "5215512121212";
    env.wa
        .customer_sends(customer, Inbound::Text("hola".into()));
    let id = conversation_of(&env, &ana, customer).await["id"]
        .as_i64()
        .unwrap();
    // Meta's window closed although the hub still counted it open (clocks differ).
    env.wa
        .set_last_inbound(customer, Duration::from_secs(25 * 3600));
    let mut ws = stream(addr, &ana, 0).await;
    assert_eq!(send_text(addr, &ana, id, "x-1", "hola").await.status, 202);
    let e = until(&mut ws, |e| {
        e["type"] == "message_status" && e["message"]["status"] == "failed"
    })
    .await;
    let m = &e.last().unwrap()["message"];
    assert_eq!(m["error"]["code"], 131047);
    assert_eq!(m["error"]["kind"], "whatsapp_window_closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_holds_messages_tells_supervisors_and_loses_none() {
    let mut env = Env::start(|_| {}).await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    let sara = token(addr, SARA.0, SARA.1).await;
    let customer = "5215534343434";
    env.wa
        .customer_sends(customer, Inbound::Text("hola".into()));
    let id = conversation_of(&env, &ana, customer).await["id"]
        .as_i64()
        .unwrap();
    let mut boss = stream(addr, &sara, 0).await;
    env.wa.expire_token(&env.wa.access_token());
    for i in 0..3 {
        assert_eq!(
            send_text(addr, &ana, id, &format!("t-{i}"), &format!("t{i}"))
                .await
                .status,
            202
        );
    }
    let e = until(&mut boss, |e| e["type"] == "whatsapp_alert").await;
    assert_eq!(e.last().unwrap()["code"], "whatsapp_token_expired");
    let list = messages(addr, &ana, id).await;
    assert!(list
        .iter()
        .filter(|m| m["direction"] == "out")
        .all(|m| m["status"] == "queued"));
    // The administrator replaces the token: everything goes, once, in order.
    env.wa.add_token("EAAGnewtoken123");
    drop(boss);
    env.restart(|s| s.access_token = "EAAGnewtoken123".into())
        .await;
    wait_for("delivered", || async {
        (env.wa.sent_messages().len() == 3).then_some(())
    })
    .await;
    let bodies: Vec<String> = env
        .wa
        .sent_messages()
        .iter()
        .map(|s| s.body["text"]["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["t0", "t1", "t2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_stopped_mid_delivery_loses_nothing_and_doubles_nothing() {
    // A slow pair limit: the outbox is mid-way when the hub stops.
    let mut env = Env::start(|s| {
        s.pair_burst = 2;
        s.pair_interval_ms = 400;
    })
    .await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    let customer = "5215556565656";
    env.wa
        .customer_sends(customer, Inbound::Text("hola".into()));
    let id = conversation_of(&env, &ana, customer).await["id"]
        .as_i64()
        .unwrap();
    let texts: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(
            send_text(addr, &ana, id, &format!("k-{i}"), t).await.status,
            202
        );
    }
    wait_for("some sent", || async {
        (env.wa.sent_messages().len() >= 2).then_some(())
    })
    .await;
    env.restart(|_| {}).await;
    let addr = env.addr();
    // The desktop retries what it had sent (same client ids): nothing new is queued.
    let ana = token(addr, ANA.0, ANA.1).await;
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(
            send_text(addr, &ana, id, &format!("k-{i}"), t).await.status,
            200
        );
    }
    // A message cut off mid-call waits a hold: Meta's statuses first show what it has.
    processed(&env).await;
    env.clock.advance(Duration::from_secs(60));
    wait_for("all sent", || async {
        (env.wa.sent_messages().len() >= 8).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bodies: Vec<String> = env
        .wa
        .sent_messages()
        .iter()
        .map(|s| s.body["text"]["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, texts, "each once, in order");
}

// ---------------------------------------------------------------------------------------------
// Agents' API: comments, read, templates, media upload, quick addresses

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_read_templates_media_and_lists() {
    let env = Env::start(|_| {}).await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    let customer = "5215578787878";
    let wamid = env
        .wa
        .customer_sends(customer, Inbound::Text("hola".into()));
    let c = conversation_of(&env, &ana, customer).await;
    let id = c["id"].as_i64().unwrap();
    assert_eq!(c["unread"], 1);
    let mut ws = stream(addr, &ana, 0).await;
    let r = post(
        addr,
        &format!("/api/v1/conversations/{id}/comments"),
        Some(&ana),
        json!({"body": "cliente VIP"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    until(&mut ws, |e| {
        e["type"] == "comment_added" && e["comment"]["body"] == "cliente VIP"
    })
    .await;
    let r = post(
        addr,
        &format!("/api/v1/conversations/{id}/read"),
        Some(&ana),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(conversation_of(&env, &ana, customer).await["unread"], 0);
    wait_for("read mark", || async {
        env.wa
            .read_marks()
            .iter()
            .any(|m| m.message_id == wamid)
            .then_some(())
    })
    .await;

    let r = get(addr, "/api/v1/whatsapp/templates", &ana).await;
    assert_eq!(r.status, 200);
    assert!(r
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "hello_world"));
    env.wa.add_template(enlace_sandbox::Template::new(
        "nuevo",
        "es_MX",
        "UTILITY",
        "Hola {{1}}",
    ));
    let cached = get(addr, "/api/v1/whatsapp/templates", &ana).await;
    assert!(
        !cached
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "nuevo"),
        "cached"
    );
    let fresh = get(addr, "/api/v1/whatsapp/templates?refresh=true", &ana).await;
    assert!(fresh
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "nuevo"));

    // Media: C4 checked before storing; a good upload is sent by id.
    let (status, body) = raw_post(
        addr,
        "/api/v1/media?kind=image&filename=x.gif",
        &[
            ("Authorization", &format!("Bearer {ana}")),
            ("Content-Type", "image/gif"),
        ],
        b"GIF89a....",
    )
    .await;
    assert_eq!(status, 415, "{body}");
    assert!(body.contains(r#""code":"whatsapp_media_type""#), "{body}");
    let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![1u8; 200]].concat();
    let (status, body) = raw_post(
        addr,
        "/api/v1/media?kind=image&filename=plano.png",
        &[
            ("Authorization", &format!("Bearer {ana}")),
            ("Content-Type", "image/png"),
        ],
        &png,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let media: Value = serde_json::from_str(&body).unwrap();
    let media_id = media["id"].as_str().unwrap();

    // The same as multipart/form-data: type and name from the part.
    let pdf: Vec<u8> = [b"%PDF-1.7\n".to_vec(), vec![9u8; 300]].concat();
    let boundary = "enlace-boundary-7d2";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"factura.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&pdf);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (status, body) = raw_post(
        addr,
        "/api/v1/media",
        &[
            ("Authorization", &format!("Bearer {ana}")),
            (
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            ),
        ],
        &form,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["mimeType"], "application/pdf");
    let doc_id = doc["id"].as_str().unwrap();
    assert_eq!(
        raw_get(addr, &format!("/api/v1/media/{doc_id}"), &ana).await,
        pdf
    );
    let stored = env
        .server()
        .hub
        .store()
        .wa_media(doc_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.filename.as_deref(), Some("factura.pdf"));
    assert_eq!(
        raw_get(addr, &format!("/api/v1/media/{media_id}"), &ana).await,
        png
    );
    let r = post(addr, &format!("/api/v1/conversations/{id}/messages"), Some(&ana),
        json!({"clientId": "m-1", "type": "media", "kind": "image", "mediaId": media_id, "caption": "el plano"})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let sent = wait_for("image sent", || async {
        env.wa
            .sent_messages()
            .into_iter()
            .find(|s| s.kind == "image")
    })
    .await;
    let remote = sent.body["image"]["id"].as_str().unwrap();
    assert_eq!(
        env.wa.media_bytes(remote).unwrap(),
        png,
        "uploaded to Meta byte for byte"
    );

    let store = env.server().hub.store();
    store
        .insert_wa_quick_address("Oficina", "Av. Reforma 1, CDMX", 0)
        .await
        .unwrap();
    store
        .insert_wa_canned_response("/hola", "¡Hola! ¿En qué le ayudo?", 0)
        .await
        .unwrap();
    let r = get(addr, "/api/v1/quick-addresses", &ana).await;
    assert_eq!(r.body[0]["address"], "Av. Reforma 1, CDMX");
    let r = get(addr, "/api/v1/canned-responses", &ana).await;
    assert_eq!(r.body[0]["shortcut"], "/hola");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_note_goes_as_audio_with_voice_true_and_must_be_ogg_opus() {
    let env = Env::start(|_| {}).await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    let ana = ana.as_str();
    let customer = "5215579797979";
    env.wa
        .customer_sends(customer, Inbound::Text("hola".into()));
    let id = conversation_of(&env, ana, customer).await["id"]
        .as_i64()
        .unwrap();
    let upload = |mime: &'static str, bytes: Vec<u8>| async move {
        let (status, body) = raw_post(
            addr,
            "/api/v1/media?kind=audio",
            &[
                ("Authorization", &format!("Bearer {ana}")),
                ("Content-Type", mime),
            ],
            &bytes,
        )
        .await;
        assert_eq!(status, 201, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let ogg: Vec<u8> = [enlace_sandbox::opus_ogg_head(1), vec![7u8; 300]].concat();
    let voice_id = upload("audio/ogg", ogg.clone()).await;
    let mp3_id = upload("audio/mpeg", b"ID3\x04\0\0\0\0\0\0".to_vec()).await;
    let send = |client: &'static str, media: String, kind: &'static str| async move {
        post(
            addr,
            &format!("/api/v1/conversations/{id}/messages"),
            Some(ana),
            json!({"clientId": client, "type": "media", "kind": kind, "mediaId": media, "voice": true}),
        )
        .await
    };
    // Only OGG/OPUS audio can be a voice note: refused at once, nothing queued.
    let r = send("v-mp3", mp3_id, "audio").await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["code"], "whatsapp_invalid_message");
    assert!(
        r.body["message"].as_str().unwrap().contains("OGG"),
        "{:?}",
        r.body
    );
    let r = send("v-doc", voice_id.clone(), "document").await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["code"], "whatsapp_invalid_message");

    let r = send("v-ok", voice_id, "audio").await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let sent = wait_for("voice note sent", || async {
        env.wa
            .sent_messages()
            .into_iter()
            .find(|s| s.kind == "audio")
    })
    .await;
    let remote = sent.body["audio"]["id"].as_str().unwrap().to_owned();
    assert_eq!(sent.body["audio"], json!({"id": remote, "voice": true}));
    assert_eq!(
        env.wa.media_bytes(&remote).unwrap(),
        ogg,
        "uploaded to Meta byte for byte"
    );
    assert_eq!(
        env.wa.sent_messages().len(),
        1,
        "the refused ones never left"
    );
}

// ---------------------------------------------------------------------------------------------
// Administrator's CLI: quick addresses and canned responses

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_adds_quick_addresses_and_canned_responses_agents_see() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("org");
    let (ok, _, err) = hub_bin(&["init", "--dir", home.to_str().unwrap()], dir.path());
    assert!(ok, "{err}");
    let c = home.join("enlace-hub.toml");
    let c = c.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", c];
        all.extend_from_slice(args);
        hub_bin(&all, dir.path())
    };
    let (ok, out, err) = run(&["quick-address", "add", "Oficina", "Av. Reforma 1, CDMX"]);
    assert!(ok, "{err}");
    assert!(out.contains("Oficina"), "{out}");
    assert!(
        !run(&["quick-address", "add", "Oficina", "otra"]).0,
        "duplicate accepted"
    );
    assert!(
        !run(&["quick-address", "add", " ", "x"]).0,
        "empty name accepted"
    );
    let (ok, _, err) = run(&[
        "canned-response",
        "add",
        "/hola",
        "¡Hola! ¿En qué le ayudo?",
    ]);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&["quick-address", "list"]);
    assert!(ok && out.contains("Av. Reforma 1, CDMX"), "{out}");
    let (ok, out, _) = run(&["canned-response", "list"]);
    assert!(ok && out.contains("/hola"), "{out}");
    // The same database, read by the store the API uses.
    let cfg = HubConfig::load(std::path::Path::new(c)).unwrap();
    let store = enlace_hub::store::Store::open(&cfg.database_url)
        .await
        .unwrap();
    assert_eq!(
        store.wa_canned_responses().await.unwrap()[0].2,
        "¡Hola! ¿En qué le ayudo?"
    );
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// Media on S3-compatible storage (moto's S3 server from PyPI)

/// moto's S3 server on a free loopback port; killed when dropped.
struct Moto {
    child: std::process::Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moto_server (pip install 'moto[server]') must be installed");
    let moto = Moto { child, port };
    wait_for("moto listening", || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    moto
}

/// An unsigned S3 request to moto (it does not check signatures by default).
async fn s3_raw(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_goes_to_s3_compatible_storage_and_outlives_metas_copy() {
    let moto = start_moto().await;
    let (status, text) = s3_raw(moto.port, "PUT", "/enlace-media").await;
    assert_eq!(status, 200, "{text}");
    let port = moto.port;
    let env = Env::start(move |s| {
        s.s3 = Some(enlace_hub::config::S3Settings {
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: "enlace-media".into(),
            region: "us-east-1".into(),
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            secret_access_key_file: None,
        });
    })
    .await;
    let ana = token(env.addr(), ANA.0, ANA.1).await;
    let customer = "5215590909090";
    let doc: Vec<u8> = [b"%PDF-1.7\n".to_vec(), vec![42u8; 5000]].concat();
    env.wa.customer_sends(
        customer,
        Inbound::Media(InboundMedia::with_bytes(
            MediaKind::Document,
            "application/pdf",
            doc.clone(),
        )),
    );
    let id = conversation_of(&env, &ana, customer).await["id"]
        .as_i64()
        .unwrap();
    let m = messages(env.addr(), &ana, id).await.remove(0);
    let media = m["mediaId"].as_str().expect("kept").to_string();
    // In the bucket, not in the database.
    let (status, listing) = s3_raw(moto.port, "GET", "/enlace-media?list-type=2").await;
    assert_eq!(status, 200);
    assert!(listing.contains(&media), "{listing}");
    let remote = m["content"]["document"]["id"].as_str().unwrap();
    env.wa.advance_clock(Duration::from_secs(8 * 86_400));
    assert!(env.wa.media_bytes(remote).is_none());
    assert_eq!(
        raw_get(env.addr(), &format!("/api/v1/media/{media}"), &ana).await,
        doc
    );
    // An upload goes there too.
    let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![3u8; 100]].concat();
    let (status, body) = raw_post(
        env.addr(),
        "/api/v1/media?kind=image&filename=a.png",
        &[
            ("Authorization", &format!("Bearer {ana}")),
            ("Content-Type", "image/png"),
        ],
        &png,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let up: Value = serde_json::from_str(&body).unwrap();
    let up = up["id"].as_str().unwrap();
    assert_eq!(
        raw_get(env.addr(), &format!("/api/v1/media/{up}"), &ana).await,
        png
    );
    let (_, listing) = s3_raw(moto.port, "GET", "/enlace-media?list-type=2").await;
    assert!(listing.contains(up), "{listing}");
}

// ---------------------------------------------------------------------------------------------
// Several instances on PostgreSQL

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgresql_webhook_on_one_agent_on_the_other() {
    let pg = enlace_peers::PostgresServer::start().unwrap();
    let url = pg.create_database("whatsapp").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let clock = TestClock::new();
    let cfg = || HubConfig {
        database_url: url.clone(),
        ..config(dir.path(), settings(&wa, dir.path()))
    };
    let a = Served::start(cfg(), Arc::new(clock.clone()), "127.0.0.1:0").await;
    seed(&a).await;
    let b = Served::start(cfg(), Arc::new(clock.clone()), "127.0.0.1:0").await;
    // Meta posts to instance A; Ana works on instance B.
    wa.set_webhook_url(Some(&format!("{}/webhooks/whatsapp", a.url())));
    let ana = token(b.addr, ANA.0, ANA.1).await;
    let mut ws = stream(b.addr, &ana, 0).await;
    let customer = "5215543214321";
    let wamid = wa.customer_sends(customer, Inbound::Text("hola desde A".into()));
    let e = until(&mut ws, |e| e["type"] == "message_received").await;
    let received = e.last().unwrap();
    assert_eq!(received["message"]["wamid"], wamid.as_str());
    let id = received["conversation"]["id"].as_i64().unwrap();
    let r = send_text(b.addr, &ana, id, "pg-1", "respuesta desde B").await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let e = until(&mut ws, |e| {
        e["type"] == "message_status" && e["message"]["status"] == "read"
    })
    .await;
    assert_eq!(e.last().unwrap()["message"]["clientId"], "pg-1");
    let sent = wa.sent_messages();
    assert_eq!(sent.len(), 1, "sent once by the one instance that delivers");
    assert_eq!(sent[0].body["text"]["body"], "respuesta desde B");
    let r = get(b.addr, "/api/v1/conversations?search=4321", &ana).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{:?}", r.body);
    // Both instances see the same conversation, with its agent's name and last message.
    for addr in [a.addr, b.addr] {
        let list = conversations(addr, &ana).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["waId"], customer);
        assert_eq!(list[0]["agentName"], "Ana");
        assert_eq!(list[0]["lastMessage"]["clientId"], "pg-1");
    }
    // Ana pauses and hands it back on instance A: nobody may take it, so it waits and the
    // whole queue hears it (one transaction for every queue agent), on B too.
    let reason = a
        .hub
        .store()
        .insert_pause_reason("Comida", None, false, 0)
        .await
        .unwrap();
    let r = post(
        b.addr,
        "/api/v1/me/state",
        Some(&ana),
        json!({"state": "paused", "reason": reason}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ana_id = agent_id(b.addr, &ana).await;
    let r = post(
        a.addr,
        &format!("/api/v1/conversations/{id}/release"),
        Some(&ana),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["agentId"], Value::Null);
    until(&mut ws, |e| {
        e["type"] == "conversation_assigned"
            && e["conversation"]["agentId"].is_null()
            && e["previousAgentId"] == ana_id
    })
    .await;
    let queue_events = a
        .hub
        .store()
        .events_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.event_type == "conversation_assigned"
                && serde_json::from_str::<Value>(&e.payload).unwrap()["previousAgentId"] == ana_id
        })
        .count();
    assert_eq!(
        queue_events, 3,
        "one per agent of the queue (Ana, Beto, Sara), Ana's not twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_reply_lost_in_a_restart_is_recovered_from_the_status_not_sent_again() {
    let mut env = Env::start(|_| {}).await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    let customer = "5215567676767";
    env.wa
        .customer_sends(customer, Inbound::Text("hola".into()));
    let id = conversation_of(&env, &ana, customer).await["id"]
        .as_i64()
        .unwrap();
    // Meta takes the message, then its reply is held back while the hub stops.
    env.wa.inject(enlace_sandbox::Fault::StallAfterCommit(
        Duration::from_secs(3),
    ));
    assert_eq!(
        send_text(addr, &ana, id, "lost-1", "¿me recibe?")
            .await
            .status,
        202
    );
    wait_for("Meta has it", || async {
        (env.wa.sent_messages().len() == 1).then_some(())
    })
    .await;
    env.restart(|_| {}).await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    // Its statuses (retried by Meta until the hub is back) carry the callback data.
    let m = wait_for("recovered", || {
        let ana = ana.clone();
        async move {
            messages(addr, &ana, id)
                .await
                .into_iter()
                .find(|m| m["clientId"] == "lost-1" && m["status"] == "read")
        }
    })
    .await;
    assert_eq!(m["wamid"], env.wa.sent_messages()[0].wamid.as_str());
    // Long after the hold, still once.
    env.clock.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.wa.sent_messages().len(), 1, "not sent twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_conversation_goes_to_the_agent_who_becomes_available() {
    let env = Env::start(|_| {}).await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    let reason = env
        .server()
        .hub
        .store()
        .insert_pause_reason("Comida", None, false, 0)
        .await
        .unwrap();
    let r = post(
        addr,
        "/api/v1/me/state",
        Some(&ana),
        json!({"state": "paused", "reason": reason}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Beto and Sara never logged in: nobody can take it.
    env.wa
        .customer_sends("5215501010101", Inbound::Text("¿hay alguien?".into()));
    let c = conversation_of(&env, &ana, "5215501010101").await;
    assert_eq!(c["agentId"], Value::Null);
    let mut ws = stream(addr, &ana, 0).await;
    let r = post(
        addr,
        "/api/v1/me/state",
        Some(&ana),
        json!({"state": "available"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let e = until(&mut ws, |e| e["type"] == "conversation_assigned").await;
    let ana_id = agent_id(addr, &ana).await;
    assert_eq!(e.last().unwrap()["conversation"]["agentId"], ana_id);
    assert_eq!(e.last().unwrap()["conversation"]["id"], c["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_meta_could_not_hand_over_is_fetched_again_later() {
    let env = Env::start(|_| {}).await;
    let ana = token(env.addr(), ANA.0, ANA.1).await;
    // Meta fails the first look-ups of the file (its 500, code 131000).
    env.wa.inject(enlace_sandbox::Fault::ServerErrors(3));
    let photo: Vec<u8> = [b"\xFF\xD8\xFF\xE0".to_vec(), vec![5u8; 200]].concat();
    let customer = "5215502020202";
    env.wa.customer_sends(
        customer,
        Inbound::Media(InboundMedia::with_bytes(
            MediaKind::Image,
            "image/jpeg",
            photo.clone(),
        )),
    );
    let id = conversation_of(&env, &ana, customer).await["id"]
        .as_i64()
        .unwrap();
    // Stored at once without its file; a later attempt gets it.
    let first = messages(env.addr(), &ana, id).await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0]["mediaId"],
        Value::Null,
        "the first download failed"
    );
    env.clock.advance(Duration::from_secs(60));
    let media = wait_for("the file fetched again", || {
        let ana = ana.clone();
        let addr = env.addr();
        let clock = env.clock.clone();
        async move {
            clock.advance(Duration::from_secs(31));
            messages(addr, &ana, id).await[0]["mediaId"]
                .as_str()
                .map(str::to_owned)
        }
    })
    .await;
    assert_eq!(
        raw_get(env.addr(), &format!("/api/v1/media/{media}"), &ana).await,
        photo
    );
}

// ---------------------------------------------------------------------------------------------
// One customer, one conversation, whatever form the number arrives in

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_is_one_conversation_whichever_form_the_number_takes() {
    let env = Env::start(|_| {}).await;
    let addr = env.addr();
    let ana = token(addr, ANA.0, ANA.1).await;
    // Mexico: the same mobile with and without the old `1` after `52`.
    env.wa
        .customer_sends("5215512345678", Inbound::Text("hola".into()));
    let id = conversation_of(&env, &ana, "5215512345678").await["id"]
        .as_i64()
        .unwrap();
    env.wa
        .customer_sends("525512345678", Inbound::Text("sigo aquí".into()));
    // The address follows the customer's latest wa_id; the conversation stays the same.
    let c = conversation_of(&env, &ana, "525512345678").await;
    assert_eq!(c["id"], id);
    let all = conversations(addr, &ana).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let inbound = messages(addr, &ana, id)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "in")
        .count();
    assert_eq!(inbound, 2);
    // A reply goes to the latest wa_id.
    assert_eq!(
        send_text(addr, &ana, id, "n-1", "¿en qué ayudo?")
            .await
            .status,
        202
    );
    wait_for("reply sent", || async {
        (env.wa.sent_messages().len() == 1).then_some(())
    })
    .await;
    assert_eq!(env.wa.sent_messages()[0].to, "525512345678");

    // Started from a typed number: the same conversation.
    let r = post(
        addr,
        "/api/v1/conversations",
        Some(&ana),
        json!({"businessNumber": env.wa.display_phone_number(),
               "customerNumber": "+52 55 1234 5678", "clientId": "n-2",
               "message": {"type": "text", "body": "le escribo de nuevo"}}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["conversation"]["id"], id);
    assert_eq!(r.body["conversation"]["waId"], "525512345678");
    assert_eq!(conversations(addr, &ana).await.len(), 1);
    wait_for("second reply sent", || async {
        (env.wa.sent_messages().len() == 2).then_some(())
    })
    .await;
    assert_eq!(env.wa.sent_messages()[1].to, "525512345678");

    // Search finds it by the number in any form.
    for search in ["%2B52%2055%201234%205678", "5215512345678", "5512345678"] {
        let r = get(
            addr,
            &format!("/api/v1/conversations?search={search}"),
            &ana,
        )
        .await;
        assert_eq!(r.status, 200);
        let ids: Vec<&Value> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["id"])
            .collect();
        assert_eq!(ids, [&json!(id)], "search {search}");
    }

    // Brazil (with and without the ninth digit) and Argentina (with and without the mobile
    // `9`) resolve the same way; a wa_id that does not resolve is kept as it came.
    let store = env.server().hub.store();
    let phone = env.wa.phone_number_id();
    let now = env.server().hub.now();
    for (a, b) in [
        ("5511987654321", "551187654321"),
        ("5491161234567", "541161234567"),
    ] {
        let first = store
            .ensure_wa_conversation(&phone, a, QUEUE, now)
            .await
            .unwrap();
        let second = store
            .ensure_wa_conversation(&phone, b, QUEUE, now)
            .await
            .unwrap();
        assert_eq!(first, second, "{a} and {b}");
        assert_eq!(
            store.wa_conversation(first).await.unwrap().unwrap().wa_id,
            a
        );
    }
    // A message that was written before the latest one (delivered late) does not move the
    // address back.
    let late = store
        .wa_conversation(id)
        .await
        .unwrap()
        .unwrap()
        .last_customer_at
        .unwrap()
        - 60_000;
    store
        .touch_wa_conversation_inbound(id, "5215512345678", None, late, now)
        .await
        .unwrap();
    let row = store.wa_conversation(id).await.unwrap().unwrap();
    assert_eq!(row.wa_id, "525512345678");
    assert_eq!(row.customer_key, "525512345678");
    let odd = store
        .ensure_wa_conversation(&phone, "999", QUEUE, now)
        .await
        .unwrap();
    let row = store.wa_conversation(odd).await.unwrap().unwrap();
    assert_eq!(
        (row.customer_key.as_str(), row.wa_id.as_str()),
        ("999", "999")
    );
}

// ---------------------------------------------------------------------------------------------
// Inbox support: numbers, the queue's list with names and last messages, release

async fn pause(addr: SocketAddr, env: &Env, token: &str) {
    let reasons = get(addr, "/api/v1/pause-reasons", token).await;
    let reason = match reasons.body.as_array().and_then(|a| a.first()) {
        Some(r) => r["id"].as_i64().unwrap(),
        None => env
            .server()
            .hub
            .store()
            .insert_pause_reason("Comida", None, false, 0)
            .await
            .unwrap(),
    };
    let r = post(
        addr,
        "/api/v1/me/state",
        Some(token),
        json!({"state": "paused", "reason": reason}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_queue_lists_with_names_and_release_back_to_the_queue() {
    let env = Env::start(|_| {}).await;
    let addr = env.addr();
    let ana = login_available(addr, ANA).await;
    let beto = login_available(addr, BETO).await;
    let sara = token(addr, SARA.0, SARA.1).await;
    pause(addr, &env, &sara).await;
    let (ana_id, beto_id) = (agent_id(addr, &ana).await, agent_id(addr, &beto).await);

    // The business numbers, as configured.
    let r = get(addr, "/api/v1/whatsapp/numbers", &beto).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!([{"phoneNumberId": env.wa.phone_number_id(),
                "displayNumber": env.wa.display_phone_number(),
                "name": "Soporte", "queue": QUEUE}])
    );

    // A customer writes: Ana gets it (tie, lowest id); the event carries name and message.
    let mut ana_ws = stream(addr, &ana, 0).await;
    env.wa
        .customer_sends("5215500000011", Inbound::Text("hola".into()));
    let events = until(&mut ana_ws, |e| e["type"] == "message_received").await;
    let received = events.last().unwrap();
    assert_eq!(received["conversation"]["agentName"], "Ana");
    assert_eq!(received["conversation"]["lastMessage"]["text"], "hola");
    let c = received["conversation"]["id"].as_i64().unwrap();

    // Beto's list has it too (his queue, assigned to Ana), with her name and the last message.
    let listed = conversations(addr, &beto)
        .await
        .into_iter()
        .find(|x| x["id"] == c)
        .expect("the queue's conversations assigned to others are listed");
    assert_eq!(listed["agentId"], ana_id);
    assert_eq!(listed["agentName"], "Ana");
    assert_eq!(listed["lastMessage"]["text"], "hola");
    assert_eq!(listed["lastMessage"]["direction"], "in");
    // He may read it, not act on it.
    assert_eq!(messages(addr, &beto, c).await.len(), 1);
    let r = send_text(addr, &beto, c, "beto-1", "yo").await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    for action in ["attended", "read", "release"] {
        let r = post(
            addr,
            &format!("/api/v1/conversations/{c}/{action}"),
            Some(&beto),
            json!({}),
        )
        .await;
        assert_eq!(r.status, 403, "{action}: {:?}", r.body);
        assert_eq!(r.body["code"], "forbidden");
    }
    assert!(messages(addr, &ana, c).await.len() == 1, "nothing was sent");

    // Ana hands it back: Beto is eligible, so it goes to him, not back to her; both hear it.
    let mut beto_ws = stream(addr, &beto, 0).await;
    let r = post(
        addr,
        &format!("/api/v1/conversations/{c}/release"),
        Some(&ana),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["agentId"], beto_id);
    assert_eq!(r.body["agentName"], "Beto");
    assert_eq!(r.body["state"], "open");
    let moved = |e: &Value| {
        e["type"] == "conversation_assigned"
            && e["conversation"]["id"] == c
            && e["previousAgentId"] == ana_id
    };
    let got = until(&mut beto_ws, moved).await;
    let event = got.last().unwrap();
    assert_eq!(event["conversation"]["agentId"], beto_id);
    assert_eq!(event["conversation"]["lastMessage"]["text"], "hola");
    until(&mut ana_ws, moved).await;

    // With nobody else eligible it waits in the queue, unassigned, and is listed as such.
    pause(addr, &env, &ana).await;
    pause(addr, &env, &beto).await;
    let r = post(
        addr,
        &format!("/api/v1/conversations/{c}/release"),
        Some(&beto),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["agentId"], Value::Null);
    assert_eq!(r.body["agentName"], Value::Null);
    until(&mut ana_ws, |e| {
        e["type"] == "conversation_assigned"
            && e["conversation"]["id"] == c
            && e["conversation"]["agentId"].is_null()
            && e["previousAgentId"] == beto_id
    })
    .await;
    let listed = conversations(addr, &ana)
        .await
        .into_iter()
        .find(|x| x["id"] == c)
        .unwrap();
    assert_eq!(listed["agentId"], Value::Null);
    // Releasing it again answers it as it is.
    let r = post(
        addr,
        &format!("/api/v1/conversations/{c}/release"),
        Some(&beto),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["agentId"], Value::Null);

    // A supervisor gives it to Ana, then releases it for her.
    let r = post(
        addr,
        &format!("/api/v1/conversations/{c}/assign"),
        Some(&sara),
        json!({"agentId": ana_id}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["agentName"], "Ana");
    let r = post(
        addr,
        &format!("/api/v1/conversations/{c}/release"),
        Some(&sara),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["agentId"], Value::Null);

    // Beto is back: the waiting conversation is routed to him.
    let r = post(
        addr,
        "/api/v1/me/state",
        Some(&beto),
        json!({"state": "available"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let sara2 = sara.clone();
    wait_for("routed to Beto", || {
        let sara = sara2.clone();
        async move {
            let x = conversations(addr, &sara)
                .await
                .into_iter()
                .find(|x| x["id"] == c)?;
            (x["agentId"] == beto_id).then_some(())
        }
    })
    .await;
}
