//! WebDriver steps of the Omnicanalidad panel and chat, shared by the end-to-end tests and the
//! inbox benchmark. Element ids are the `data-testid`s of `ui/src/panels/Inbox*.svelte`,
//! `ui/src/chat/*.svelte` and `ui/src/components/SideBar.svelte`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::omnichannel::digits;
use crate::webdriver::{Element, Result, Session, WebDriverError};

/// Waits for the side bar to be painted (the window is up).
pub fn wait_window(s: &Session, timeout: Duration) -> Result<()> {
    s.wait_for("nav-calls", timeout).map(drop)
}

pub fn open_panel(s: &Session, panel: &str, timeout: Duration) -> Result<()> {
    s.click_testid(&format!("nav-{panel}"), timeout)?;
    s.wait_for(&format!("panel-{panel}"), timeout).map(drop)
}

/// Logs the agent in to the organization's server at `url` from Pausas (the Login screen).
pub fn log_in(s: &Session, url: &str, user: &str, password: &str, timeout: Duration) -> Result<()> {
    open_panel(s, "pauses", timeout)?;
    s.wait_for("not-connected", timeout)?;
    s.click_testid("hub-connect", timeout)?;
    s.wait_for("login-screen", timeout)?;
    for (field, value) in [
        ("login-server", url),
        ("login-user", user),
        ("login-password", password),
    ] {
        let input = s.wait_for(field, timeout)?;
        s.send_keys(&input, value)?;
    }
    s.click_testid("login-submit", timeout)?;
    s.wait_gone("login-screen", timeout)
}

/// The number on the Omnicanalidad side-bar badge (0 when there is no badge).
pub fn badge(s: &Session) -> Result<u32> {
    for badge in s.find_all("inbox-badge")? {
        if s.is_displayed(&badge)? {
            let text = s.text(&badge)?;
            return Ok(digits(&text).parse().unwrap_or(0));
        }
    }
    Ok(0)
}

/// Waits until the badge shows `count` (0: no badge).
pub fn wait_badge(s: &Session, count: u32, timeout: Duration) -> Result<()> {
    s.wait_until(
        timeout,
        &format!("the Omnicanalidad badge shows {count}"),
        |s| Ok((badge(s)? == count).then_some(())),
    )
}

/// The conversation row of the customer `number` (any format: compared by digits).
pub fn find_row(s: &Session, number: &str) -> Result<Option<Element>> {
    let wanted = digits(number);
    for row in s.find_all("inbox-row")? {
        if digits(&s.text(&row)?).contains(&wanted) {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// Waits for the row of `number` in the panel (open on the current filter).
pub fn wait_row(s: &Session, number: &str, timeout: Duration) -> Result<Element> {
    s.wait_until(
        timeout,
        &format!("the conversation with {number} is listed"),
        |s| find_row(s, number),
    )
}

/// Ver on the row of `number`, then waits for the chat. The click is retried while the list
/// re-renders under it (a row replaced or not yet interactable).
pub fn open_chat(s: &Session, number: &str, timeout: Duration) -> Result<()> {
    s.wait_until(
        timeout,
        &format!("Ver on the conversation with {number}"),
        |s| {
            let Some(row) = find_row(s, number)? else {
                return Ok(None);
            };
            let view = s.find_in(&row, "inbox-view")?;
            s.click(&view)?;
            Ok(Some(()))
        },
    )?;
    s.wait_for("chat-view", timeout).map(drop)
}

/// A message of the open chat, as the DOM shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownMessage {
    pub key: String,
    pub status: String,
    pub kind: String,
    pub text: String,
}

/// The messages of the open chat that are rendered (the list is virtualized).
pub fn shown_messages(s: &Session) -> Result<Vec<ShownMessage>> {
    let value = s.execute(
        "return Array.from(document.querySelectorAll('[data-testid=\"chat-message\"]')).map(m => ({\
           key: m.dataset.key || '', status: m.dataset.status || '', kind: m.dataset.kind || '',\
           text: m.textContent || ''}));",
        Vec::new(),
    )?;
    let items = value.as_array().cloned().unwrap_or_default();
    Ok(items
        .iter()
        .map(|m| ShownMessage {
            key: str_of(m, "key"),
            status: str_of(m, "status"),
            kind: str_of(m, "kind"),
            text: str_of(m, "text"),
        })
        .collect())
}

fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// Waits for a rendered message containing `text` (and, when given, with `data-status`).
pub fn wait_message(
    s: &Session,
    text: &str,
    status: Option<&str>,
    timeout: Duration,
) -> Result<ShownMessage> {
    let what = match status {
        Some(st) => format!("a message with {text:?} and status {st}"),
        None => format!("a message with {text:?}"),
    };
    s.wait_until(timeout, &what, |s| {
        Ok(shown_messages(s)?
            .into_iter()
            .find(|m| m.text.contains(text) && status.is_none_or(|st| m.status == st)))
    })
}

/// Types `text` in the composer (Nuevo mensaje).
pub fn type_message(s: &Session, text: &str, timeout: Duration) -> Result<Element> {
    let input = s.wait_for("chat-input", timeout)?;
    s.send_keys(&input, text)?;
    Ok(input)
}

/// The composer's current text.
pub fn composer_text(s: &Session, input: &Element) -> Result<String> {
    Ok(s.property(input, "value")?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Opens Emoticons and picks the first emoji of the grid; returns it.
pub fn pick_first_emoji(s: &Session, timeout: Duration) -> Result<String> {
    s.click_testid("chat-emoji", timeout)?;
    s.wait_for("emoji-picker", timeout)?;
    let option = s.wait_until(timeout, "an emoji in the picker", |s| {
        for option in s.find_all("emoji-option")? {
            if s.is_displayed(&option)? {
                return Ok(Some(option));
            }
        }
        Ok(None)
    })?;
    let emoji = s
        .attr(&option, "data-emoji")?
        .ok_or_else(|| WebDriverError::Reply {
            what: "emoji-option".into(),
            body: "no data-emoji".into(),
        })?;
    s.click(&option)?;
    Ok(emoji)
}

/// Installs (once per page) a recorder of when each chat message first reached the screen:
/// a MutationObserver on the document; after each batch of DOM changes it waits for the next
/// animation frame (the frame that paints them) and records, for every rendered
/// `chat-message` whose text holds a `marker` match (a RegExp source, first capture group =
/// the id), `performance.timeOrigin + performance.now()` in ms since the epoch. Read back with
/// [`seen_at`].
pub fn install_paint_recorder(s: &Session, marker: &str) -> Result<()> {
    s.execute(
        "if (!window.__enlaceSeen) {\
           window.__enlaceSeen = {};\
           const re = new RegExp(arguments[0], 'g');\
           let queued = false;\
           const scan = () => {\
             queued = false;\
             const at = performance.timeOrigin + performance.now();\
             for (const m of document.querySelectorAll('[data-testid=\"chat-message\"]')) {\
               for (const hit of (m.textContent || '').matchAll(re)) {\
                 if (!(hit[1] in window.__enlaceSeen)) window.__enlaceSeen[hit[1]] = at;\
               }\
             }\
           };\
           new MutationObserver(() => {\
             if (!queued) { queued = true; requestAnimationFrame(scan); }\
           }).observe(document.body, {childList: true, subtree: true, characterData: true});\
           scan();\
         }\
         return true;",
        vec![json!(marker)],
    )
    .map(drop)
}

/// When the message with `id` was first painted (ms since the epoch), if it was.
pub fn seen_at(s: &Session, id: &str) -> Result<Option<f64>> {
    let value = s.execute(
        "return (window.__enlaceSeen || {})[arguments[0]] ?? null;",
        vec![json!(id)],
    )?;
    Ok(value.as_f64())
}
