//! The incoming-call and chat-message desktop notifications and a probe of the notification
//! server.
//!
//! On freedesktop systems the notification goes over D-Bus (`org.freedesktop.Notifications`)
//! through notify-rust: app name `Enlace`, urgency critical, category [`CALL_CATEGORY`], the
//! action keys [`ACTION_ANSWER`] and [`ACTION_REJECT`] (plus `default`, invoked when the
//! notification itself is clicked) when the server lists the `actions` capability. The user's
//! response is delivered exactly once to a callback, from a thread of its own that waits on the
//! handle's own D-Bus connection (dunst and others send `ActionInvoked` only to the connection
//! that sent `Notify`; this needs notify-rust's default zbus backend, feature `z`). If the server
//! never answers (e.g. it crashed), that thread waits until the session bus goes away.
//!
//! All calls block on D-Bus round trips; call them off the UI thread (e.g. `spawn_blocking`).
//! Texts arrive already translated: this crate has no i18n.

use std::sync::{Arc, Mutex};

/// Notification category hint of incoming calls (vendor-specific, per the spec's `x-` rule).
pub const CALL_CATEGORY: &str = "x-enlace.call";
/// Notification category hint of a chat message (the specification's own category).
pub const CHAT_CATEGORY: &str = "im.received";
/// Action key of the answer button.
pub const ACTION_ANSWER: &str = "answer";
/// Action key of the reject button.
pub const ACTION_REJECT: &str = "reject";
/// Action key the server invokes when the notification body is clicked.
pub const ACTION_DEFAULT: &str = "default";
/// App name sent with every notification.
pub const APP_NAME: &str = "Enlace";

/// What the user did with an incoming-call notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationAction {
    /// The answer button.
    Answer,
    /// The reject button.
    Reject,
    /// The notification itself was clicked (the `default` action): bring the window forward.
    Focus,
    /// It went away without a choice: dismissed, expired, or withdrawn with
    /// [`CallNotification::close`].
    Dismissed,
}

impl NotificationAction {
    /// Maps a D-Bus action key; unknown keys count as a click on the notification.
    pub fn from_key(key: &str) -> Self {
        match key {
            ACTION_ANSWER => NotificationAction::Answer,
            ACTION_REJECT => NotificationAction::Reject,
            _ => NotificationAction::Focus,
        }
    }
}

/// Receives the user's response, once.
pub type ActionCallback = Box<dyn FnOnce(NotificationAction) + Send>;

/// An incoming call to announce. Texts are already translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    /// Summary line, e.g. "Llamada entrante" / "Incoming call".
    pub summary: String,
    /// The caller's name when known (CRM or caller id); untrusted.
    pub caller_name: Option<String>,
    /// The caller's number as displayed; untrusted.
    pub number: String,
    /// Label of the answer button, e.g. "Contestar".
    pub answer_label: String,
    /// Label of the reject button, e.g. "Rechazar".
    pub reject_label: String,
}

/// A chat message to announce (a customer wrote, or a conversation was assigned). Texts are
/// already worded; both are untrusted (the customer chose them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// The customer's name or number.
    pub summary: String,
    /// A preview of the message.
    pub body: String,
}

/// Name, vendor, version and capabilities of the running notification server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// e.g. `dunst`.
    pub name: String,
    /// e.g. `knopwob`.
    pub vendor: String,
    /// e.g. `1.9.0`.
    pub version: String,
    /// Version of the notification specification, e.g. `1.2`.
    pub spec_version: String,
    /// e.g. `actions`, `body`, `body-markup`.
    pub capabilities: Vec<String>,
}

impl ServerInfo {
    /// The server shows action buttons.
    pub fn supports_actions(&self) -> bool {
        self.has("actions")
    }

    /// The server interprets the body as markup (so it must be escaped).
    pub fn supports_body_markup(&self) -> bool {
        self.has("body-markup")
    }

    fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// Why a notification could not be shown or the server not be reached. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Nobody answers `org.freedesktop.Notifications` on the session bus (or there is no bus).
    #[error("no notification server on the session bus: {0}")]
    NoServer(String),
    /// The server refused or failed the `Notify` call.
    #[error("the notification could not be shown: {0}")]
    Show(String),
    /// This platform has no server to probe.
    #[error("notification servers cannot be probed on this system")]
    Unsupported,
}

impl NotifyError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            NotifyError::NoServer(_) => "notify_no_server",
            NotifyError::Show(_) => "notify_show",
            NotifyError::Unsupported => "notify_unsupported",
        }
    }
}

/// The notification body: the caller's name (when known) on the first line, the number on the
/// second; markup characters escaped when the server reads markup.
pub fn call_body(caller_name: Option<&str>, number: &str, escape_markup: bool) -> String {
    let esc = |s: &str| {
        if escape_markup {
            escape_markup_text(s)
        } else {
            s.to_owned()
        }
    };
    match caller_name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{}\n{}", esc(name), esc(number.trim())),
        None => esc(number.trim()),
    }
}

fn escape_markup_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The callback, shared by the waiting thread and [`CallNotification::close`], so it runs once.
#[derive(Clone)]
struct Once(Arc<Mutex<Option<ActionCallback>>>);

impl Once {
    fn new(callback: ActionCallback) -> Self {
        Once(Arc::new(Mutex::new(Some(callback))))
    }

    fn deliver(&self, action: NotificationAction) {
        let callback = match self.0.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(callback) = callback {
            callback(action);
        }
    }
}

impl std::fmt::Debug for Once {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Once(..)")
    }
}

/// A shown incoming-call notification. Keep it while the call rings; [`close`](Self::close) it
/// when the call stops ringing. Dropping it leaves the notification on screen.
#[derive(Debug)]
pub struct CallNotification {
    id: u32,
    actions: bool,
    callback: Once,
    #[cfg(all(unix, not(target_os = "macos")))]
    handle: Mutex<Option<Arc<notify_rust::NotificationHandle>>>,
}

impl CallNotification {
    /// The server's notification id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The notification carries answer/reject buttons (the server supports actions).
    pub fn has_actions(&self) -> bool {
        self.actions
    }

    /// Withdraws the notification (`CloseNotification`) and delivers
    /// [`NotificationAction::Dismissed`] unless the user already chose something. Idempotent.
    pub fn close(&self) {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            let handle = match self.handle.lock() {
                Ok(mut slot) => slot.take(),
                Err(poisoned) => poisoned.into_inner().take(),
            };
            if let Some(handle) = handle {
                platform::close(&handle);
            }
        }
        self.callback.deliver(NotificationAction::Dismissed);
    }
}

/// Shows a chat-message notification; `on_action` later receives [`NotificationAction::Focus`]
/// when it is clicked (servers with the `actions` capability), or
/// [`NotificationAction::Dismissed`], once, on another thread.
pub fn show_chat_message(
    message: &ChatMessage,
    on_action: ActionCallback,
) -> Result<CallNotification, NotifyError> {
    platform::show_chat_message(message, on_action)
}

/// Asks the notification server who it is and what it can do (for `enlace doctor`).
pub fn probe_server() -> Result<ServerInfo, NotifyError> {
    platform::probe_server()
}

/// Shows the incoming-call notification; `on_action` later receives exactly one
/// [`NotificationAction`], on another thread.
pub fn show_incoming_call(
    call: &IncomingCall,
    on_action: ActionCallback,
) -> Result<CallNotification, NotifyError> {
    platform::show_incoming_call(call, on_action)
}

#[cfg(all(unix, not(target_os = "macos")))]
mod platform {
    use super::*;
    use notify_rust::{Hint, Notification, NotificationResponse, Timeout, Urgency};

    pub(super) fn probe_server() -> Result<ServerInfo, NotifyError> {
        let info = notify_rust::get_server_information()
            .map_err(|e| NotifyError::NoServer(e.to_string()))?;
        let capabilities =
            notify_rust::get_capabilities().map_err(|e| NotifyError::NoServer(e.to_string()))?;
        Ok(ServerInfo {
            name: info.name,
            vendor: info.vendor,
            version: info.version,
            spec_version: info.spec_version,
            capabilities,
        })
    }

    pub(super) fn show_incoming_call(
        call: &IncomingCall,
        on_action: ActionCallback,
    ) -> Result<CallNotification, NotifyError> {
        let capabilities =
            notify_rust::get_capabilities().map_err(|e| NotifyError::NoServer(e.to_string()))?;
        let server = ServerInfo {
            name: String::new(),
            vendor: String::new(),
            version: String::new(),
            spec_version: String::new(),
            capabilities,
        };
        let actions = server.supports_actions();
        let body = call_body(
            call.caller_name.as_deref(),
            &call.number,
            server.supports_body_markup(),
        );

        let mut n = Notification::new();
        n.appname(APP_NAME)
            .summary(&call.summary)
            .body(&body)
            .icon("call-start")
            .hint(Hint::Category(CALL_CATEGORY.to_owned()))
            .urgency(Urgency::Critical)
            .timeout(Timeout::Never);
        if actions {
            n.action(ACTION_DEFAULT, &call.summary)
                .action(ACTION_ANSWER, &call.answer_label)
                .action(ACTION_REJECT, &call.reject_label);
        }
        show_and_wait(&n, actions, on_action)
    }

    pub(super) fn show_chat_message(
        message: &ChatMessage,
        on_action: ActionCallback,
    ) -> Result<CallNotification, NotifyError> {
        let capabilities =
            notify_rust::get_capabilities().map_err(|e| NotifyError::NoServer(e.to_string()))?;
        let actions = capabilities.iter().any(|c| c == "actions");
        let markup = capabilities.iter().any(|c| c == "body-markup");
        let body = if markup {
            escape_markup_text(message.body.trim())
        } else {
            message.body.trim().to_owned()
        };
        let mut n = Notification::new();
        n.appname(APP_NAME)
            .summary(message.summary.trim())
            .body(&body)
            .icon("mail-unread")
            .hint(Hint::Category(CHAT_CATEGORY.to_owned()))
            .urgency(Urgency::Normal);
        if actions {
            n.action(ACTION_DEFAULT, message.summary.trim());
        }
        show_and_wait(&n, actions, on_action)
    }

    /// Shows `n` and waits for the user's response on a thread of its own.
    fn show_and_wait(
        n: &Notification,
        actions: bool,
        on_action: ActionCallback,
    ) -> Result<CallNotification, NotifyError> {
        let handle = Arc::new(n.show().map_err(|e| NotifyError::Show(e.to_string()))?);
        let id = handle.id();
        let callback = Once::new(on_action);

        // Servers such as dunst send ActionInvoked / NotificationClosed only to the connection
        // that sent Notify, so the wait runs on the handle's own connection; `close()` shares
        // the handle (both calls take `&self`).
        let waiter = callback.clone();
        let waiting = Arc::clone(&handle);
        let spawned = std::thread::Builder::new()
            .name(format!("notification-{id}"))
            .spawn(move || {
                block_on(
                    waiting.wait_for_action_async(|response: &NotificationResponse| {
                        let action = match response {
                            NotificationResponse::Default => NotificationAction::Focus,
                            NotificationResponse::Action(key) => NotificationAction::from_key(key),
                            NotificationResponse::Reply(_) => NotificationAction::Focus,
                            NotificationResponse::Closed(_) => NotificationAction::Dismissed,
                        };
                        waiter.deliver(action);
                    }),
                );
            });
        if let Err(e) = spawned {
            tracing::warn!(id, "cannot wait for the notification's action: {e}");
        }
        Ok(CallNotification {
            id,
            actions,
            callback,
            handle: Mutex::new(Some(handle)),
        })
    }

    pub(super) fn close(handle: &notify_rust::NotificationHandle) {
        block_on(handle.close_async());
    }

    /// Wakes the thread blocked in [`block_on`].
    struct Unpark(std::thread::Thread);

    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Runs a future to completion on this thread (zbus drives its socket on a thread of its
    /// own, so parking here is enough).
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        loop {
            if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
mod platform {
    use super::*;
    use notify_rust::Notification;

    pub(super) fn probe_server() -> Result<ServerInfo, NotifyError> {
        Err(NotifyError::Unsupported)
    }

    /// Windows/macOS: a plain notification (clicks are not reported).
    pub(super) fn show_chat_message(
        message: &ChatMessage,
        on_action: ActionCallback,
    ) -> Result<CallNotification, NotifyError> {
        Notification::new()
            .appname(APP_NAME)
            .summary(message.summary.trim())
            .body(message.body.trim())
            .show()
            .map_err(|e| NotifyError::Show(e.to_string()))?;
        Ok(CallNotification {
            id: 0,
            actions: false,
            callback: Once::new(on_action),
        })
    }

    /// Windows/macOS: a plain notification (no buttons); the in-app incoming card answers.
    pub(super) fn show_incoming_call(
        call: &IncomingCall,
        on_action: ActionCallback,
    ) -> Result<CallNotification, NotifyError> {
        let body = call_body(call.caller_name.as_deref(), &call.number, false);
        Notification::new()
            .appname(APP_NAME)
            .summary(&call.summary)
            .body(&body)
            .show()
            .map_err(|e| NotifyError::Show(e.to_string()))?;
        Ok(CallNotification {
            id: 0,
            actions: false,
            callback: Once::new(on_action),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn body_has_name_then_number_and_escapes_markup() {
        assert_eq!(
            call_body(Some("Ana Pérez"), "+506 4000 4000", true),
            "Ana Pérez\n+506 4000 4000"
        );
        assert_eq!(call_body(Some("  "), " 4000 ", true), "4000");
        assert_eq!(call_body(None, "4000", false), "4000");
        assert_eq!(
            call_body(Some("<b>A&B</b>"), "1", true),
            "&lt;b&gt;A&amp;B&lt;/b&gt;\n1"
        );
        assert_eq!(call_body(Some("<b>A&B</b>"), "1", false), "<b>A&B</b>\n1");
    }

    #[test]
    fn action_keys_map() {
        assert_eq!(
            NotificationAction::from_key("answer"),
            NotificationAction::Answer
        );
        assert_eq!(
            NotificationAction::from_key("reject"),
            NotificationAction::Reject
        );
        assert_eq!(
            NotificationAction::from_key("default"),
            NotificationAction::Focus
        );
    }

    #[test]
    fn callback_runs_once() {
        let (tx, rx) = mpsc::channel();
        let once = Once::new(Box::new(move |a| tx.send(a).unwrap()));
        once.clone().deliver(NotificationAction::Answer);
        once.deliver(NotificationAction::Dismissed);
        assert_eq!(rx.recv().unwrap(), NotificationAction::Answer);
        assert!(
            rx.recv().is_err(),
            "the callback must have been dropped after one call"
        );
    }

    #[test]
    fn a_notification_can_live_in_shared_app_state() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<CallNotification>();
        send_sync::<NotifyError>();
    }

    #[test]
    fn capabilities() {
        let info = ServerInfo {
            name: "dunst".into(),
            vendor: "knopwob".into(),
            version: "1.9.0".into(),
            spec_version: "1.2".into(),
            capabilities: vec!["actions".into(), "body".into()],
        };
        assert!(info.supports_actions());
        assert!(!info.supports_body_markup());
        assert_eq!(NotifyError::NoServer("x".into()).code(), "notify_no_server");
    }
}
