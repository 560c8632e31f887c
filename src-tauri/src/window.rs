//! The main window's life: created by us (not by Tauri's config) so the webview is tuned
//! before its first page, hidden (not closed) by its close button, released after it has
//! been hidden in the tray for a while, and built again when anything shows it.
//!
//! Released means destroyed: WebKit's web process for it exits and the app keeps only the Rust
//! core (calls, notifications, the tray, the hub stream), which never depended on the window.
//! Anything that shows the window (tray, notification, a link, an incoming call) builds it
//! again from the same configuration, and the UI reads its state from the core as on a start.
//!
//! The window is built hidden and shown once its page has loaded ([`SHOW_AT_THE_LATEST`] if it
//! never does). Shown at once, GTK draws it before the web process has a page, and
//! WebKitGTK's non-composited drawing then blocks the main thread up to 500 ms waiting for the
//! web process's first backing store (`waitForAndDispatchDidUpdateBackingStoreState`), which
//! made about half the cold starts 0.5 s slower (measured: `cargo xtask bench`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tauri::utils::config::WindowConfig;
use tauri::webview::PageLoadEvent;
use tauri::{AppHandle, Manager, WebviewWindow, WebviewWindowBuilder};

/// The label of the one window.
pub const MAIN: &str = "main";
/// How long the window stays hidden before it is released (`ENLACE_RELEASE_WINDOW_AFTER_SECS`
/// overrides it; 0 keeps it forever).
const RELEASE_AFTER: Duration = Duration::from_secs(10 * 60);
const RELEASE_AFTER_ENV: &str = "ENLACE_RELEASE_WINDOW_AFTER_SECS";
/// A window whose page has not loaded by then is shown anyway (with WebKit's own error page,
/// or blank), never left invisible.
const SHOW_AT_THE_LATEST: Duration = Duration::from_secs(3);

/// Managed state: how to build the window again, and which hiding is the current one.
#[derive(Debug)]
pub struct MainWindow {
    config: WindowConfig,
    release_after: Option<Duration>,
    /// Bumped on every show and hide: a release timer acts only if nothing happened since.
    generation: AtomicU64,
}

impl MainWindow {
    /// Takes the main window out of Tauri's start-up (we build it in `setup`).
    pub fn take_from(config: &mut tauri::Config) -> Option<Self> {
        let window = config.app.windows.iter_mut().find(|w| w.label == MAIN)?;
        window.create = false;
        let release_after = match std::env::var(RELEASE_AFTER_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            Some(0) => None,
            Some(secs) => Some(Duration::from_secs(secs)),
            None => Some(RELEASE_AFTER),
        };
        Some(MainWindow {
            config: window.clone(),
            release_after,
            generation: AtomicU64::new(0),
        })
    }

    /// Builds the window (on the main thread), its webview tuned for memory.
    /// It is shown (and focused) once its first page has loaded, when the configuration
    /// says it starts visible or `visible` is set (a rebuild after a release).
    pub fn build(&self, handle: &AppHandle, visible: bool) -> tauri::Result<WebviewWindow> {
        let visible = visible || self.config.visible;
        let pending = Arc::new(AtomicBool::new(visible));
        let on_load = Arc::clone(&pending);
        let window = WebviewWindowBuilder::from_config(handle, &self.config)?
            .visible(false)
            .on_page_load(move |window, payload| {
                if payload.event() == PageLoadEvent::Finished
                    && on_load.swap(false, Ordering::SeqCst)
                {
                    present(&window);
                }
            })
            .build()?;
        tune_webview(&window);
        if visible {
            let window = window.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(SHOW_AT_THE_LATEST).await;
                if pending.swap(false, Ordering::SeqCst) {
                    tracing::warn!("the window's page did not load in time: showing it anyway");
                    present(&window);
                }
            });
        }
        Ok(window)
    }

    /// The window was hidden: release it once it has stayed hidden for a while.
    pub fn hidden(&self, handle: &AppHandle) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(after) = self.release_after else {
            return;
        };
        let handle = handle.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(after).await;
            let Some(this) = handle.try_state::<MainWindow>() else {
                return;
            };
            if this.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            if let Some(window) = handle.get_webview_window(MAIN) {
                if window.is_visible().unwrap_or(true) {
                    return;
                }
                tracing::info!("window hidden for {after:?}: releasing its webview");
                if let Err(e) = window.destroy() {
                    tracing::warn!(error = %e, "could not release the hidden window");
                }
            }
        });
    }

    fn shown(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// Shows and focuses a built window.
fn present(window: &WebviewWindow) {
    let _ = window.show();
    let _ = window.set_focus();
}

/// Shows the window, building it again first when it was released.
pub fn show(handle: &AppHandle) {
    if let Some(state) = handle.try_state::<MainWindow>() {
        state.shown();
    }
    if let Some(w) = handle.get_webview_window(MAIN) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let builder = handle.clone();
    let queued = handle.run_on_main_thread(move || {
        // Another request may have built it meanwhile.
        if builder.get_webview_window(MAIN).is_some() {
            return;
        }
        let Some(state) = builder.try_state::<MainWindow>() else {
            return;
        };
        if let Some(shell) = builder.try_state::<crate::shell::Shell>() {
            shell.window_rebuilt();
        }
        // Shown and focused once its page has loaded (see the module's notes).
        if let Err(e) = state.build(&builder, true) {
            tracing::error!(error = %e, "could not build the window again");
        }
    });
    if let Err(e) = queued {
        tracing::warn!(error = %e, "could not ask for the window");
    }
}

/// Hides the window to the tray (its close button, or `ActivateAction("hide")`); it is
/// released once it has stayed hidden for a while.
pub fn hide(handle: &AppHandle) {
    if let Some(w) = handle.get_webview_window(MAIN) {
        if let Err(e) = w.hide() {
            tracing::warn!(error = %e, "could not hide the window");
        }
    }
    if let Some(state) = handle.try_state::<MainWindow>() {
        state.hidden(handle);
    }
}

/// `ENLACE_NO_MEMORY_TUNING=1` leaves WebKit at its defaults (the benchmark's comparison).
#[cfg(target_os = "linux")]
fn tuning_off() -> bool {
    std::env::var_os("ENLACE_NO_MEMORY_TUNING").is_some_and(|v| v == "1")
}

/// Process-wide settings WebKit reads at start-up; called before any GUI library starts.
/// Without a GPU render node WebKit composites in software (llvmpipe), which costs memory
/// and CPU and buys nothing for this UI: compositing is turned off unless the user chose.
pub fn tune_process() {
    #[cfg(target_os = "linux")]
    if !tuning_off() {
        let has_render_node = std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        });
        if !has_render_node && std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
            // WebKit reads only its environment. This runs in `main` before any thread starts
            // (the GUI, tokio and zbus threads come later), so nothing can race it.
            #[allow(clippy::disallowed_methods)]
            std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        }
    }
}

/// Settings of the shared WebKit processes, before the first webview exists: the network
/// process releases memory early (it keeps little for an app that loads its UI from memory).
pub fn tune_webkit_processes() {
    #[cfg(target_os = "linux")]
    if !tuning_off() {
        let mut settings = webkit2gtk::MemoryPressureSettings::new();
        // MB; above the conservative/strict fractions WebKit frees caches; never kills.
        settings.set_memory_limit(96);
        settings.set_conservative_threshold(0.33);
        settings.set_strict_threshold(0.5);
        settings.set_kill_threshold(0.0);
        webkit2gtk::WebsiteDataManager::set_memory_pressure_settings(&mut settings);
    }
}

/// The webview of a single local page: no page cache of other documents.
fn tune_webview(window: &WebviewWindow) {
    #[cfg(target_os = "linux")]
    if !tuning_off() {
        let tuned = window.with_webview(|webview| {
            use webkit2gtk::{WebContextExt, WebViewExt};
            if let Some(context) = webview.inner().context() {
                context.set_cache_model(webkit2gtk::CacheModel::DocumentViewer);
            }
        });
        if let Err(e) = tuned {
            tracing::warn!(error = %e, "could not tune the webview");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
