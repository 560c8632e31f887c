//! `enlace-tests`: the cross-crate journeys and the end-to-end tests of the real Enlace window
//! (`tests/tests/*.rs`), and the helpers they share:
//!
//! - [`webdriver`]: a small W3C WebDriver client that talks directly to `WebKitWebDriver`
//!   (no tauri-driver; tauri-on-linux.md §8.2) and launches the app binary through it.
//! - [`app`]: where the app binary and the target dir are, whether e2e tests must run
//!   (`ENLACE_E2E`), a per-test app environment (own data dir, demo phone line) and a helper
//!   that runs a second `enlace tel:…` process like the desktop does.
//! - [`omnichannel`]: the organization's server with a WhatsApp number (in-process hub + the
//!   WhatsApp Cloud API double), a relay that can cut the desktop off the hub, and readers of
//!   the tray item and the notifications (Omnicanalidad tests and the inbox benchmark).
//! - [`inbox_ui`]: the WebDriver steps of the Omnicanalidad panel and chat.
//! - [`outside`]: what the sending tests need outside the window: a Documents folder, a PDF,
//!   the OS file dialog driven with `xdotool`, the OGG/Opus headers of a voice note.
//!
//! The e2e tests only run inside `cargo xtask test` / `cargo xtask e2e`, which provide Xvfb, a
//! private session bus, gnome-keyring and dunst and set `ENLACE_E2E=1`. To add a test of the
//! window, use [`webdriver::Session`] with the `data-testid`s the UI's components set
//! (`ui/src/panels/`, `ui/src/components/`).

pub mod app;
pub mod inbox_ui;
pub mod omnichannel;
pub mod outside;
pub mod webdriver;

pub use app::{e2e_enabled, AppEnv};
pub use webdriver::{Element, Session, WebDriverError};
