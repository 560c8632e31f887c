//! Operating-system integration of Enlace, without Tauri.
//!
//! This crate owns everything Enlace asks of the desktop it runs on:
//!
//! - [`handler`]: is Enlace the default application for `tel:` and `callto:` links, and (on
//!   Linux/BSD desktops) make it so by writing a `.desktop` file and calling `xdg-mime`.
//!   Windows and macOS get their registration from the installer bundle; here they only report.
//! - [`notify`]: the incoming-call desktop notification (answer / reject buttons when the
//!   notification server supports actions), the chat-message notification (a click opens the
//!   chat) and a probe of the notification server.
//! - [`browser`]: open sign-in pages, CRM records and map links in the agent's browser, and
//!   downloaded chat documents with the OS's program for them.
//! - [`position`]: where the computer is (GeoClue2 on Linux), for the map of Enviar ubicación.
//! - [`doctor`]: the checks behind `enlace doctor` and the Settings check list, each with a
//!   one-line detail and a fix text.
//!
//! Invariants: nothing here depends on Tauri; no function panics on what the OS returns;
//! external programs are started with explicit arguments (never through a shell) and with the
//! XDG environment passed explicitly, so tests can sandbox them without touching the process
//! environment.
//!
//! To extend: a new OS integration gets its own module with a closed error enum carrying stable
//! `code()`s, and, when the user can get it wrong, a [`doctor::CheckName`] variant plus a check
//! constructor in [`doctor`].

pub mod browser;
pub mod doctor;
pub mod handler;
pub mod notify;
pub mod position;

pub use position::os_position;
