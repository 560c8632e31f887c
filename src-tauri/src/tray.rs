//! The tray icon: its picture follows the agent's activity (idle, ringing, in a call,
//! offline); its title (the label beside the icon on Linux's appindicator and on macOS) and
//! tooltip count the chats waiting for the agent; its menu lists those chats (a click opens
//! one) between "Show Enlace" and "Quit".
//!
//! The texts are built by pure functions (tested below); [`TrayState`] keeps what the tray
//! shows so each change (activity, count, list) re-applies only its part.

use std::sync::Mutex;

use enlace_app::Activity;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Wry};

use crate::wire::ConversationView;

pub const TRAY_ID: &str = "enlace-tray";
/// Menu ids: `show`, `quit`, and `chat:<conversation id>` for each listed chat.
const SHOW: &str = "show";
const QUIT: &str = "quit";
const CHAT_PREFIX: &str = "chat:";
/// How many waiting chats the menu lists (the rest are counted in one line).
pub const MENU_CHATS: usize = 10;
/// Longest label of a chat in the menu, in characters.
const LABEL_CHARS: usize = 48;

/// One waiting chat as the menu lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayChat {
    pub conversation_id: i64,
    pub label: String,
}

impl TrayChat {
    /// The customer's name (CRM, else WhatsApp profile) and number, and the unread count.
    pub fn from_view(view: &ConversationView) -> TrayChat {
        let name = view
            .customer_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .or_else(|| Some(view.profile_name.trim()).filter(|n| !n.is_empty()));
        let who = match name {
            Some(name) => format!("{name} · {}", view.customer),
            None => view.customer.clone(),
        };
        let mut label = clean_label(&who);
        if view.unread > 0 {
            label.push_str(&format!(" ({})", view.unread));
        }
        TrayChat {
            conversation_id: view.id,
            label,
        }
    }
}

/// Untrusted text as a menu label: no control characters, bounded, `&` shown as itself (menus
/// read a single `&` as a keyboard mnemonic).
fn clean_label(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out: String = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > LABEL_CHARS {
        out = out.chars().take(LABEL_CHARS - 1).collect::<String>() + "…";
    }
    out.replace('&', "&&")
}

/// The conversation a menu id opens.
pub fn chat_of_menu_id(id: &str) -> Option<i64> {
    id.strip_prefix(CHAT_PREFIX)?.parse().ok()
}

/// The label beside the icon: the waiting count, nothing when none waits.
pub fn title(waiting: u32) -> Option<String> {
    (waiting > 0).then(|| waiting.to_string())
}

/// The tooltip: the activity, then the waiting chats (in both languages, like the activity).
pub fn tooltip(activity: Activity, waiting: u32) -> String {
    let base = match activity {
        Activity::Idle => "Enlace — disponible / available",
        Activity::Ringing => "Enlace — llamada entrante / incoming call",
        Activity::InCall => "Enlace — en llamada / in a call",
        Activity::Offline => "Enlace — línea sin conexión / phone line offline",
    };
    match waiting {
        0 => base.to_owned(),
        1 => format!("{base} · 1 chat en espera / 1 chat waiting"),
        n => format!("{base} · {n} chats en espera / {n} chats waiting"),
    }
}

/// Menu texts in the agent's language.
#[derive(Debug, Clone, Copy)]
pub struct MenuTexts {
    pub show: &'static str,
    pub quit: &'static str,
    /// `{n}` more chats than the menu lists.
    pub more: &'static str,
}

pub const MENU_ES: MenuTexts = MenuTexts {
    show: "Mostrar Enlace",
    quit: "Salir",
    more: "y {n} chats más en Omnicanalidad",
};
pub const MENU_EN: MenuTexts = MenuTexts {
    show: "Show Enlace",
    quit: "Quit",
    more: "and {n} more chats in Omnicanalidad",
};

/// What the menu lists between "Show" and "Quit": at most [`MENU_CHATS`] chats, then a line
/// counting the others.
pub fn menu_lines(chats: &[TrayChat], texts: &MenuTexts) -> (Vec<TrayChat>, Option<String>) {
    let shown: Vec<TrayChat> = chats.iter().take(MENU_CHATS).cloned().collect();
    let rest = chats.len().saturating_sub(MENU_CHATS);
    let more = (rest > 0).then(|| texts.more.replace("{n}", &rest.to_string()));
    (shown, more)
}

/// What the tray shows now.
#[derive(Debug)]
pub struct TrayState {
    inner: Mutex<Shown>,
    /// The list of waiting chats should be read again (requests made meanwhile coalesce).
    chats_stale: tokio::sync::Notify,
}

#[derive(Debug, Clone)]
struct Shown {
    activity: Activity,
    waiting: u32,
    chats: Vec<TrayChat>,
    spanish: bool,
}

impl TrayState {
    pub fn new(spanish: bool) -> TrayState {
        TrayState {
            inner: Mutex::new(Shown {
                activity: Activity::Offline,
                waiting: 0,
                chats: Vec::new(),
                spanish,
            }),
            chats_stale: tokio::sync::Notify::new(),
        }
    }

    /// Asks for the waiting chats to be listed again.
    pub fn request_chats(&self) {
        self.chats_stale.notify_one();
    }

    /// Resolves once [`Self::request_chats`] was called (at once if it was since the last time).
    pub async fn chats_requested(&self) {
        self.chats_stale.notified().await;
    }

    fn with<R>(&self, f: impl FnOnce(&mut Shown) -> R) -> R {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// The agent's language (menu texts), applied with the next change or [`Self::apply_all`].
    pub fn set_spanish(&self, spanish: bool) {
        self.with(|s| s.spanish = spanish);
    }

    /// Shows everything again (the tray was just built; events may have come first).
    pub fn apply_all(&self, handle: &AppHandle) {
        let shown = self.with(|s| s.clone());
        self.set_activity(handle, shown.activity);
        self.set_waiting(handle, shown.waiting);
        if let Some(tray) = handle.tray_by_id(TRAY_ID) {
            if let Ok(menu) = menu(handle, &shown.chats, shown.spanish) {
                let _ = tray.set_menu(Some(menu));
            }
        }
    }

    /// The agent's activity changed: the picture and the tooltip.
    pub fn set_activity(&self, handle: &AppHandle, activity: Activity) {
        let waiting = self.with(|s| {
            s.activity = activity;
            s.waiting
        });
        if let Some(tray) = handle.tray_by_id(TRAY_ID) {
            if let Some(image) = image(activity) {
                let _ = tray.set_icon(Some(image));
            }
            let _ = tray.set_tooltip(Some(tooltip(activity, waiting)));
        }
    }

    /// The waiting count changed: the title and the tooltip. Answers whether it changed.
    pub fn set_waiting(&self, handle: &AppHandle, waiting: u32) -> bool {
        let (changed, activity) = self.with(|s| {
            let changed = s.waiting != waiting;
            s.waiting = waiting;
            (changed, s.activity)
        });
        if let Some(tray) = handle.tray_by_id(TRAY_ID) {
            let _ = tray.set_title(title(waiting));
            let _ = tray.set_tooltip(Some(tooltip(activity, waiting)));
        }
        changed
    }

    /// The waiting chats changed: the menu. `spanish`: the agent's language now.
    pub fn set_chats(&self, handle: &AppHandle, chats: Vec<TrayChat>, spanish: bool) {
        let unchanged = self.with(|s| {
            let same = s.chats == chats && s.spanish == spanish;
            s.chats = chats.clone();
            s.spanish = spanish;
            same
        });
        if unchanged {
            return;
        }
        let Some(tray) = handle.tray_by_id(TRAY_ID) else {
            return;
        };
        match menu(handle, &chats, spanish) {
            Ok(menu) => {
                let _ = tray.set_menu(Some(menu));
            }
            Err(e) => tracing::warn!(error = %e, "could not rebuild the tray menu"),
        }
    }
}

fn image(activity: Activity) -> Option<Image<'static>> {
    let bytes: &'static [u8] = match activity {
        Activity::Idle => include_bytes!("../../icons/tray-idle.png"),
        Activity::Ringing => include_bytes!("../../icons/tray-ringing.png"),
        Activity::InCall => include_bytes!("../../icons/tray-in-call.png"),
        Activity::Offline => include_bytes!("../../icons/tray-offline.png"),
    };
    Image::from_bytes(bytes).ok()
}

fn menu(handle: &AppHandle, chats: &[TrayChat], spanish: bool) -> tauri::Result<Menu<Wry>> {
    let texts = if spanish { &MENU_ES } else { &MENU_EN };
    let menu = Menu::new(handle)?;
    menu.append(&MenuItem::with_id(
        handle,
        SHOW,
        texts.show,
        true,
        None::<&str>,
    )?)?;
    let (shown, more) = menu_lines(chats, texts);
    if !shown.is_empty() {
        menu.append(&PredefinedMenuItem::separator(handle)?)?;
        for chat in &shown {
            let id = format!("{CHAT_PREFIX}{}", chat.conversation_id);
            menu.append(&MenuItem::with_id(
                handle,
                id,
                &chat.label,
                true,
                None::<&str>,
            )?)?;
        }
        if let Some(more) = more {
            menu.append(&MenuItem::with_id(
                handle,
                "more",
                more,
                false,
                None::<&str>,
            )?)?;
        }
        menu.append(&PredefinedMenuItem::separator(handle)?)?;
    }
    menu.append(&MenuItem::with_id(
        handle,
        QUIT,
        texts.quit,
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

/// What a click in the tray menu asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuAction {
    Show,
    Quit,
    OpenChat(i64),
    None,
}

pub fn menu_action(id: &str) -> MenuAction {
    match id {
        SHOW => MenuAction::Show,
        QUIT => MenuAction::Quit,
        other => chat_of_menu_id(other).map_or(MenuAction::None, MenuAction::OpenChat),
    }
}

/// Builds the tray (offline, no chats) with `on_menu` for its clicks.
pub fn build(
    handle: &AppHandle,
    spanish: bool,
    on_menu: impl Fn(&AppHandle, MenuAction) + Send + Sync + 'static,
) -> tauri::Result<TrayIcon> {
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(tooltip(Activity::Offline, 0))
        .menu(&menu(handle, &[], spanish)?)
        .on_menu_event(move |app, event| on_menu(app, menu_action(event.id.as_ref())));
    if let Some(image) = image(Activity::Offline) {
        builder = builder.icon(image);
    }
    builder.build(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ConversationStateView;

    fn conversation(id: i64, name: Option<&str>, profile: &str, unread: u32) -> ConversationView {
        ConversationView {
            id,
            phone_number_id: "1234".into(),
            business_number: "+52 55 1000 2000".into(),
            customer: "+5215512345678".into(),
            customer_name: name.map(str::to_owned),
            profile_name: profile.into(),
            queue: "ventas".into(),
            state: ConversationStateView::Open,
            agent_id: Some(7),
            agent_name: Some("Ana".into()),
            mine: true,
            unread,
            last_message_at: 0,
            preview: "hola".into(),
            preview_kind: "text".into(),
            preview_outgoing: false,
            window_ends_at: None,
            window_open: true,
            pending_sends: 0,
        }
    }

    #[test]
    fn a_chat_is_listed_by_its_crm_name_else_its_profile_else_its_number() {
        let label = |c: &ConversationView| TrayChat::from_view(c).label;
        assert_eq!(
            label(&conversation(4, Some("Lucía Quesada"), "Lu", 2)),
            "Lucía Quesada · +5215512345678 (2)"
        );
        assert_eq!(
            label(&conversation(4, Some(" "), "Lu", 0)),
            "Lu · +5215512345678"
        );
        assert_eq!(label(&conversation(4, None, "", 0)), "+5215512345678");
        assert_eq!(
            TrayChat::from_view(&conversation(9, None, "", 0)).conversation_id,
            9
        );
    }

    #[test]
    fn untrusted_names_become_plain_bounded_labels() {
        assert_eq!(
            TrayChat::from_view(&conversation(1, Some("Ana\n&\tJuan_"), "", 0)).label,
            "Ana && Juan_ · +5215512345678"
        );
        let long = "x".repeat(200);
        let label = TrayChat::from_view(&conversation(1, Some(&long), "", 0)).label;
        assert_eq!(label.chars().count(), LABEL_CHARS);
        assert!(label.ends_with('…'));
    }

    #[test]
    fn menu_ids_name_the_chat() {
        assert_eq!(menu_action("chat:42"), MenuAction::OpenChat(42));
        assert_eq!(menu_action("show"), MenuAction::Show);
        assert_eq!(menu_action("quit"), MenuAction::Quit);
        for other in ["chat:", "chat:x", "chat:1 ", "more", ""] {
            assert_eq!(menu_action(other), MenuAction::None, "{other:?}");
        }
    }

    #[test]
    fn the_title_and_tooltip_count_waiting_chats() {
        assert_eq!(title(0), None);
        assert_eq!(title(3), Some("3".into()));
        assert_eq!(
            tooltip(Activity::Idle, 0),
            "Enlace — disponible / available"
        );
        assert_eq!(
            tooltip(Activity::Idle, 1),
            "Enlace — disponible / available · 1 chat en espera / 1 chat waiting"
        );
        assert_eq!(
            tooltip(Activity::InCall, 12),
            "Enlace — en llamada / in a call · 12 chats en espera / 12 chats waiting"
        );
    }

    #[test]
    fn the_menu_lists_ten_chats_and_counts_the_rest() {
        let chats: Vec<TrayChat> = (0..13)
            .map(|i| TrayChat {
                conversation_id: i,
                label: format!("c{i}"),
            })
            .collect();
        let (shown, more) = menu_lines(&chats, &MENU_ES);
        assert_eq!(shown.len(), MENU_CHATS);
        assert_eq!(shown[0].conversation_id, 0);
        assert_eq!(more.as_deref(), Some("y 3 chats más en Omnicanalidad"));
        let (shown, more) = menu_lines(&chats[..2], &MENU_EN);
        assert_eq!(shown.len(), 2);
        assert_eq!(more, None);
    }
}
