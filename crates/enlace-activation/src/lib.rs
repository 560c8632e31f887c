//! How a `tel:`/`callto:` link reaches the running Enlace without starting a second GUI.
//!
//! The running app serves the freedesktop `org.freedesktop.Application` interface
//! (`Activate`, `Open`, `ActivateAction`) on the session bus, under its app id as the bus name
//! ([`RELEASE_APP_ID`], [`DEV_APP_ID`]) at [`object_path`]. Two callers use it:
//!
//! - `enlace-open` (this crate's binary), the program the desktop entry's `Exec` names: it links
//!   no GTK and no WebKit, forwards its links with [`forward`] and exits; when no instance owns
//!   the name it `exec`s the app beside it with the same arguments, so every link still
//!   becomes a dial attempt.
//! - Scripts and benchmarks: `ActivateAction("hide")` hides the window to the tray, as its
//!   close button does; any other action brings it forward.
//! - Launchers that honour `DBusActivatable=true` (GIO, GNOME Shell, KDE): they call `Open`
//!   themselves and start no process at all while Enlace runs.
//!
//! Invariants: what arrives over the bus is untrusted — at most [`MAX_URIS`] links of at most
//! [`MAX_URI_LEN`] bytes are handed on, the rest is dropped and logged by count only; an
//! activation token is passed on only when it is short printable ASCII. Nothing here depends
//! on Tauri. The handler runs on the bus's thread: it must hand work off, not block.

use std::collections::HashMap;
use std::time::Duration;

/// Bus name (and desktop-file id) of the release build.
pub const RELEASE_APP_ID: &str = "app.enlace.desktop";
/// Bus name (and desktop-file id) of the dev build, so a dev build never answers the
/// installed release's links.
pub const DEV_APP_ID: &str = "app.enlace.desktop.dev";
/// The freedesktop interface the app serves.
pub const INTERFACE: &str = "org.freedesktop.Application";
/// Links handed on per call; the rest are dropped.
pub const MAX_URIS: usize = 16;
/// Longest link handed on, in bytes.
pub const MAX_URI_LEN: usize = 2048;
/// Longest activation token passed on.
const MAX_TOKEN_LEN: usize = 512;

/// The app id of this build's channel: [`DEV_APP_ID`] in debug builds.
pub fn app_id() -> &'static str {
    if cfg!(debug_assertions) {
        DEV_APP_ID
    } else {
        RELEASE_APP_ID
    }
}

/// The object path the freedesktop spec derives from a bus name: `/` + the name with `.` as
/// `/` and `-` as `_` (`app.enlace.desktop` → `/app/enlace/desktop`).
pub fn object_path(app_id: &str) -> String {
    format!("/{}", app_id.replace('.', "/").replace('-', "_"))
}

/// What a caller asks of the running app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Bring the window forward (a launch without links).
    Activate {
        /// `XDG_ACTIVATION_TOKEN` / startup-notification id, so the window may be raised.
        token: Option<String>,
    },
    /// Hide the window to the tray, as its close button does (`ActivateAction("hide")`).
    Hide,
    /// Open (dial) these links.
    Open {
        uris: Vec<String>,
        /// `XDG_ACTIVATION_TOKEN` / startup-notification id, so the window may be raised.
        token: Option<String>,
    },
}

impl Request {
    /// The activation token the launcher gave this process (`XDG_ACTIVATION_TOKEN` on Wayland,
    /// `DESKTOP_STARTUP_ID` on X11), if usable.
    pub fn token_from_env() -> Option<String> {
        ["XDG_ACTIVATION_TOKEN", "DESKTOP_STARTUP_ID"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find_map(|t| usable_token(&t))
    }
}

/// Why the running app could not be reached (or could not serve).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    /// No session bus to talk to.
    #[error("no D-Bus session bus: {0}")]
    NoBus(String),
    /// Nobody owns the app's bus name: Enlace is not running.
    #[error("Enlace is not running")]
    NoInstance,
    /// Another process already owns the name (serving).
    #[error("another Enlace already answers on the session bus")]
    NameTaken,
    /// The running app did not answer in time.
    #[error("the running Enlace did not answer in {0:?}")]
    Timeout(Duration),
    /// Any other bus failure.
    #[error("D-Bus: {0}")]
    Bus(String),
    /// This platform has no session bus.
    #[error("no session bus on this platform")]
    Unsupported,
}

impl ActivationError {
    /// Stable code for logs and tests.
    pub fn code(&self) -> &'static str {
        match self {
            ActivationError::NoBus(_) => "activation_no_bus",
            ActivationError::NoInstance => "activation_no_instance",
            ActivationError::NameTaken => "activation_name_taken",
            ActivationError::Timeout(_) => "activation_timeout",
            ActivationError::Bus(_) => "activation_bus",
            ActivationError::Unsupported => "activation_unsupported",
        }
    }

    /// Whether starting the app is the right answer: nothing answered at all (as opposed to an
    /// instance that may have taken the link but replied late).
    pub fn start_the_app(&self) -> bool {
        matches!(
            self,
            ActivationError::NoBus(_) | ActivationError::NoInstance | ActivationError::Unsupported
        )
    }
}

/// The handler of the served interface.
pub type OnRequest = Box<dyn Fn(Request) + Send + Sync + 'static>;

/// Keeps serving while alive (owns the bus name).
pub struct Service {
    #[cfg(all(unix, not(target_os = "macos")))]
    _connection: zbus::Connection,
    app_id: String,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl Service {
    pub fn app_id(&self) -> &str {
        &self.app_id
    }
}

/// Keeps the links that are worth handing on: at most [`MAX_URIS`], none longer than
/// [`MAX_URI_LEN`] nor holding control characters.
pub fn sanitize_uris(uris: Vec<String>) -> Vec<String> {
    let total = uris.len();
    let kept: Vec<String> = uris
        .into_iter()
        .filter(|u| !u.is_empty() && u.len() <= MAX_URI_LEN && !u.chars().any(char::is_control))
        .take(MAX_URIS)
        .collect();
    if kept.len() < total {
        tracing::warn!(
            dropped = total - kept.len(),
            "activation: links dropped (too many, too long or with control characters)"
        );
    }
    kept
}

fn usable_token(token: &str) -> Option<String> {
    let ok = !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| token.to_owned())
}

/// The `platform-data` keys launchers use for the activation token.
fn token_from_platform_data(data: &HashMap<String, String>) -> Option<String> {
    ["activation-token", "desktop-startup-id"]
        .iter()
        .filter_map(|k| data.get(*k))
        .find_map(|t| usable_token(t))
}

#[cfg(all(unix, not(target_os = "macos")))]
mod bus;

#[cfg(all(unix, not(target_os = "macos")))]
pub use bus::{forward, serve};

/// Serve the interface (no session bus on this platform).
#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn serve(
    _app_id: &str,
    _address: Option<&str>,
    _on_request: OnRequest,
) -> Result<Service, ActivationError> {
    Err(ActivationError::Unsupported)
}

/// Forward a request (no session bus on this platform: the caller starts the app).
#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn forward(
    _app_id: &str,
    _address: Option<&str>,
    _request: &Request,
    _timeout: Duration,
) -> Result<(), ActivationError> {
    Err(ActivationError::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_follow_the_freedesktop_rule() {
        assert_eq!(object_path(RELEASE_APP_ID), "/app/enlace/desktop");
        assert_eq!(object_path(DEV_APP_ID), "/app/enlace/desktop/dev");
        assert_eq!(object_path("org.example.my-app"), "/org/example/my_app");
    }

    #[test]
    fn only_sane_links_are_handed_on() {
        let mut uris = vec![
            "tel:+50640004000".to_owned(),
            String::new(),
            "tel:+1\n555".to_owned(),
            format!("tel:{}", "1".repeat(MAX_URI_LEN)),
        ];
        uris.extend((0..40).map(|i| format!("callto:{i}")));
        let kept = sanitize_uris(uris);
        assert_eq!(kept.len(), MAX_URIS);
        assert_eq!(kept[0], "tel:+50640004000");
        assert_eq!(kept[1], "callto:0");
    }

    #[test]
    fn tokens_are_short_printable_ascii() {
        let data = |k: &str, v: &str| HashMap::from([(k.to_owned(), v.to_owned())]);
        assert_eq!(
            token_from_platform_data(&data("activation-token", "abc_123")),
            Some("abc_123".into())
        );
        assert_eq!(
            token_from_platform_data(&data("desktop-startup-id", "x TIME1")),
            None
        );
        assert_eq!(
            token_from_platform_data(&data("activation-token", &"a".repeat(600))),
            None
        );
        assert_eq!(token_from_platform_data(&data("other", "abc")), None);
    }

    #[test]
    fn only_silence_starts_the_app() {
        assert!(ActivationError::NoInstance.start_the_app());
        assert!(ActivationError::NoBus("x".into()).start_the_app());
        // An instance that may have taken the link: starting another would dial twice.
        assert!(!ActivationError::Timeout(Duration::from_secs(1)).start_the_app());
        assert!(!ActivationError::Bus("x".into()).start_the_app());
    }
}
