//! Adapters from the shell to `enlace-os`: the tel:/callto: handler, the incoming-call
//! notification and the doctor, converted to wire types.

use std::net::SocketAddr;
use std::time::Duration;

use enlace_app::LineKind;
use enlace_os::{doctor as checks, handler, notify};

use crate::channel::BuildChannel;
use crate::wire::{HandlerScheme, HandlerStatusView, WireError};

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

pub fn handler_spec(channel: BuildChannel) -> HandlerSpecOwned {
    let id = match channel {
        BuildChannel::Dev => handler::DEV_DESKTOP_ID,
        BuildChannel::Release => handler::RELEASE_DESKTOP_ID,
    };
    let exe = std::env::current_exe().unwrap_or_default();
    let mut spec = handler::HandlerSpec::new(id, exe);
    if channel == BuildChannel::Dev {
        spec.name = "Enlace Dev".to_owned();
    }
    spec
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

pub fn internal(e: impl std::fmt::Display) -> WireError {
    WireError {
        code: "internal".to_owned(),
        message: e.to_string(),
        field: None,
        retry_after_seconds: None,
    }
}

/// Is something listening on a loopback TCP port? Read from the kernel's socket table, so the
/// check does not take baresip's single ctrl_tcp client slot away from a running Enlace.
#[cfg(target_os = "linux")]
fn loopback_listening(addr: SocketAddr) -> Option<bool> {
    if !addr.ip().is_loopback() {
        return None;
    }
    let port = format!(":{:04X}", addr.port());
    let mut any_table = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        any_table = true;
        let listening = text.lines().skip(1).any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is column 1, st (state) column 3; 0A = LISTEN
            cols.get(1).is_some_and(|local| local.ends_with(&port)) && cols.get(3) == Some(&"0A")
        });
        if listening {
            return Some(true);
        }
    }
    any_table.then_some(false)
}

#[cfg(not(target_os = "linux"))]
fn loopback_listening(_addr: SocketAddr) -> Option<bool> {
    None
}

fn probe_phone_line(address: &str) -> Result<(), String> {
    let addr: SocketAddr = address
        .parse()
        .map_err(|_| format!("{address:?} is not an address"))?;
    match loopback_listening(addr) {
        Some(true) => Ok(()),
        Some(false) => Err("nothing listens on that port".to_owned()),
        None => checks::check_tcp(address, Duration::from_secs(2)),
    }
}

/// All checks of `enlace doctor`.
pub fn doctor(channel: BuildChannel) -> checks::DoctorReport {
    let spec = handler_spec(channel);
    let mut all = checks::check_handlers(&handler::status(&spec));
    let settings = enlace_app::settings::saved_settings(&channel.data_dir()).unwrap_or_default();
    let demo = std::env::var("ENLACE_DEMO_LINE").ok();
    let line = match settings.line_kind {
        LineKind::Baresip => checks::PhoneLine::Baresip {
            ctrl_address: &settings.baresip_ctrl_address,
        },
        LineKind::HandOff => checks::PhoneLine::HandOff,
        LineKind::None | LineKind::Hub => {
            match demo.as_deref().and_then(|d| d.split_whitespace().next()) {
                Some(ctrl) => checks::PhoneLine::Baresip { ctrl_address: ctrl },
                None => checks::PhoneLine::NotConfigured,
            }
        }
    };
    let address = match line {
        checks::PhoneLine::Baresip { ctrl_address } => ctrl_address.to_owned(),
        _ => String::new(),
    };
    all.push(checks::check_phone_line(line, || {
        probe_phone_line(&address)
    }));
    all.push(checks::check_keyring(|| {
        checks::probe_keyring(channel.secrets())
    }));
    all.push(checks::check_notifications(notify::probe_server));
    checks::DoctorReport::new(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_listener_is_seen_without_connecting() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(probe_phone_line(&addr.to_string()), Ok(()));
        drop(listener);
        assert!(probe_phone_line(&addr.to_string()).is_err());
        assert!(probe_phone_line("not an address").is_err());
    }
}
