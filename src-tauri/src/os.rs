//! Adapters from the shell to `enlace-os`: the tel:/callto: handler, the incoming-call
//! notification and the doctor, converted to wire types.

use std::time::Duration;

use enlace_app::doctor::DoctorLine;
use enlace_app::DemoLine;
use enlace_os::{doctor as checks, handler, notify};

use crate::channel::BuildChannel;
use crate::wire::{ConversationView, HandlerScheme, HandlerStatusView, WireError};

pub use enlace_os::notify::{CallNotification as NotificationHandle, NotificationAction};

pub type HandlerSpecOwned = handler::HandlerSpec;

/// Translated texts of the incoming-call notification.
#[derive(Debug)]
pub struct NotifyTexts {
    pub summary: &'static str,
    pub answer: &'static str,
    pub reject: &'static str,
}

pub const NOTIFY_ES: NotifyTexts = NotifyTexts {
    summary: "Llamada entrante",
    answer: "Contestar",
    reject: "Rechazar",
};
pub const NOTIFY_EN: NotifyTexts = NotifyTexts {
    summary: "Incoming call",
    answer: "Answer",
    reject: "Reject",
};

#[derive(Debug, Clone)]
pub struct IncomingNotification {
    pub caller_name: Option<String>,
    pub number: String,
}

/// Show the incoming-call notification (blocking: a D-Bus round trip).
pub fn show_incoming(
    call: &IncomingNotification,
    texts: &NotifyTexts,
    on_action: impl FnOnce(NotificationAction) + Send + 'static,
) -> Result<NotificationHandle, notify::NotifyError> {
    let incoming = notify::IncomingCall {
        summary: texts.summary.to_owned(),
        caller_name: call.caller_name.clone(),
        number: call.number.clone(),
        answer_label: texts.answer.to_owned(),
        reject_label: texts.reject.to_owned(),
    };
    notify::show_incoming_call(&incoming, Box::new(on_action))
}

/// The chat notification: the customer's CRM name (else their WhatsApp name, else their
/// number) as the summary, the message preview as the body ("assigned to you" when the
/// conversation was assigned without a new message).
pub fn chat_notification(
    conversation: &ConversationView,
    preview: &str,
    spanish: bool,
) -> notify::ChatMessage {
    let named = |n: &str| Some(n.trim().to_owned()).filter(|n| !n.is_empty());
    let summary = conversation
        .customer_name
        .as_deref()
        .and_then(named)
        .or_else(|| named(&conversation.profile_name))
        .unwrap_or_else(|| conversation.customer.clone());
    let body = match named(preview) {
        Some(p) => p,
        None if spanish => "Conversación asignada a ti".to_owned(),
        None => "Conversation assigned to you".to_owned(),
    };
    notify::ChatMessage { summary, body }
}

/// Show a chat notification (blocking: a D-Bus round trip).
pub fn show_chat(
    message: &notify::ChatMessage,
    on_action: impl FnOnce(NotificationAction) + Send + 'static,
) -> Result<NotificationHandle, notify::NotifyError> {
    notify::show_chat_message(message, Box::new(on_action))
}

pub fn handler_spec(channel: BuildChannel) -> HandlerSpecOwned {
    let id = match channel {
        BuildChannel::Dev => handler::DEV_DESKTOP_ID,
        BuildChannel::Release => handler::RELEASE_DESKTOP_ID,
    };
    let exe = std::env::current_exe().unwrap_or_default();
    let mut spec = handler::HandlerSpec::new(id, link_program(exe));
    if channel == BuildChannel::Dev {
        spec.name = "Enlace Dev".to_owned();
    }
    // Installed from the package: its entry (`Enlace.desktop`) is the handler.
    spec.adopt_installed_entry()
}

/// The program links start: `enlace-open` beside the app when it is there (it hands the link
/// to the running app without loading GTK or WebKit), else the app itself.
fn link_program(app: std::path::PathBuf) -> std::path::PathBuf {
    let forwarder = app.with_file_name(if cfg!(windows) {
        "enlace-open.exe"
    } else {
        "enlace-open"
    });
    if forwarder.is_file() {
        forwarder
    } else {
        app
    }
}

fn view(status: handler::HandlerStatus) -> HandlerStatusView {
    let mut details: Vec<String> = status.detail.into_iter().collect();
    let schemes = status
        .schemes
        .into_iter()
        .map(|s| {
            details.extend(s.detail);
            HandlerScheme {
                scheme: s.scheme.as_str().to_owned(),
                registered: s.registered,
            }
        })
        .collect();
    HandlerStatusView {
        schemes,
        can_register: status.can_register,
        detail: if details.is_empty() {
            None
        } else {
            Some(details.join("; "))
        },
    }
}

pub fn handler_view(spec: &HandlerSpecOwned) -> HandlerStatusView {
    view(handler::status(spec))
}

pub fn register_handler(spec: &HandlerSpecOwned) -> Result<HandlerStatusView, WireError> {
    handler::register(spec).map(view).map_err(|e| WireError {
        code: enlace_core::ErrorCode::HandlerFailed.as_str().to_owned(),
        message: format!("{e} ({})", e.code()),
        field: None,
        retry_after_seconds: None,
    })
}

/// Why a link or a file was not opened: `unsupported_scheme` for anything but an http(s) link
/// or an existing file, `internal` when the opener could not start.
pub fn open_error(e: enlace_os::browser::BrowserError) -> WireError {
    use enlace_os::browser::BrowserError;
    match e {
        BrowserError::NotWeb | BrowserError::NotFile => WireError {
            code: enlace_core::ErrorCode::UnsupportedScheme
                .as_str()
                .to_owned(),
            message: e.to_string(),
            field: None,
            retry_after_seconds: None,
        },
        BrowserError::Failed(_) => internal(e),
    }
}

/// A request the shell cannot read (`invalid_request`).
pub fn invalid_request(message: &str) -> WireError {
    WireError {
        code: enlace_core::ErrorCode::InvalidRequest.as_str().to_owned(),
        message: message.to_owned(),
        field: None,
        retry_after_seconds: None,
    }
}

/// A file name sent percent-encoded in a header (header values are ASCII; names are not):
/// decoded, `None` when absent, not UTF-8 or empty.
pub fn header_file_name(value: Option<&tauri::http::HeaderValue>) -> Option<String> {
    let raw = value?.to_str().ok()?;
    let name = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!name.trim().is_empty()).then_some(name)
}

/// Agregar archivo: the OS's file dialog (GTK on Linux), opening in the Documents folder,
/// run on a blocking thread; the picked path, or `None` when the agent cancels.
pub async fn pick_file(handle: tauri::AppHandle) -> Option<std::path::PathBuf> {
    use tauri::Manager;
    use tauri_plugin_dialog::DialogExt;
    tauri::async_runtime::spawn_blocking(move || {
        let mut dialog = handle.dialog().file();
        if let Ok(documents) = handle.path().document_dir() {
            dialog = dialog.set_directory(documents);
        }
        if let Some(window) = handle.get_webview_window("main") {
            dialog = dialog.set_parent(&window);
        }
        dialog.blocking_pick_file()?.into_path().ok()
    })
    .await
    .ok()
    .flatten()
}

pub fn internal(e: impl std::fmt::Display) -> WireError {
    WireError {
        code: "internal".to_owned(),
        message: e.to_string(),
        field: None,
        retry_after_seconds: None,
    }
}

/// How long the doctor waits for the phone line to answer.
const LINE_ANSWER: Duration = Duration::from_secs(5);

/// All checks of `enlace doctor`.
pub fn doctor(channel: BuildChannel) -> checks::DoctorReport {
    let spec = handler_spec(channel);
    let mut all = checks::check_handlers(&handler::status(&spec));
    let secrets = enlace_secrets::SecretStore::new(channel.secrets());
    let demo = std::env::var("ENLACE_DEMO_LINE")
        .ok()
        .and_then(|d| DemoLine::parse(&d));
    let line = enlace_app::doctor::doctor_line(&channel.data_dir(), &secrets, demo.as_ref());
    all.push(phone_line(line));
    all.push(checks::check_keyring(|| {
        checks::probe_keyring(channel.secrets())
    }));
    all.push(checks::check_notifications(notify::probe_server));
    checks::DoctorReport::new(all)
}

/// Asks the line itself: baresip a command (unless a program, such as the running Enlace,
/// holds its only control connection), the hub its session and stream.
fn phone_line(line: DoctorLine) -> checks::Check {
    use checks::{LineProbe, PhoneLine};
    let answer = |r: Result<String, String>| r.map_or_else(LineProbe::Failed, LineProbe::Answered);
    match line {
        DoctorLine::Baresip(addr) => {
            let address = addr.to_string();
            checks::check_phone_line(
                PhoneLine::Baresip {
                    ctrl_address: &address,
                },
                || {
                    if checks::server_has_client(addr) == Some(true) {
                        return LineProbe::NotAsked(
                        "a program (the running Enlace?) is connected to it, and baresip keeps \
                         one control connection: asking would drop it"
                            .to_owned(),
                    );
                    }
                    answer(enlace_app::doctor::ask_baresip(addr, LINE_ANSWER))
                },
            )
        }
        DoctorLine::Hub { client, token } => checks::check_phone_line(
            PhoneLine::Hub {
                server: client.base_url(),
            },
            || answer(enlace_app::doctor::ask_hub(&client, &token, LINE_ANSWER)),
        ),
        DoctorLine::HubNotLoggedIn { server } => {
            checks::check_phone_line(PhoneLine::HubNotLoggedIn { server: &server }, || {
                LineProbe::NotAsked(String::new())
            })
        }
        DoctorLine::HandOff => {
            checks::check_phone_line(PhoneLine::HandOff, || LineProbe::NotAsked(String::new()))
        }
        DoctorLine::None => checks::check_phone_line(PhoneLine::NotConfigured, || {
            LineProbe::NotAsked(String::new())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ConversationStateView;

    #[test]
    fn a_pasted_files_name_arrives_percent_encoded() {
        let header = |v: &str| tauri::http::HeaderValue::from_str(v).unwrap();
        assert_eq!(
            header_file_name(Some(&header("captura%20de%20pantalla%20%C3%B1.png"))).as_deref(),
            Some("captura de pantalla ñ.png")
        );
        assert_eq!(header_file_name(None), None);
        assert_eq!(header_file_name(Some(&header(""))), None);
        assert_eq!(header_file_name(Some(&header("%20"))), None);
        // Not UTF-8 once decoded.
        assert_eq!(header_file_name(Some(&header("%FF.png"))), None);
        let e = invalid_request("no file name");
        assert_eq!(e.code, "invalid_request");
    }

    fn conversation(name: Option<&str>, profile: &str) -> ConversationView {
        ConversationView {
            id: 4,
            phone_number_id: "1234".into(),
            business_number: String::new(),
            customer: "+5215512345678".into(),
            customer_name: name.map(str::to_owned),
            profile_name: profile.into(),
            queue: "ventas".into(),
            state: ConversationStateView::Open,
            agent_id: None,
            agent_name: None,
            mine: true,
            unread: 1,
            last_message_at: 0,
            preview: String::new(),
            preview_kind: "text".into(),
            preview_outgoing: false,
            window_ends_at: None,
            window_open: true,
            pending_sends: 0,
        }
    }

    #[test]
    fn a_chat_notification_names_the_customer_and_shows_the_preview() {
        let n = chat_notification(
            &conversation(Some("Lucía Quesada"), "Lu"),
            " ¿Hay envío? ",
            true,
        );
        assert_eq!(n.summary, "Lucía Quesada");
        assert_eq!(n.body, "¿Hay envío?");
        let n = chat_notification(&conversation(Some(""), "Lu"), "hola", true);
        assert_eq!(n.summary, "Lu");
        let n = chat_notification(&conversation(None, " "), "", false);
        assert_eq!(n.summary, "+5215512345678");
        assert_eq!(n.body, "Conversation assigned to you");
        let n = chat_notification(&conversation(None, ""), "", true);
        assert_eq!(n.body, "Conversación asignada a ti");
    }

    #[test]
    fn only_web_links_and_files_are_opened() {
        use enlace_os::browser::BrowserError;
        assert_eq!(open_error(BrowserError::NotWeb).code, "unsupported_scheme");
        assert_eq!(open_error(BrowserError::NotFile).code, "unsupported_scheme");
        assert_eq!(
            open_error(BrowserError::Failed("x".into())).code,
            "internal"
        );
    }
}
