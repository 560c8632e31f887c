//! The checks behind `enlace doctor` and the Settings check list: is Enlace the `tel:` and
//! `callto:` handler, does the phone line answer, is there a keyring, can notifications be
//! shown. Each check is built from a probe's outcome, so the texts are unit-tested without the
//! probes and the caller decides when (and on which thread) a probe runs.
//!
//! Typical assembly (in the shell or the CLI):
//! ```no_run
//! use std::time::Duration;
//! use enlace_os::doctor::*;
//! use enlace_os::{handler, notify};
//!
//! let spec = handler::HandlerSpec::new(handler::DEV_DESKTOP_ID, "/opt/enlace/enlace");
//! let ctrl = "127.0.0.1:4444";
//! let mut checks = check_handlers(&handler::status(&spec));
//! checks.push(check_phone_line(PhoneLine::Baresip { ctrl_address: ctrl }, || {
//!     check_tcp(ctrl, Duration::from_secs(2))
//! }));
//! checks.push(check_keyring(|| probe_keyring(enlace_secrets::Channel::Dev)));
//! checks.push(check_notifications(notify::probe_server));
//! print!("{}", DoctorReport::new(checks).render_text());
//! ```

use std::fmt;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use enlace_secrets::{Channel, SecretsError};

use crate::handler::{HandlerStatus, Scheme};
use crate::notify::{NotifyError, ServerInfo};

/// What a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckName {
    /// Enlace is the default `tel:` handler.
    HandlerTel,
    /// Enlace is the default `callto:` handler.
    HandlerCallto,
    /// The configured phone line answers.
    PhoneLine,
    /// An OS keyring is available for the CRM tokens.
    Keyring,
    /// A notification server is available.
    Notifications,
}

impl CheckName {
    /// Stable key (for the UI's i18n and for scripts).
    pub fn key(self) -> &'static str {
        match self {
            CheckName::HandlerTel => "handler_tel",
            CheckName::HandlerCallto => "handler_callto",
            CheckName::PhoneLine => "phone_line",
            CheckName::Keyring => "keyring",
            CheckName::Notifications => "notifications",
        }
    }

    /// English label used by [`DoctorReport::render_text`].
    pub fn label(self) -> &'static str {
        match self {
            CheckName::HandlerTel => "tel: handler",
            CheckName::HandlerCallto => "callto: handler",
            CheckName::PhoneLine => "phone line",
            CheckName::Keyring => "keyring",
            CheckName::Notifications => "notifications",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: CheckName,
    /// It is fine.
    pub ok: bool,
    /// What was found (one line).
    pub detail: String,
    /// What the user can do, when not ok (and sometimes a caveat when ok).
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: CheckName, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn problem(name: CheckName, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Check {
    /// `ok      tel: handler — Enlace is the default` /
    /// `problem keyring — no Secret Service … — fix: …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.ok { "ok" } else { "problem" };
        write!(f, "{status:<8}{} — {}", self.name.label(), self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, " — fix: {fix}")?;
        }
        Ok(())
    }
}

/// Every check of one doctor run, in display order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DoctorReport {
    /// The checks.
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// A report of these checks.
    pub fn new(checks: Vec<Check>) -> Self {
        DoctorReport { checks }
    }

    /// Every check is ok.
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The check with this name.
    pub fn get(&self, name: CheckName) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// One line per check, each ending with a newline.
    pub fn render_text(&self) -> String {
        self.checks.iter().map(|c| format!("{c}\n")).collect()
    }
}

/// Where users choose the default link handler when [`crate::handler::register`] cannot.
fn handler_settings_fix() -> &'static str {
    if cfg!(target_os = "windows") {
        "open Settings → Apps → Default apps → Choose defaults by link type and pick Enlace for TEL and CALLTO"
    } else if cfg!(target_os = "macos") {
        "choose Enlace as the default app for calls (FaceTime → Settings → Default for calls)"
    } else {
        "choose Enlace for tel: and callto: links in your desktop's default-applications settings"
    }
}

/// The `tel:` and `callto:` checks from a [`crate::handler::status`] result.
pub fn check_handlers(status: &HandlerStatus) -> Vec<Check> {
    Scheme::ALL
        .iter()
        .map(|&scheme| {
            let name = match scheme {
                Scheme::Tel => CheckName::HandlerTel,
                Scheme::Callto => CheckName::HandlerCallto,
            };
            match status.scheme(scheme) {
                Some(s) if s.registered => Check::ok(name, "Enlace is the default"),
                other => {
                    let detail = other
                        .and_then(|s| s.detail.clone())
                        .unwrap_or_else(|| "Enlace is not the default".to_owned());
                    let fix = if status.can_register {
                        "press “Make Enlace the default” in Settings".to_owned()
                    } else if detail.contains("xdg-utils") {
                        "install xdg-utils (apt install xdg-utils), then press “Make Enlace the default” in Settings"
                            .to_owned()
                    } else {
                        handler_settings_fix().to_owned()
                    };
                    Check::problem(name, detail, fix)
                }
            }
        })
        .collect()
}

/// The configured phone line, as the doctor needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneLine<'a> {
    /// A baresip softphone controlled over `ctrl_tcp` at this address.
    Baresip {
        /// e.g. `127.0.0.1:4444`.
        ctrl_address: &'a str,
    },
    /// Calls are handed to another program (a SIP URI or a command); nothing to reach.
    HandOff,
    /// No line is configured.
    NotConfigured,
}

/// The phone-line check; `probe` (e.g. [`check_tcp`]) runs only for a baresip line.
///
/// baresip's `ctrl_tcp` serves one client at a time and a new connection disconnects the
/// previous one: while Enlace itself is connected, prefer its own line status over probing.
pub fn check_phone_line(line: PhoneLine<'_>, probe: impl FnOnce() -> Result<(), String>) -> Check {
    let name = CheckName::PhoneLine;
    match line {
        PhoneLine::NotConfigured => Check::problem(
            name,
            "no phone line is configured",
            "choose a phone line in Settings (baresip or hand-off to another program)",
        ),
        PhoneLine::HandOff => Check::ok(name, "calls are handed to another program"),
        PhoneLine::Baresip { ctrl_address } => match probe() {
            Ok(()) => Check::ok(name, format!("baresip answers on {ctrl_address}")),
            Err(e) => Check::problem(
                name,
                format!("baresip does not answer on {ctrl_address}: {e}"),
                format!(
                    "start baresip with the ctrl_tcp module listening on {ctrl_address} \
                     (module ctrl_tcp.so and ctrl_tcp_listen in ~/.baresip/config), or fix the \
                     address in Settings; note that baresip's ctrl_tcp accepts one client and a \
                     new connection drops the previous one, so close any other program using it"
                ),
            ),
        },
    }
}

/// Connects to `addr` (host:port) within `timeout` and disconnects at once.
///
/// Against baresip's `ctrl_tcp` this drops whichever client was connected before.
pub fn check_tcp(addr: &str, timeout: Duration) -> Result<(), String> {
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("invalid address {addr}: {e}"))?
        .collect();
    let mut last = format!("{addr} resolves to no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(stream) => {
                let _ = stream.shutdown(std::net::Shutdown::Both);
                return Ok(());
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Why the keyring probe failed, as the doctor needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringFailure {
    /// No usable keyring: no Secret Service on the session bus (Linux), or it is locked, or
    /// the OS refused access.
    Unavailable(String),
    /// Any other keyring failure.
    Other(String),
}

impl From<&SecretsError> for KeyringFailure {
    fn from(e: &SecretsError) -> Self {
        match e {
            SecretsError::Unavailable { detail } => KeyringFailure::Unavailable(detail.clone()),
            other => KeyringFailure::Other(other.to_string()),
        }
    }
}

/// Writes, reads back and deletes a probe secret in the channel's keyring namespace
/// (`enlace_secrets::probe`). Blocking; may take a while when the keyring daemon starts.
pub fn probe_keyring(channel: Channel) -> Result<(), KeyringFailure> {
    enlace_secrets::probe(channel).map_err(|e| KeyringFailure::from(&e))
}

/// The keyring check from a probe's outcome (normally `|| probe_keyring(channel)`).
pub fn check_keyring(probe: impl FnOnce() -> Result<(), KeyringFailure>) -> Check {
    let name = CheckName::Keyring;
    let fix = if cfg!(target_os = "windows") {
        "sign in to Windows with your own user account (Credential Manager stores the tokens)"
    } else if cfg!(target_os = "macos") {
        "unlock the login keychain in Keychain Access"
    } else {
        "install gnome-keyring (or another Secret Service such as KeePassXC) and log in to a \
         desktop session, or run `gnome-keyring-daemon --unlock --components=secrets` in this \
         session"
    };
    match probe() {
        Ok(()) => Check::ok(name, "the OS keyring stores and reads secrets"),
        Err(KeyringFailure::Unavailable(e)) => Check::problem(
            name,
            if cfg!(all(unix, not(target_os = "macos"))) {
                format!("no Secret Service on the session bus, or it is locked ({e})")
            } else {
                format!("the OS keyring is unavailable ({e})")
            },
            fix,
        ),
        Err(KeyringFailure::Other(e)) => {
            Check::problem(name, format!("the OS keyring failed: {e}"), fix)
        }
    }
}

/// The notifications check from [`crate::notify::probe_server`]'s outcome.
pub fn check_notifications(probe: impl FnOnce() -> Result<ServerInfo, NotifyError>) -> Check {
    let name = CheckName::Notifications;
    match probe() {
        Ok(info) if info.supports_actions() => Check::ok(
            name,
            format!(
                "{} {} shows notifications with buttons",
                info.name, info.version
            ),
        ),
        Ok(info) => Check {
            name,
            ok: true,
            detail: format!(
                "{} {} shows notifications without buttons",
                info.name, info.version
            ),
            fix: Some("answer incoming calls from the Enlace window".to_owned()),
        },
        Err(NotifyError::Unsupported) => Check::ok(name, "shown by the operating system"),
        Err(e) => Check::problem(
            name,
            e.to_string(),
            "run Enlace inside a desktop session, or install a notification daemon \
             (e.g. dunst or xfce4-notifyd) on desktops without one",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::SchemeStatus;

    fn check(name: CheckName, ok: bool, detail: &str, fix: Option<&str>) -> Check {
        Check {
            name,
            ok,
            detail: detail.into(),
            fix: fix.map(Into::into),
        }
    }

    #[test]
    fn renders_one_aligned_line_per_check() {
        let report = DoctorReport::new(vec![
            check(CheckName::HandlerTel, true, "Enlace is the default", None),
            check(
                CheckName::Keyring,
                false,
                "no Secret Service on the session bus",
                Some("install gnome-keyring and log in to a desktop session"),
            ),
        ]);
        assert_eq!(
            report.render_text(),
            "ok      tel: handler — Enlace is the default\n\
             problem keyring — no Secret Service on the session bus — fix: install gnome-keyring and log in to a desktop session\n"
        );
        assert!(!report.all_ok());
        assert_eq!(report.get(CheckName::Keyring).map(|c| c.ok), Some(false));
        assert!(DoctorReport::default().all_ok());
    }

    fn status(tel: Option<&str>, callto: Option<&str>, can_register: bool) -> HandlerStatus {
        let s = |scheme, d: Option<&str>| SchemeStatus {
            scheme,
            registered: d.is_none(),
            detail: d.map(Into::into),
        };
        HandlerStatus {
            schemes: vec![s(Scheme::Tel, tel), s(Scheme::Callto, callto)],
            can_register,
            detail: None,
        }
    }

    #[test]
    fn handler_checks() {
        let checks = check_handlers(&status(
            None,
            Some("callto: links open teams.desktop, not Enlace"),
            true,
        ));
        assert_eq!(
            checks[0].to_string(),
            "ok      tel: handler — Enlace is the default"
        );
        assert_eq!(
            checks[1].to_string(),
            "problem callto: handler — callto: links open teams.desktop, not Enlace — fix: press “Make Enlace the default” in Settings"
        );

        let missing = "xdg-mime not found — install xdg-utils";
        let checks = check_handlers(&status(Some(missing), Some(missing), false));
        assert!(!checks[0].ok);
        assert_eq!(checks[0].detail, missing);
        assert!(checks[0]
            .fix
            .as_deref()
            .unwrap_or("")
            .starts_with("install xdg-utils"));

        let bundled = "registered at install by the bundle (check Settings → Default apps)";
        let checks = check_handlers(&status(Some(bundled), Some(bundled), false));
        assert_eq!(checks[1].name, CheckName::HandlerCallto);
        assert_eq!(checks[1].fix.as_deref(), Some(handler_settings_fix()));
    }

    #[test]
    fn phone_line_checks() {
        let addr = "127.0.0.1:4444";
        let ok = check_phone_line(PhoneLine::Baresip { ctrl_address: addr }, || Ok(()));
        assert_eq!(
            ok.to_string(),
            "ok      phone line — baresip answers on 127.0.0.1:4444"
        );

        let bad = check_phone_line(PhoneLine::Baresip { ctrl_address: addr }, || {
            Err("Connection refused (os error 111)".into())
        });
        assert!(!bad.ok);
        assert_eq!(
            bad.detail,
            "baresip does not answer on 127.0.0.1:4444: Connection refused (os error 111)"
        );
        let fix = bad.fix.unwrap_or_default();
        assert!(fix.contains("ctrl_tcp_listen"), "{fix}");
        assert!(fix.contains("accepts one client"), "{fix}");

        let mut probed = false;
        let handoff = check_phone_line(PhoneLine::HandOff, || {
            probed = true;
            Ok(())
        });
        assert!(
            handoff.ok && !probed,
            "a hand-off line has nothing to probe"
        );

        let none = check_phone_line(PhoneLine::NotConfigured, || Ok(()));
        assert_eq!(
            none.to_string(),
            "problem phone line — no phone line is configured — fix: choose a phone line in Settings (baresip or hand-off to another program)"
        );
    }

    #[test]
    fn tcp_check_connects_to_a_listener_and_reports_a_closed_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        assert_eq!(check_tcp(&addr, Duration::from_secs(5)), Ok(()));
        // The probe really connected: the listener has a pending connection.
        let (_peer, _) = listener.accept().unwrap();
        drop(listener);
        let err = check_tcp(&addr, Duration::from_secs(5)).unwrap_err();
        assert!(err.to_lowercase().contains("refused"), "{err}");
        let err = check_tcp("not an address", Duration::from_secs(1)).unwrap_err();
        assert!(err.starts_with("invalid address"), "{err}");
    }

    #[test]
    fn keyring_checks() {
        let ok = check_keyring(|| Ok(()));
        assert_eq!(
            ok.to_string(),
            "ok      keyring — the OS keyring stores and reads secrets"
        );

        let unavailable = SecretsError::Unavailable {
            detail: "The name org.freedesktop.secrets was not provided".into(),
        };
        let none = check_keyring(|| Err(KeyringFailure::from(&unavailable)));
        assert!(!none.ok);
        assert_eq!(
            none.detail,
            "no Secret Service on the session bus, or it is locked \
             (The name org.freedesktop.secrets was not provided)"
        );
        let fix = none.fix.clone().unwrap_or_default();
        assert!(fix.starts_with("install gnome-keyring"), "{fix}");
        assert!(fix.contains("--unlock"), "{fix}");
        assert!(none
            .to_string()
            .starts_with("problem keyring — no Secret Service on the session bus"));

        let other = SecretsError::Keyring {
            detail: "2 keyring items match x".into(),
        };
        let failed = check_keyring(|| Err(KeyringFailure::from(&other)));
        assert_eq!(
            failed.detail,
            "the OS keyring failed: keyring error: 2 keyring items match x"
        );
        assert!(!failed.ok && failed.fix.is_some());
    }

    #[test]
    fn notification_checks() {
        let info = |caps: &[&str]| ServerInfo {
            name: "dunst".into(),
            vendor: "knopwob".into(),
            version: "1.9.0".into(),
            spec_version: "1.2".into(),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
        };
        let with = check_notifications(|| Ok(info(&["actions", "body"])));
        assert_eq!(
            with.to_string(),
            "ok      notifications — dunst 1.9.0 shows notifications with buttons"
        );
        let without = check_notifications(|| Ok(info(&["body"])));
        assert!(without.ok);
        assert_eq!(
            without.fix.as_deref(),
            Some("answer incoming calls from the Enlace window")
        );
        let none = check_notifications(|| {
            Err(NotifyError::NoServer(
                "org.freedesktop.Notifications was not provided".into(),
            ))
        });
        assert!(!none.ok);
        assert_eq!(
            none.detail,
            "no notification server on the session bus: org.freedesktop.Notifications was not provided"
        );
        assert!(none.fix.unwrap_or_default().contains("dunst"));
    }

    #[test]
    fn check_keys_are_stable() {
        let keys = [
            CheckName::HandlerTel,
            CheckName::HandlerCallto,
            CheckName::PhoneLine,
            CheckName::Keyring,
            CheckName::Notifications,
        ]
        .map(CheckName::key);
        assert_eq!(
            keys,
            [
                "handler_tel",
                "handler_callto",
                "phone_line",
                "keyring",
                "notifications"
            ]
        );
    }
}
