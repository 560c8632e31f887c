//! The checks behind `enlace doctor` and the Settings check list: is Enlace the `tel:` and
//! `callto:` handler, does the phone line answer, is there a keyring, can notifications be
//! shown. Each check is built from a probe's outcome, so the texts are unit-tested without the
//! probes and the caller decides when (and on which thread) a probe runs.
//!
//! A check is `ok`, a `problem` (with the fix) or `not checked` — what this system does not
//! let Enlace look at (the default handler and notifications on Windows and macOS), or a line
//! the doctor must not disturb. The phone line is asked itself (a command and its reply, the
//! hub's session and stream; see `enlace_app::doctor`), never judged by an open port.
//!
//! Typical assembly (in the shell or the CLI):
//! ```no_run
//! use enlace_os::doctor::*;
//! use enlace_os::{handler, notify};
//!
//! let spec = handler::HandlerSpec::new(handler::DEV_DESKTOP_ID, "/opt/enlace/enlace");
//! let ctrl = "127.0.0.1:4444";
//! let mut checks = check_handlers(&handler::status(&spec));
//! checks.push(check_phone_line(PhoneLine::Baresip { ctrl_address: ctrl }, || {
//!     LineProbe::Answered("baresip answers: sip:1001@pbx (registered)".into())
//! }));
//! checks.push(check_keyring(|| probe_keyring(enlace_secrets::Channel::Dev)));
//! checks.push(check_notifications(notify::probe_server));
//! print!("{}", DoctorReport::new(checks).render_text());
//! ```

use std::fmt;
use std::net::SocketAddr;

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

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Ok,
    /// Something to fix (see [`Check::fix`]).
    Problem,
    /// This system (or the situation) does not let Enlace look; the detail says why.
    NotChecked,
}

impl CheckStatus {
    /// `ok`, `problem`, `not checked`.
    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Problem => "problem",
            CheckStatus::NotChecked => "not checked",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: CheckName,
    pub status: CheckStatus,
    /// What was found (one line).
    pub detail: String,
    /// What the user can do, when not ok (and sometimes a caveat when ok).
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: CheckName, detail: impl Into<String>) -> Self {
        Check {
            name,
            status: CheckStatus::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn problem(name: CheckName, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            status: CheckStatus::Problem,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn not_checked(name: CheckName, detail: impl Into<String>, hint: Option<String>) -> Self {
        Check {
            name,
            status: CheckStatus::NotChecked,
            detail: detail.into(),
            fix: hint,
        }
    }

    /// Nothing to fix: ok, or not checked.
    pub fn ok_or_unchecked(&self) -> bool {
        self.status != CheckStatus::Problem
    }
}

/// What the doctor says on systems that do not let it look.
pub const NOT_CHECKED_HERE: &str = "not checked on this system";

impl fmt::Display for Check {
    /// `ok          tel: handler — Enlace is the default` /
    /// `problem     keyring — no Secret Service … — fix: …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status.label();
        write!(f, "{status:<12}{} — {}", self.name.label(), self.detail)?;
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

    /// No check found a problem (checks this system cannot do are not problems).
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(Check::ok_or_unchecked)
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
                // Windows and macOS: the installer declares the schemes; nothing to read here.
                Some(s) if s.detail.as_deref() == Some(crate::handler::BUNDLE_REGISTERED_DETAIL) => {
                    Check::not_checked(
                        name,
                        format!("{NOT_CHECKED_HERE} (the installer registers Enlace)"),
                        Some(handler_settings_fix().to_owned()),
                    )
                }
                other => {
                    let detail = other
                        .and_then(|s| s.detail.clone())
                        .unwrap_or_else(|| "Enlace is not the default".to_owned());
                    let fix = if status.can_register {
                        match &status.desktop_file {
                            Some(file) => format!(
                                "press “Use Enlace for tel: links” when Enlace starts (or \
                                 “Register Enlace…” in Settings), or run `xdg-mime default \
                                 {file} x-scheme-handler/tel` and `xdg-mime default {file} \
                                 x-scheme-handler/callto`"
                            ),
                            None => "press “Register Enlace…” in Settings".to_owned(),
                        }
                    } else if detail.contains("xdg-utils") {
                        "install xdg-utils (apt install xdg-utils), then press “Register Enlace…” in Settings"
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

/// The phone line the app would use, as the doctor needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneLine<'a> {
    /// A baresip softphone controlled over `ctrl_tcp` at this address.
    Baresip {
        /// e.g. `127.0.0.1:4444`.
        ctrl_address: &'a str,
    },
    /// Calls are handed to another program (a SIP URI or a command); nothing to reach.
    HandOff,
    /// The organization's server (a session is saved).
    Hub {
        /// e.g. `https://hub.example.com`.
        server: &'a str,
    },
    /// A server is configured but nobody is logged in.
    HubNotLoggedIn { server: &'a str },
    /// No line is configured.
    NotConfigured,
}

/// What asking the line gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProbe {
    /// The line answered; what it said (one line).
    Answered(String),
    /// Not asked; why (e.g. asking would take baresip away from the running Enlace).
    NotAsked(String),
    /// It did not answer, or refused; what happened.
    Failed(String),
}

/// The phone-line check; `probe` asks the line (a command and its reply) and runs only for a
/// baresip or hub line.
pub fn check_phone_line(line: PhoneLine<'_>, probe: impl FnOnce() -> LineProbe) -> Check {
    let name = CheckName::PhoneLine;
    match line {
        PhoneLine::NotConfigured => Check::problem(
            name,
            "no phone line is configured",
            "choose a phone line in Settings (baresip or hand-off to another program), or log \
             in to your organization's server",
        ),
        PhoneLine::HandOff => Check::ok(name, "calls are handed to another program"),
        PhoneLine::HubNotLoggedIn { server } => Check::problem(
            name,
            format!("the organization's server {server} is configured but nobody is logged in"),
            "log in from the Enlace window (your 7-digit user and 6-digit password)",
        ),
        PhoneLine::Hub { server } => match probe() {
            LineProbe::Answered(said) => Check::ok(name, format!("{server}: {said}")),
            LineProbe::NotAsked(why) => Check::not_checked(name, format!("{server}: {why}"), None),
            LineProbe::Failed(e) => Check::problem(
                name,
                format!("the organization's server {server} does not answer as it should: {e}"),
                "check the network and the server address; if the session ended, log in again \
                 from the Enlace window; if it persists, tell your administrator",
            ),
        },
        PhoneLine::Baresip { ctrl_address } => match probe() {
            LineProbe::Answered(said) => Check::ok(name, format!("{said} (on {ctrl_address})")),
            LineProbe::NotAsked(why) => Check::not_checked(
                name,
                format!("baresip on {ctrl_address}: {why}"),
                Some("the Enlace window shows the line's state; close Enlace and run `enlace doctor` again to ask baresip itself".to_owned()),
            ),
            LineProbe::Failed(e) => Check::problem(
                name,
                format!("baresip does not answer on {ctrl_address}: {e}"),
                format!(
                    "start baresip with the ctrl_tcp module listening on {ctrl_address} \
                     (module ctrl_tcp.so and ctrl_tcp_listen in ~/.baresip/config), or fix the \
                     address in Settings; check its SIP account in ~/.baresip/accounts; note that \
                     baresip's ctrl_tcp accepts one client and a new connection drops the \
                     previous one, so close any other program using it"
                ),
            ),
        },
    }
}

/// Is a program connected to the TCP server at `addr` (e.g. Enlace to baresip's `ctrl_tcp`)?
/// Read from the kernel's socket table (Linux), without connecting. `None` where it cannot be
/// told (another OS, an address that is not loopback, no socket table).
pub fn server_has_client(addr: SocketAddr) -> Option<bool> {
    if !addr.ip().is_loopback() || !cfg!(target_os = "linux") {
        return None;
    }
    let mut any_table = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        any_table = true;
        if established_on_local_port(&text, addr.port()) {
            return Some(true);
        }
    }
    any_table.then_some(false)
}

/// Whether a `/proc/net/tcp` table has an established connection whose local port is `port`
/// (the server's side of a client's connection).
fn established_on_local_port(table: &str, port: u16) -> bool {
    let port = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // local_address is column 1, st (state) column 3; 01 = ESTABLISHED
        cols.get(1).is_some_and(|local| local.ends_with(&port)) && cols.get(3) == Some(&"01")
    })
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
            status: CheckStatus::Ok,
            detail: format!(
                "{} {} shows notifications without buttons",
                info.name, info.version
            ),
            fix: Some("answer incoming calls from the Enlace window".to_owned()),
        },
        // Windows and macOS show them without a server to ask.
        Err(NotifyError::Unsupported) => Check::not_checked(name, NOT_CHECKED_HERE, None),
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
            status: if ok {
                CheckStatus::Ok
            } else {
                CheckStatus::Problem
            },
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
            "ok          tel: handler — Enlace is the default\n\
             problem     keyring — no Secret Service on the session bus — fix: install gnome-keyring and log in to a desktop session\n"
        );
        assert!(!report.all_ok());
        assert_eq!(
            report.get(CheckName::Keyring).map(|c| c.status),
            Some(CheckStatus::Problem)
        );
        assert!(DoctorReport::default().all_ok());
        let unchecked =
            DoctorReport::new(vec![check_notifications(|| Err(NotifyError::Unsupported))]);
        assert_eq!(
            unchecked.render_text(),
            "not checked notifications — not checked on this system\n"
        );
        assert!(
            unchecked.all_ok(),
            "what cannot be checked is not a problem"
        );
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
            desktop_file: Some("Enlace.desktop".into()),
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
            "ok          tel: handler — Enlace is the default"
        );
        assert_eq!(
            checks[1].to_string(),
            "problem     callto: handler — callto: links open teams.desktop, not Enlace — fix: \
             press “Use Enlace for tel: links” when Enlace starts (or “Register Enlace…” in \
             Settings), or run `xdg-mime default Enlace.desktop x-scheme-handler/tel` and \
             `xdg-mime default Enlace.desktop x-scheme-handler/callto`"
        );

        let missing = "xdg-mime not found — install xdg-utils";
        let checks = check_handlers(&status(Some(missing), Some(missing), false));
        assert_eq!(checks[0].status, CheckStatus::Problem);
        assert_eq!(checks[0].detail, missing);
        assert!(checks[0]
            .fix
            .as_deref()
            .unwrap_or("")
            .starts_with("install xdg-utils"));

        // Windows and macOS: what the platform module reports there is not checked, not a
        // problem (nor a fixed "ok").
        let bundled = crate::handler::BUNDLE_REGISTERED_DETAIL;
        let checks = check_handlers(&status(Some(bundled), Some(bundled), false));
        assert_eq!(checks[1].name, CheckName::HandlerCallto);
        assert_eq!(checks[1].status, CheckStatus::NotChecked);
        assert!(checks[1].detail.starts_with(NOT_CHECKED_HERE));
        assert_eq!(checks[1].fix.as_deref(), Some(handler_settings_fix()));
    }

    #[test]
    fn phone_line_checks_say_what_the_line_answered() {
        let addr = "127.0.0.1:4444";
        let baresip = PhoneLine::Baresip { ctrl_address: addr };
        let said = "baresip answers: sip:1001@pbx (registered)";
        let ok = check_phone_line(baresip, || LineProbe::Answered(said.into()));
        assert_eq!(
            ok.to_string(),
            "ok          phone line — baresip answers: sip:1001@pbx (registered) (on 127.0.0.1:4444)"
        );

        let bad = check_phone_line(baresip, || {
            LineProbe::Failed("no reply to reginfo within 3 s".into())
        });
        assert_eq!(bad.status, CheckStatus::Problem);
        assert_eq!(
            bad.detail,
            "baresip does not answer on 127.0.0.1:4444: no reply to reginfo within 3 s"
        );
        let fix = bad.fix.unwrap_or_default();
        assert!(fix.contains("ctrl_tcp_listen"), "{fix}");
        assert!(fix.contains("accepts one client"), "{fix}");

        let busy = check_phone_line(baresip, || {
            LineProbe::NotAsked("Enlace is connected to it".into())
        });
        assert_eq!(busy.status, CheckStatus::NotChecked);
        assert!(busy.fix.unwrap_or_default().contains("close Enlace"));

        let hub = PhoneLine::Hub {
            server: "https://hub.example.com",
        };
        let up = check_phone_line(hub, || LineProbe::Answered("its event stream is up".into()));
        assert_eq!(
            up.to_string(),
            "ok          phone line — https://hub.example.com: its event stream is up"
        );
        let down = check_phone_line(hub, || {
            LineProbe::Failed("its event stream is down: HTTP 502".into())
        });
        assert_eq!(down.status, CheckStatus::Problem);
        assert!(down.detail.contains("HTTP 502"), "{}", down.detail);

        let mut probed = false;
        let handoff = check_phone_line(PhoneLine::HandOff, || {
            probed = true;
            LineProbe::Answered(String::new())
        });
        assert!(
            handoff.status == CheckStatus::Ok && !probed,
            "a hand-off line has nothing to probe"
        );

        let nobody = check_phone_line(
            PhoneLine::HubNotLoggedIn {
                server: "https://hub.example.com",
            },
            || unreachable!("nothing to ask"),
        );
        assert_eq!(nobody.status, CheckStatus::Problem);
        assert!(
            nobody.detail.contains("nobody is logged in"),
            "{}",
            nobody.detail
        );

        let none = check_phone_line(PhoneLine::NotConfigured, || {
            LineProbe::Answered(String::new())
        });
        assert_eq!(none.status, CheckStatus::Problem);
        assert_eq!(none.detail, "no phone line is configured");
    }

    #[test]
    fn a_client_of_a_local_server_is_read_from_the_socket_table() {
        // /proc/net/tcp: a listener on 4444 (0x115C), then Enlace's connection to it (local
        // side 4444 on the server's socket, state 01) and an unrelated one.
        let table = "  sl  local_address rem_address   st tx_queue rx_queue\n\
             0: 0100007F:115C 00000000:0000 0A 00000000:00000000\n\
             1: 0100007F:115C 0100007F:D431 01 00000000:00000000\n\
             2: 0100007F:D431 0100007F:115C 01 00000000:00000000\n";
        assert!(established_on_local_port(table, 4444));
        let listening_only = "  sl  local_address rem_address   st\n\
             0: 0100007F:115C 00000000:0000 0A\n\
             2: 0100007F:D431 0100007F:1F90 01\n";
        assert!(!established_on_local_port(listening_only, 4444));

        // The real table: a client connected to a listener here is seen.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(server_has_client(addr), Some(false));
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let (_server_side, _) = listener.accept().unwrap();
        assert_eq!(server_has_client(addr), Some(true));
        let remote: SocketAddr = "192.0.2.1:4444".parse().unwrap();
        assert_eq!(server_has_client(remote), None, "not a local server");
    }

    #[test]
    fn keyring_checks() {
        let ok = check_keyring(|| Ok(()));
        assert_eq!(
            ok.to_string(),
            "ok          keyring — the OS keyring stores and reads secrets"
        );

        let unavailable = SecretsError::Unavailable {
            detail: "The name org.freedesktop.secrets was not provided".into(),
        };
        let none = check_keyring(|| Err(KeyringFailure::from(&unavailable)));
        assert_eq!(none.status, CheckStatus::Problem);
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
            .starts_with("problem     keyring — no Secret Service on the session bus"));

        let other = SecretsError::Keyring {
            detail: "2 keyring items match x".into(),
        };
        let failed = check_keyring(|| Err(KeyringFailure::from(&other)));
        assert_eq!(
            failed.detail,
            "the OS keyring failed: keyring error: 2 keyring items match x"
        );
        assert!(failed.status == CheckStatus::Problem && failed.fix.is_some());
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
            "ok          notifications — dunst 1.9.0 shows notifications with buttons"
        );
        let without = check_notifications(|| Ok(info(&["body"])));
        assert_eq!(without.status, CheckStatus::Ok);
        assert_eq!(
            without.fix.as_deref(),
            Some("answer incoming calls from the Enlace window")
        );
        let none = check_notifications(|| {
            Err(NotifyError::NoServer(
                "org.freedesktop.Notifications was not provided".into(),
            ))
        });
        assert_eq!(none.status, CheckStatus::Problem);
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
