#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The inbox for real: the hub (`enlace-hub`, in-process, SQLite) with WhatsApp pointed at the
//! WhatsApp Cloud API double of `enlace-sandbox`, and the app signed in as an agent of the
//! number's queue. Customers write through the double's signed webhooks; what the agent sends
//! is checked at the double.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use enlace_app::{App, AppOptions, ChatStatus, DomainEvent, Host, InboxFilter, OutgoingMessage};
use enlace_core::SystemClock;
use enlace_hub::auth::hash_password;
use enlace_hub::config::{WhatsAppNumber, WhatsAppSettings};
use enlace_hub::store::NewAgent;
use enlace_hub::testing::{Served, CHEAP};
use enlace_sandbox::{Inbound, WhatsAppDouble};
use enlace_secrets::{SecretStore, Sensitive};
use enlace_store::Store;
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

fn notifies(seen: &[DomainEvent], conversation: i64) -> usize {
    seen.iter()
        .filter(|e| matches!(e, DomainEvent::ChatNotify { conversation: c, .. } if c.id == conversation))
        .count()
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
    start_hub_with_clock(dir, wa, addr, Arc::new(SystemClock)).await
}

async fn start_hub_with_clock(
    dir: &Path,
    wa: &WhatsAppDouble,
    addr: &str,
    clock: Arc<dyn enlace_core::Clock>,
) -> Served {
    let served = Served::start(hub_config(dir, wa), clock, addr).await;
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

fn text(body: &str) -> OutgoingMessage {
    OutgoingMessage::Text {
        body: body.into(),
        preview_url: false,
    }
}

/// The texts the double received, in order.
fn sent_texts(wa: &WhatsAppDouble) -> Vec<String> {
    wa.sent_messages()
        .iter()
        .filter_map(|m| m.body["text"]["body"].as_str().map(str::to_owned))
        .collect()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_writes_the_agent_answers_comments_and_marks_attended() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let (app, mut events, secrets) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    until(&mut events, &mut seen, |e| match e {
        DomainEvent::InboxCounts(c) if c.online && c.available => Some(()),
        _ => None,
    })
    .await;

    // A customer writes: cached, assigned to the agent, the badge says 1, a notification.
    let id = customer_writes(&wa, &mut events, &mut seen, "hola, ¿tienen envíos?").await;
    let badge = |e: &DomainEvent| match e {
        DomainEvent::InboxCounts(c) if c.waiting == 1 && c.unread == 1 => Some(()),
        _ => None,
    };
    if !seen.iter().any(|e| badge(e).is_some()) {
        until(&mut events, &mut seen, badge).await;
    }
    assert_eq!(notifies(&seen, id), 1, "one notification for a new chat");
    let mine = app
        .inbox_conversations(InboxFilter::Mine, "")
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].customer, "+525512345678");
    assert_eq!(mine[0].preview, "hola, ¿tienen envíos?");
    assert!(mine[0].window_open);
    assert_eq!(
        app.inbox_conversations(InboxFilter::Queues, "5512345678")
            .await
            .unwrap()
            .len(),
        1
    );
    let page = app.inbox_timeline(id, None, 50).await.unwrap();
    assert!(!page.offline);
    assert_eq!(page.messages.len(), 1);

    // On screen: read here and at the hub; a second message while on screen notifies nothing.
    app.inbox_viewing(Some(id)).await.unwrap();
    assert_eq!(app.inbox_counts().await.unwrap().unread, 0);
    customer_writes(&wa, &mut events, &mut seen, "¿hola?").await;

    // The answer goes out once, through the hub, and its ticks reach read.
    let sent = app
        .inbox_send(id, "c-1", text("Sí, a todo el país 🚚"))
        .await
        .unwrap();
    assert_eq!(sent.status, ChatStatus::Pending);
    assert_eq!(sent.key(), "c:c-1");
    until(&mut events, &mut seen, |e| match e {
        DomainEvent::InboxMessage { message, .. }
            if message.client_id.as_deref() == Some("c-1")
                && message.status == ChatStatus::Read =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    assert_eq!(sent_texts(&wa), ["Sí, a todo el país 🚚"]);
    // The same client id again (a double click, a retry): nothing new is sent.
    let again = app
        .inbox_send(id, "c-1", text("Sí, a todo el país 🚚"))
        .await
        .unwrap();
    assert_eq!(again.status, ChatStatus::Read);
    let page = app.inbox_timeline(id, None, 50).await.unwrap();
    assert_eq!(
        page.messages.len(),
        3,
        "one row per message: {:?}",
        page.messages
    );
    assert_eq!(page.messages[2].status, ChatStatus::Read);

    // A comment, from the app and through the stream (the same comment, cached once).
    let comment = app.inbox_comment(id, "cliente frecuente").await.unwrap();
    until(&mut events, &mut seen, |e| match e {
        DomainEvent::InboxComment(c) if c.id == comment.id => Some(()),
        _ => None,
    })
    .await;
    let page = app.inbox_timeline(id, None, 50).await.unwrap();
    assert_eq!(page.comments.len(), 1);
    assert_eq!(page.comments[0].agent_name.as_deref(), Some("Ana"));
    assert_eq!(
        notifies(&seen, id),
        1,
        "nothing while the chat is on screen"
    );

    // Salida lists the open chat; Marcar atendido clears the badge.
    let check = app.agent_exit_check().await.unwrap();
    assert_eq!(check.chats.len(), 1);
    let attended = app.inbox_attended(id).await.unwrap();
    assert_eq!(attended.state, enlace_app::InboxConversationState::Attended);
    let counts = app.inbox_counts().await.unwrap();
    assert_eq!(
        (counts.waiting, counts.unread, counts.pending_sends),
        (0, 0, 0)
    );
    assert!(app.agent_exit_check().await.unwrap().chats.is_empty());
    assert!(app
        .inbox_conversations(InboxFilter::Mine, "")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        app.inbox_conversations(InboxFilter::Queues, "5512345678")
            .await
            .unwrap()
            .len(),
        1,
        "search finds attended chats"
    );
    app.shutdown().await;

    // Another computer (nothing cached): the search asks the hub too, and the attended chat
    // arrives as an event, then in the list.
    let (other, mut other_events) = start_app(&dir.path().join("other.sqlite3"), &secrets).await;
    other
        .hub_login(&hub.url(), AGENT.0, Sensitive::new(AGENT.1.into()))
        .await
        .unwrap();
    let mut other_seen = Vec::new();
    let attended = |e: &DomainEvent| match e {
        DomainEvent::InboxConversation(c)
            if c.id == id && c.state == enlace_app::InboxConversationState::Attended =>
        {
            Some(())
        }
        _ => None,
    };
    other
        .inbox_conversations(InboxFilter::Queues, "5512345678")
        .await
        .unwrap();
    // The new session's stream replays the hub's log (the chat opening, the comment, the
    // attended mark) while the search answers: once the comment is replayed, only "attended"
    // can follow.
    until(&mut other_events, &mut other_seen, |e| match e {
        DomainEvent::InboxComment(c) if c.id == comment.id => Some(()),
        _ => None,
    })
    .await;
    let settled = other
        .inbox_conversations(InboxFilter::Queues, "5512345678")
        .await
        .unwrap();
    if settled.first().map(|c| c.state) != Some(enlace_app::InboxConversationState::Attended) {
        until(&mut other_events, &mut other_seen, attended).await;
    }
    let found = other
        .inbox_conversations(InboxFilter::Queues, "5512345678")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].state, enlace_app::InboxConversationState::Attended);
    assert_eq!(
        notifies(&other_seen, id),
        0,
        "the replayed log of a new session does not notify"
    );
    other.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_throttled_and_quiet_while_the_chat_is_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "uno").await;
    // Three quick messages (and the assignment): one notification.
    customer_writes(&wa, &mut events, &mut seen, "dos").await;
    customer_writes(&wa, &mut events, &mut seen, "tres").await;
    customer_writes(&wa, &mut events, &mut seen, "tres y medio").await;
    assert_eq!(notifies(&seen, id), 1, "at most one every few seconds");
    let preview = seen
        .iter()
        .find_map(|e| match e {
            DomainEvent::ChatNotify { preview, .. } => Some(preview.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(preview, "uno");
    // On screen: none, whatever the throttle says.
    app.inbox_viewing(Some(id)).await.unwrap();
    let before = notifies(&seen, id);
    customer_writes(&wa, &mut events, &mut seen, "cuatro").await;
    // Handled in order: once "cinco" is in, "cuatro" was handled whole.
    customer_writes(&wa, &mut events, &mut seen, "cinco").await;
    assert_eq!(notifies(&seen, id), before);

    // Paused: another customer's chat notifies nothing, unless the agent turned that on.
    app.inbox_viewing(None).await.unwrap();
    let reasons = app.pause_reasons().await.unwrap();
    app.agent_pause(reasons[0].id).await.unwrap();
    let other = "50688881234";
    let writes = |body: &'static str| {
        wa.customer_sends(other, Inbound::Text(body.into()));
        move |e: &DomainEvent| match e {
            DomainEvent::InboxMessage {
                conversation,
                message,
            } if message.text.as_deref() == Some(body) => Some(conversation.id),
            _ => None,
        }
    };
    let second = until(&mut events, &mut seen, writes("buenas")).await;
    // Handled in order: once the next message is in, the first was handled whole.
    until(&mut events, &mut seen, writes("¿alguien?")).await;
    assert_eq!(notifies(&seen, second), 0, "paused");
    let mut settings = app.settings();
    settings.chat_notify_while_paused = true;
    app.save_settings(settings).await.unwrap();
    until(&mut events, &mut seen, writes("¿hola?")).await;
    // "¿alguien?" may have been decided after the setting changed: either notifies.
    if notifies(&seen, second) == 0 {
        until(&mut events, &mut seen, |e| match e {
            DomainEvent::ChatNotify { conversation, .. } if conversation.id == second => Some(()),
            _ => None,
        })
        .await;
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_typed_while_the_hub_is_down_goes_out_once_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let addr = hub.addr.to_string();
    let secrets = SecretStore::in_memory();
    let db = dir.path().join("desk.sqlite3");
    let (app, mut events) = start_app(&db, &secrets).await;
    let mut seen = Vec::new();
    app.hub_login(&hub.url(), AGENT.0, Sensitive::new(AGENT.1.into()))
        .await
        .unwrap();
    let id = customer_writes(&wa, &mut events, &mut seen, "¿me ayudan?").await;

    // The hub goes away; the agent types two messages: kept here, shown pending, in order.
    hub.shutdown().await;
    app.inbox_send(id, "down-1", text("Un momento"))
        .await
        .unwrap();
    app.inbox_send(id, "down-2", text("ya reviso"))
        .await
        .unwrap();
    let page = app.inbox_timeline(id, None, 50).await.unwrap();
    let pending: Vec<_> = page
        .messages
        .iter()
        .filter(|m| m.status == ChatStatus::Pending)
        .map(|m| m.text.clone().unwrap())
        .collect();
    assert_eq!(pending, ["Un momento", "ya reviso"]);
    assert_eq!(app.inbox_counts().await.unwrap().pending_sends, 2);
    let conversation = &app
        .inbox_conversations(InboxFilter::Mine, "")
        .await
        .unwrap()[0];
    assert_eq!(conversation.pending_sends, 2);

    // The app restarts meanwhile: the queue is on disk.
    app.shutdown().await;
    drop(app);
    drop(events);
    let hub = start_hub(dir.path(), &wa, &addr).await;
    let (app, _events) = start_app(&db, &secrets).await;
    eventually("both at the double", || sent_texts(&wa).len() >= 2).await;
    assert_eq!(
        sent_texts(&wa),
        ["Un momento", "ya reviso"],
        "each once, in order"
    );
    assert_eq!(app.inbox_counts().await.unwrap().pending_sends, 0);
    let page = app.inbox_timeline(id, None, 50).await.unwrap();
    assert_eq!(page.messages.len(), 3, "{:?}", page.messages);

    // Down again with the app running: the sender waits and retries; out once when it is back.
    hub.shutdown().await;
    let pending = app
        .inbox_send(id, "down-3", text("sigo aquí"))
        .await
        .unwrap();
    assert_eq!(pending.status, ChatStatus::Pending);
    let page = app.inbox_timeline(id, None, 50).await.unwrap();
    assert_eq!(page.messages.last().unwrap().status, ChatStatus::Pending);
    let hub = start_hub(dir.path(), &wa, &addr).await;
    eventually("the third at the double", || sent_texts(&wa).len() >= 3).await;
    assert_eq!(sent_texts(&wa), ["Un momento", "ya reviso", "sigo aquí"]);
    app.shutdown().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_pages_come_from_the_hub_once_then_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    let mut id = 0;
    for n in 1..=25 {
        id = customer_writes(&wa, &mut events, &mut seen, &format!("m{n}")).await;
    }
    let texts = |p: &enlace_app::ChatPage| -> Vec<String> {
        p.messages.iter().map(|m| m.text.clone().unwrap()).collect()
    };
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = app.inbox_timeline(id, before, 10).await.unwrap();
        assert!(!page.offline);
        pages.push(texts(&page));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    let expected: Vec<Vec<String>> = [16..=25, 6..=15, 1..=5]
        .into_iter()
        .map(|r| r.map(|n| format!("m{n}")).collect())
        .collect();
    assert_eq!(pages, expected);

    // The hub away: the same pages from the cache, whole (not "offline": nothing is missing).
    hub.shutdown().await;
    let mut before = None;
    for want in &expected {
        let page = app.inbox_timeline(id, before, 10).await.unwrap();
        assert_eq!(&texts(&page), want);
        assert!(!page.offline);
        before = page.next_before;
    }
    assert_eq!(before, None);
    app.shutdown().await;
}

/// A hub whose clock runs ahead of this computer's.
struct AheadClock(i64);

impl enlace_core::Clock for AheadClock {
    fn now(&self) -> enlace_core::Timestamp {
        let now = enlace_core::Clock::now(&SystemClock);
        enlace_core::Timestamp(now.millis() + self.0)
    }
}

/// The hub's reply to the agent's own action is newer than every event the desktop stored
/// before it, whatever the two clocks say: Marcar atendido shows attended at once, not when
/// (or if) the stream's `conversation_attended` arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reply_to_marcar_atendido_wins_over_earlier_events_from_a_clock_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub =
        start_hub_with_clock(dir.path(), &wa, "127.0.0.1:0", Arc::new(AheadClock(60_000))).await;
    seed(&hub).await;
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "hola").await;
    let attended = app.inbox_attended(id).await.unwrap();
    assert_eq!(attended.state, enlace_app::InboxConversationState::Attended);
    assert_eq!(app.inbox_counts().await.unwrap().waiting, 0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salida_hands_the_agents_open_chats_back_to_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "hola").await;
    let check = app.agent_exit_check().await.unwrap();
    assert_eq!(check.chats.len(), 1);
    assert_eq!(check.chats[0].id, id);
    assert_eq!(check.chats[0].customer, "+525512345678");
    // Another agent is there to take it.
    let url = hub.url();
    tokio::task::spawn_blocking(move || {
        enlace_hub_client::HubClient::new(&url)
            .unwrap()
            .login(BETO.0, &Sensitive::new(BETO.1.into()))
            .unwrap()
    })
    .await
    .unwrap();
    let released = app.inbox_release_all_mine().await.unwrap();
    assert_eq!(released.len(), 1);
    assert!(!released[0].mine);
    assert!(app.agent_exit_check().await.unwrap().chats.is_empty());
    assert_eq!(app.inbox_counts().await.unwrap().waiting, 0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_from_a_call_card_starts_with_a_template() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    wa.add_template(enlace_sandbox::Template::new(
        "seguimiento",
        "es",
        "UTILITY",
        "Hola {{1}}, le escribimos por su llamada del {{2}}.",
    ));
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let (app, _events, _) = signed_in_app(dir.path(), &hub).await;
    let numbers = app.inbox_numbers().await.unwrap();
    assert_eq!(numbers.len(), 1);
    assert_eq!(numbers[0].name, "Ventas");
    let templates = app.inbox_templates().await.unwrap();
    let template = templates.iter().find(|t| t.name == "seguimiento").unwrap();
    assert_eq!(template.parameter_count, 2);
    assert!(template.body.starts_with("Hola {{1}}"));

    // The call's number as the card shows it (national, Costa Rica by default).
    let started = app
        .inbox_start(
            &numbers[0].phone_number_id,
            "8888-7777",
            "start-1",
            OutgoingMessage::Template {
                name: "seguimiento".into(),
                language: "es".into(),
                parameters: vec!["Ana".into(), "lunes".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(started.customer, "+50688887777");
    assert!(started.mine);
    assert!(!started.window_open, "the customer has not written");
    assert_eq!(
        app.inbox_conversations(InboxFilter::Mine, "")
            .await
            .unwrap()
            .len(),
        1
    );
    // Free text cannot go before the customer writes.
    let refused = app
        .inbox_send(started.id, "start-2", text("¿Sigue ahí?"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), enlace_core::ErrorCode::WindowClosed);
    eventually("the template at the double", || {
        wa.sent_messages().iter().any(|m| m.kind == "template")
    })
    .await;
    let sent = wa.sent_messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].body["template"]["name"], "seguimiento");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_is_sent_again_as_a_new_one_and_media_download_once() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let (app, mut events, _) = signed_in_app(dir.path(), &hub).await;
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "hola").await;

    // WhatsApp accepts, then fails the message: shown failed with the reason; Reintentar
    // sends the same content as a new message.
    wa.fail_next_send(131026);
    app.inbox_send(id, "f-1", text("¿Me confirma?"))
        .await
        .unwrap();
    let failed = until(&mut events, &mut seen, |e| match e {
        DomainEvent::InboxMessage { message, .. }
            if message.client_id.as_deref() == Some("f-1")
                && message.status == ChatStatus::Failed =>
        {
            Some(message.clone())
        }
        _ => None,
    })
    .await;
    let error = failed.error.clone().unwrap();
    assert_eq!(error.code, Some(131026));
    assert_eq!(error.kind.as_deref(), Some("whatsapp_undeliverable"));
    let retried = app.inbox_retry(id, &failed.key()).await.unwrap();
    assert_ne!(retried.client_id, failed.client_id);
    assert_eq!(retried.status, ChatStatus::Pending);
    eventually("the retry at the double", || sent_texts(&wa).len() >= 2).await;
    assert_eq!(sent_texts(&wa), ["¿Me confirma?", "¿Me confirma?"]);
    // Only failed messages are sent again.
    let err = app.inbox_retry(id, "h:999999").await.unwrap_err();
    assert_eq!(err.code(), enlace_core::ErrorCode::NotFound);

    // A photo: downloaded once into the media folder, there even with the hub away.
    wa.customer_sends(
        CUSTOMER,
        Inbound::Media(enlace_sandbox::InboundMedia::image(Some("la factura"))),
    );
    let photo = until(&mut events, &mut seen, |e| match e {
        DomainEvent::InboxMessage { message, .. } if message.kind == "image" => {
            Some(message.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(photo.text.as_deref(), Some("la factura"));
    let media_id = photo.media_id.clone().expect("the hub kept the photo");
    // Asked several times at once (a voice note's player and its waveform do): each ask gets
    // the one file, none fails on another's half-written download.
    let asks: Vec<_> = (0..6)
        .map(|_| {
            let (app, id) = (app.clone(), media_id.clone());
            tokio::spawn(async move { app.inbox_media_path(&id).await })
        })
        .collect();
    let mut paths = Vec::new();
    for ask in asks {
        paths.push(
            ask.await
                .unwrap()
                .expect("every simultaneous ask gets the file"),
        );
    }
    let path = paths[0].clone();
    assert!(paths.iter().all(|p| *p == path), "{paths:?}");
    let kept: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "one file, no partial download left: {kept:?}"
    );
    assert!(path.starts_with(dir.path().join("media")), "{path:?}");
    assert!(std::fs::read(&path).unwrap().starts_with(b"\xFF\xD8\xFF"));
    hub.shutdown().await;
    assert_eq!(app.inbox_media_path(&media_id).await.unwrap(), path);
    let err = app.inbox_media_path("../desk.sqlite3").await.unwrap_err();
    assert_eq!(err.code(), enlace_core::ErrorCode::InvalidRequest);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_customers_write_while_the_app_is_closed_is_there_once_after_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let secrets = SecretStore::in_memory();
    let db = dir.path().join("desk.sqlite3");
    let (app, mut events) = start_app(&db, &secrets).await;
    let mut seen = Vec::new();
    app.hub_login(&hub.url(), AGENT.0, Sensitive::new(AGENT.1.into()))
        .await
        .unwrap();
    let id = customer_writes(&wa, &mut events, &mut seen, "hola").await;
    app.inbox_timeline(id, None, 50).await.unwrap();
    app.shutdown().await;
    drop(app);

    // Closed: the customer writes twice (the hub keeps the events for this agent).
    wa.customer_sends(CUSTOMER, Inbound::Text("¿siguen ahí?".into()));
    wa.customer_sends(CUSTOMER, Inbound::Text("les escribo luego".into()));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Opened again: the session and its stream resume where they stopped.
    let (app, mut events) = start_app(&db, &secrets).await;
    let mut seen = Vec::new();
    until(&mut events, &mut seen, |e| match e {
        DomainEvent::InboxMessage { message, .. }
            if message.text.as_deref() == Some("les escribo luego") =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    let page = app.inbox_timeline(id, None, 50).await.unwrap();
    let texts: Vec<_> = page
        .messages
        .iter()
        .map(|m| m.text.clone().unwrap())
        .collect();
    assert_eq!(texts, ["hola", "¿siguen ahí?", "les escribo luego"]);
    let mine = app
        .inbox_conversations(InboxFilter::Mine, "")
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].preview, "les escribo luego");
    assert_eq!(mine[0].unread, 3);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_without_whatsapp_says_chats_are_not_available() {
    let dir = tempfile::tempdir().unwrap();
    let hub = enlace_hub::testing::TestHub::start(dir.path(), None, Arc::new(SystemClock)).await;
    let secrets = SecretStore::in_memory();
    let (app, mut events) = start_app(&dir.path().join("desk.sqlite3"), &secrets).await;
    let (user, password, _, _) = enlace_hub::testing::AGENT;
    app.hub_login(&hub.url(), user, Sensitive::new(password.into()))
        .await
        .unwrap();
    until(&mut events, &mut Vec::new(), |e| match e {
        DomainEvent::InboxCounts(c) if c.online && !c.available => Some(()),
        _ => None,
    })
    .await;
    assert!(!app.inbox_counts().await.unwrap().available);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_attended_logs_the_transcript_to_the_crm_when_the_agent_wants_it() {
    use enlace_crm::{CrmConfig, SalesforceConfig, ZohoConfig};
    use enlace_sandbox::{SalesforceDouble, ZohoDouble};

    let dir = tempfile::tempdir().unwrap();
    let wa = WhatsAppDouble::start().unwrap();
    let hub = start_hub(dir.path(), &wa, "127.0.0.1:0").await;
    seed(&hub).await;
    let sf = SalesforceDouble::start().unwrap();
    let zoho = ZohoDouble::start().unwrap();
    sf.set_demo_mode(true);
    sf.add_user("agente@example.com", "secreto123TOKEN");
    let contact = sf.insert_record(
        enlace_core::ContactKind::Contact,
        serde_json::json!({"FirstName":"Lucía","LastName":"Quesada","Phone":"+52 55 1234 5678"}),
    );
    let (tx, mut events) = mpsc::unbounded_channel();
    let secrets = SecretStore::in_memory();
    let app = App::start(
        TestHost(tx),
        Store::open(&dir.path().join("desk.sqlite3")).unwrap(),
        Arc::new(SystemClock),
        AppOptions {
            secrets: Some(secrets.clone()),
            demo_crm: Some(CrmConfig {
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
            }),
            ..AppOptions::default()
        },
    )
    .await
    .unwrap();
    app.crm_password_sign_in(
        "agente@example.com".into(),
        Sensitive::new("secreto123TOKEN".to_owned()),
    )
    .await
    .unwrap();
    app.search_contacts("Quesada").await.unwrap(); // the contacts cache knows her now
    let mut settings = app.settings();
    settings.chat_log_to_crm = true;
    app.save_settings(settings).await.unwrap();
    app.hub_login(&hub.url(), AGENT.0, Sensitive::new(AGENT.1.into()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let id = customer_writes(&wa, &mut events, &mut seen, "¿Llegó mi pedido?").await;
    let cached = app
        .inbox_conversations(InboxFilter::Mine, "")
        .await
        .unwrap();
    assert_eq!(
        cached[0].customer_name.as_deref(),
        Some("Lucía Quesada"),
        "the CRM name by the caller-ID rules (521 55… is +52 55…)"
    );
    app.inbox_send(id, "crm-1", text("Sí, ayer a las 3"))
        .await
        .unwrap();
    until(&mut events, &mut seen, |e| match e {
        DomainEvent::InboxMessage { message, .. }
            if message.client_id.as_deref() == Some("crm-1")
                && message.status.rank() >= ChatStatus::Sent.rank() =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    app.inbox_attended(id).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let task = loop {
        if let Some(task) = sf.records("Task").into_iter().next() {
            break task;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Task reached Salesforce"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(task["WhoId"], contact.as_str());
    let description = task["Description"].as_str().unwrap();
    assert!(
        description.contains("Cliente: ¿Llegó mi pedido?"),
        "{description}"
    );
    assert!(
        description.contains("Agente: Sí, ayer a las 3"),
        "{description}"
    );
    app.shutdown().await;
}
