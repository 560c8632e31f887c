//! Omnicanalidad on the real window: the organization's server (in-process `enlace-hub`) with a
//! WhatsApp number served by the WhatsApp Cloud API double, which plays Meta and the customers
//! (signed webhooks in, Graph sends recorded). The desktop reaches the hub through a relay the
//! test can cut. What the double received is compared with what the agent typed, exactly.

use std::time::Duration;

use enlace_tests::inbox_ui::{self, ShownMessage};
use enlace_tests::omnichannel::{self, HubOptions, OrgServer, AGENT_LOGIN};
use enlace_tests::{AppEnv, Session};
use serde_json::Value;

use super::{open_panel, requested, start, wait_line_online, wait_listed, OrFail, CALL, UI};

/// Hub → desktop, including a reconnection of the stream after the relay comes back.
const HUB: Duration = Duration::from_secs(90);
const LUCIA: (&str, &str) = ("50688887777", "Lucía Quesada");
const ANA: (&str, &str) = ("50688886666", "Ana Solís");
const PEDRO: (&str, &str) = ("50687776666", "Pedro Mora");

fn log_in(s: &Session, org: &OrgServer) {
    let (user, password) = AGENT_LOGIN;
    inbox_ui::log_in(s, &org.url(), user, password, CALL).or_fail("log in to the hub");
}

/// The text body of a text send, as the double got it.
fn text_body(sent: &enlace_sandbox::SentMessage) -> &str {
    sent.body["text"]["body"].as_str().unwrap_or_default()
}

/// The body parameters of a template send (`components[type=body].parameters[].text`).
fn template_parameters(body: &Value) -> Vec<String> {
    body["template"]["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("body"))
        })
        .flat_map(|c| c["parameters"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

/// Waits until the tray item mentions the pending chats: its label (Tauri's tray title on
/// Linux) shows `count`, or its menu lists `customer` (name or number digits).
fn wait_tray_mentions(s: &Session, count: u32, customer: (&str, &str)) -> omnichannel::TrayItem {
    let deadline = std::time::Instant::now() + UI;
    loop {
        let item = omnichannel::tray_item(&s.app_pids());
        if let Some(item) = &item {
            let label_has_count = omnichannel::digits(&item.label) == count.to_string()
                || omnichannel::digits(&item.title) == count.to_string();
            let menu_lists = item
                .menu
                .iter()
                .any(|l| l.contains(customer.1) || omnichannel::digits(l).contains(customer.0));
            if label_has_count && menu_lists {
                return item.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tray does not show {count} pending chat(s) with {} in its menu: {item:?}",
            customer.1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the tray's label is empty and its menu lists no chat (only Show and Quit).
fn wait_tray_clear(s: &Session) {
    let deadline = std::time::Instant::now() + UI;
    loop {
        let item = omnichannel::tray_item(&s.app_pids());
        if item
            .as_ref()
            .is_some_and(|i| i.label.is_empty() && i.menu.len() <= 2)
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tray still shows waiting chats: {item:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A customer writes; the side bar, the tray and a notification say so; the agent opens the
/// chat (Ver), answers with text and an emoji from the picker (the double receives exactly that
/// text, once), the double reports delivered and read and the ticks follow; an internal comment
/// stays internal; Marcar atendido clears the badge. Then a conversation whose 24-hour window
/// closed before the agent saw it: the composer offers the templates and the double receives
/// the chosen template with its parameter.
#[test]
fn whatsapp_chat_badge_tray_notification_reply_with_emoji_ticks_comment_attended_and_template() {
    if !requested() {
        return;
    }
    let started = std::time::Instant::now();
    let step = |what: &str| println!("{:>7.1} s  {what}", started.elapsed().as_secs_f64());
    let org = OrgServer::start(&HubOptions::default()).or_fail("the hub with a WhatsApp number");
    let env = AppEnv::new()
        .or_fail("app data dir")
        .with("ENLACE_LOG", "warn,enlace=debug,enlace_app=debug");
    let s = start(&env);
    step("window");
    log_in(&s, &org);
    step("logged in");
    open_panel(&s, "calls");
    omnichannel::close_all_notifications();

    // A customer writes: routed to the only agent in the queue.
    let first = "Hola, quisiera reservar un tour para el sábado";
    org.customer_writes(LUCIA.0, LUCIA.1, first);
    inbox_ui::wait_badge(&s, 1, HUB).or_fail("the Omnicanalidad badge shows 1");
    step("badge 1");
    let tray = wait_tray_mentions(&s, 1, LUCIA);
    step("tray");
    omnichannel::wait_notification_mentioning(&[LUCIA.1], UI)
        .or_fail("a desktop notification names the customer");
    step("notification");
    let history = omnichannel::notification_history();
    assert!(
        history.contains(first),
        "the notification previews the message: {history}"
    );
    s.screenshot_png(&enlace_tests::app::artifacts_dir().join("inbox-badge.png"))
        .or_fail("screenshot of the badge");

    open_panel(&s, "omnichannel");
    inbox_ui::open_chat(&s, LUCIA.0, UI).or_fail("Ver opens the chat");
    step("chat open");
    inbox_ui::wait_message(&s, first, None, UI).or_fail("the customer's message is shown");

    // The answer: text, then an emoji from the picker at the caret.
    let typed = "Con gusto, Lucía. ¿Para cuántas personas? ";
    let input = inbox_ui::type_message(&s, typed, UI).or_fail("Nuevo mensaje");
    let emoji = inbox_ui::pick_first_emoji(&s, UI).or_fail("Emoticons");
    let composed = inbox_ui::composer_text(&s, &input).or_fail("the composer's text");
    assert_eq!(
        composed,
        format!("{typed}{emoji}"),
        "the emoji goes in at the caret"
    );
    s.click_testid("chat-send", UI).or_fail("Enviar");

    let sent = org
        .wait_sent_to(LUCIA.0, 1, HUB)
        .or_fail("the double receives the answer");
    step("answer sent");
    assert_eq!(sent.len(), 1, "one send: {sent:?}");
    assert_eq!(sent[0].kind, "text");
    assert_eq!(
        text_body(&sent[0]),
        composed.trim(),
        "exactly what the agent typed"
    );
    let wamid = sent[0].wamid.clone();

    let mine = inbox_ui::wait_message(&s, typed.trim(), Some("sent"), UI)
        .or_fail("the answer shows as sent");
    org.post_status(&wamid, "delivered")
        .or_fail("Meta: delivered");
    inbox_ui::wait_message(&s, typed.trim(), Some("delivered"), UI)
        .or_fail("the ticks move to delivered");
    org.post_status(&wamid, "read").or_fail("Meta: read");
    inbox_ui::wait_message(&s, typed.trim(), Some("read"), UI).or_fail("the ticks move to read");
    step("read");
    let tick = s
        .find_css(&format!(
            "[data-testid=\"chat-message\"][data-key=\"{}\"] [data-testid=\"chat-tick\"]",
            mine.key
        ))
        .or_fail("the message's tick");
    assert_eq!(
        s.attr(&tick, "data-tick").or_fail("data-tick").as_deref(),
        Some("read")
    );

    // Comentarios del chat: in the timeline, never sent.
    let note = "Cliente frecuente, ofrecer descuento";
    s.click_testid("chat-comment-open", UI)
        .or_fail("Comentarios del chat");
    let comment = s
        .wait_for("chat-comment-input", UI)
        .or_fail("comment field");
    s.send_keys(&comment, note).or_fail("type the comment");
    s.click_testid("chat-comment-add", UI)
        .or_fail("add the comment");
    s.wait_until(UI, "the comment in the timeline", |s| {
        for c in s.find_all("chat-comment")? {
            if s.text(&c)?.contains(note) {
                return Ok(Some(()));
            }
        }
        Ok(None)
    })
    .or_fail("the comment is shown");
    step("comment");
    s.screenshot_png(&enlace_tests::app::artifacts_dir().join("inbox-chat.png"))
        .or_fail("screenshot of the chat");

    s.click_testid("chat-attended", UI)
        .or_fail("Marcar atendido");
    inbox_ui::wait_badge(&s, 0, UI).or_fail("the badge clears");
    step("badge 0");
    wait_tray_clear(&s);
    s.wait_gone("chat-attended", UI)
        .unwrap_or_else(|e| explain(&s, "attended", &format!("the chat is attended: {e}")));
    let sent = org.sent_to(LUCIA.0);
    assert_eq!(
        sent.len(),
        1,
        "the comment never went to the customer: {sent:?}"
    );
    assert!(
        !sent.iter().any(|m| m.body.to_string().contains(note)),
        "the comment was sent: {sent:?}"
    );

    // A customer who wrote 25 hours ago (Meta delivered it late): the window is closed.
    s.click_testid("chat-back", UI).or_fail("back to the list");
    org.customer_wrote_long_ago(
        ANA.0,
        ANA.1,
        "¿Siguen abiertos?",
        Duration::from_secs(25 * 3600),
    );
    inbox_ui::wait_badge(&s, 1, HUB).or_fail("the late conversation is waiting");
    step("late conversation");
    inbox_ui::open_chat(&s, ANA.0, UI).or_fail("Ver the late conversation");
    s.wait_for("chat-window-closed", UI)
        .or_fail("the composer says the window is closed");
    s.wait_for("template-picker", UI)
        .or_fail("the templates are offered");
    step("templates offered");
    s.select_option("template-select", "seguimiento_llamada|es_MX", UI)
        .or_fail("pick seguimiento_llamada (es_MX)");
    let param = s.wait_for("template-param", UI).or_fail("its parameter");
    s.send_keys(&param, "Ana").or_fail("fill {{1}}");
    s.wait_until(UI, "the preview with the parameter", |s| {
        Ok(s.text(&s.find("template-preview")?)?
            .contains("Hola Ana,")
            .then_some(()))
    })
    .or_fail("the preview shows the filled template");
    s.click_testid("template-send", UI)
        .or_fail("send the template");
    let sent = org
        .wait_sent_to(ANA.0, 1, HUB)
        .or_fail("the double receives the template");
    step("template sent");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].kind, "template", "{:?}", sent[0].body);
    assert_eq!(sent[0].body["template"]["name"], "seguimiento_llamada");
    assert_eq!(sent[0].body["template"]["language"]["code"], "es_MX");
    assert_eq!(template_parameters(&sent[0].body), vec!["Ana".to_owned()]);
    println!("tray while Lucía waited: {tray:?}");
}

/// WhatsApp from a call card: a customer who wrote earlier calls the queue; from the card the
/// agent picks the business number, keeps the caller's number and sends a message; the double
/// receives it and the conversation is in Omnicanalidad. Then the hub becomes unreachable while
/// the agent types: the message shows pending, nothing leaves; when the hub is back the double
/// receives it exactly once.
#[test]
fn whatsapp_from_a_call_card_and_a_message_typed_offline_goes_out_once() {
    if !requested() {
        return;
    }
    let org = OrgServer::start(&HubOptions {
        pbx: true,
        ..HubOptions::default()
    })
    .or_fail("the hub with a PBX and a WhatsApp number");
    let pbx = org.pbx.clone().or_fail_none("the AMI double");
    let env = AppEnv::new()
        .or_fail("app data dir")
        .with("ENLACE_LOG", "warn,enlace=debug,enlace_app=debug");
    let s = start(&env);
    log_in(&s, &org);
    wait_line_online(&s);

    org.customer_writes(PEDRO.0, PEDRO.1, "Los llamo en un momento");
    inbox_ui::wait_badge(&s, 1, HUB).or_fail("Pedro's conversation is waiting");

    let caller = std::sync::Arc::clone(&pbx);
    std::thread::spawn(move || {
        caller.run(enlace_sandbox::AmiScenario::InboundViaQueue {
            queue: "support".into(),
            caller: format!("+{}", PEDRO.0),
            caller_name: PEDRO.1.into(),
            agent_interface: "PJSIP/1001".into(),
            talk_ms: 1_200,
        })
    })
    .join()
    .map_err(|_| "the scripted call panicked")
    .or_fail("the queue call");
    open_panel(&s, "calls");
    let call = wait_listed(&s, "call-card", "incoming", None);
    let card_css = format!("[data-testid=\"call-card\"][data-call-id=\"{}\"]", call.id);
    let wa_button = s
        .find_css(&format!("{card_css} [data-testid=\"call-whatsapp\"]"))
        .or_fail("the card's WhatsApp button");
    s.click(&wa_button).or_fail("WhatsApp");
    s.wait_for("wa-composer", UI)
        .or_fail("the WhatsApp composer");
    let number = s.find("wa-number").or_fail("Número");
    let business = s.property(&number, "value").or_fail("Número's value");
    assert!(
        business.as_str().is_some_and(|v| !v.is_empty()),
        "a business number is chosen: {business:?}"
    );
    let customer = s.find("wa-customer").or_fail("Cliente");
    let customer_value = s.property(&customer, "value").or_fail("Cliente's value");
    assert_eq!(
        omnichannel::digits(customer_value.as_str().unwrap_or_default()),
        PEDRO.0,
        "Cliente is the call's number"
    );
    let from_card = "Le envío la cotización por aquí";
    let message = s.wait_for("wa-message", UI).or_fail("Mensaje");
    s.send_keys(&message, from_card).or_fail("type Mensaje");
    s.click_testid("wa-send", UI).or_fail("Enviar");
    let sent = org.wait_sent_to(PEDRO.0, 1, HUB).unwrap_or_else(|e| {
        explain(
            &s,
            "wa-sent",
            &format!("the double receives the card's message: {e}"),
        )
    });
    assert_eq!(text_body(&sent[0]), from_card);
    s.wait_gone("wa-composer", UI)
        .or_fail("the composer closes");

    // Omnicanalidad opens on that conversation; it is in the list too.
    s.wait_for("panel-omnichannel", UI)
        .or_fail("Omnicanalidad opens");
    s.wait_for("chat-view", UI).or_fail("on the conversation");
    inbox_ui::wait_message(&s, from_card, None, UI).or_fail("the card's message in the chat");
    s.click_testid("chat-back", UI).or_fail("back to the list");
    s.wait_until(UI, "the row previews the card's message", |s| {
        let Some(row) = inbox_ui::find_row(s, PEDRO.0)? else {
            return Ok(None);
        };
        let preview = s.find_in(&row, "inbox-preview")?;
        Ok(s.text(&preview)?.contains(from_card).then_some(()))
    })
    .or_fail("the row shows the message sent from the card");

    // The hub goes away while the agent types.
    inbox_ui::open_chat(&s, PEDRO.0, UI).or_fail("Ver");
    org.cut_desktop_off();
    let offline = "Mensaje escrito sin conexión";
    inbox_ui::type_message(&s, offline, UI).or_fail("Nuevo mensaje");
    s.click_testid("chat-send", UI)
        .or_fail("Enviar while offline");
    let pending: ShownMessage = inbox_ui::wait_message(&s, offline, Some("pending"), UI)
        .or_fail("the message shows as pending");
    assert_eq!(
        org.sent_to(PEDRO.0).len(),
        1,
        "nothing leaves while the hub is unreachable"
    );
    s.screenshot_png(&enlace_tests::app::artifacts_dir().join("inbox-pending.png"))
        .or_fail("screenshot of the pending message");

    org.reconnect_desktop()
        .or_fail("the hub is reachable again");
    let sent = org
        .wait_sent_to(PEDRO.0, 2, HUB)
        .or_fail("the pending message goes out when the hub is back");
    assert_eq!(text_body(&sent[1]), offline);
    let shown = inbox_ui::wait_message(&s, offline, Some("sent"), HUB)
        .or_fail("the message is no longer pending");
    assert_eq!(shown.key, pending.key, "the same message, not a copy");
    org.post_status(&sent[1].wamid, "delivered")
        .or_fail("Meta: delivered");
    inbox_ui::wait_message(&s, offline, Some("delivered"), UI)
        .or_fail("delivered after the reconnection");
    let sent = org.sent_to(PEDRO.0);
    assert_eq!(
        sent.iter().filter(|m| text_body(m) == offline).count(),
        1,
        "sent exactly once: {sent:?}"
    );
    assert_eq!(shown_count(&s, offline), 1, "shown once in the chat");
}

/// Fails with what the window shows: a screenshot (`target/e2e/<name>-failed.png`) and the
/// texts of the alerts and notices on screen.
fn explain(s: &Session, name: &str, why: &str) -> ! {
    let shot = enlace_tests::app::artifacts_dir().join(format!("{name}-failed.png"));
    let _ = s.screenshot_png(&shot);
    let notes = s
        .execute(
            "return Array.from(document.querySelectorAll('[role=alert],[role=status],.notice'))\
               .map(e => (e.dataset.testid || '') + ': ' + e.textContent.trim()).join(' | ');",
            Vec::new(),
        )
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    panic!("{why}\non screen: {notes}\nscreenshot: {}", shot.display());
}

fn shown_count(s: &Session, text: &str) -> usize {
    inbox_ui::shown_messages(s)
        .or_fail("the chat's messages")
        .iter()
        .filter(|m| m.text.contains(text))
        .count()
}

trait OrFailNone<T> {
    fn or_fail_none(self, what: &str) -> T;
}

impl<T> OrFailNone<T> for Option<T> {
    fn or_fail_none(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{what}: missing"),
        }
    }
}
