//! Desktop start-up: plugins (single instance first, then deep link), the main window, the
//! tray, and the [`Host`] that turns domain events into UI events, notifications and tray
//! pictures. Everything here is wiring; behaviour lives in `enlace-app`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use enlace_app::{Activity, App, AppOptions, DemoLine, DomainEvent, Host, Language};
use enlace_core::{CallId, Contact, SystemClock};
use enlace_os::browser::Browser;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WindowEvent};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::channel::BuildChannel;
use crate::os::{self, IncomingNotification};
use crate::wire::{
    self, AppInfoView, CallView, ContactView, CrmStatusView, LineStatusView, NavigateView,
    WireError,
};

const MAIN_WINDOW: &str = "main";
const TRAY_ID: &str = "enlace-tray";

/// Managed state: the running app plus what the shell itself knows.
pub struct Shell {
    pub app: App<TauriHost>,
    channel: BuildChannel,
    data_dir: PathBuf,
    problems: Vec<String>,
    ready_file: Option<PathBuf>,
    ready_written: AtomicBool,
}

impl Shell {
    pub fn line_status_view(&self) -> LineStatusView {
        LineStatusView::new(
            wire::line_kind(self.app.line_kind()),
            &self.app.line_status(),
        )
    }

    pub fn hub_status_view(&self, status: &enlace_app::HubStatus) -> wire::HubStatusView {
        let over = status
            .state
            .as_ref()
            .is_some_and(|s| self.app.over_budget(s));
        wire::HubStatusView::new(status, over)
    }

    pub fn handler_spec(&self) -> os::HandlerSpecOwned {
        os::handler_spec(self.channel)
    }

    pub fn app_info(&self) -> AppInfoView {
        let mut problems = self.problems.clone();
        if let Some(p) = self.app.settings_problem() {
            problems.push(format!("settings: {p}"));
        }
        AppInfoView {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            channel: self.channel.wire(),
            data_dir: self.data_dir.display().to_string(),
            os_locale: sys_locale::get_locale().unwrap_or_else(|| "en-US".to_owned()),
            problems,
        }
    }

    pub fn mark_ui_ready(&self) {
        if self.ready_written.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(path) = &self.ready_file {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0);
            if let Err(e) = std::fs::write(path, format!("{micros} ui-ready\n")) {
                tracing::warn!(error = %e, "could not write the ready file");
            }
        }
    }
}

/// The [`Host`] of the desktop: forwards events to the webview, the tray and notifications.
pub struct TauriHost {
    handle: AppHandle,
    ringing: Arc<Mutex<Vec<(CallId, os::NotificationHandle)>>>,
    /// Cached CRM records sharing the number of each call still ringing (the card's chooser).
    matches: Mutex<HashMap<CallId, Vec<ContactView>>>,
    browser: Browser,
}

impl Host for TauriHost {
    fn emit(&self, event: DomainEvent) {
        let handle = &self.handle;
        let sent = match event {
            DomainEvent::CallUpdated(log) => {
                let mut view = CallView::from(&log);
                if let Some(found) = lock(&self.matches).get(&log.call.id) {
                    view.caller_matches = found.clone();
                }
                handle.emit("call:updated", view)
            }
            DomainEvent::IncomingRinging { call, matches } => {
                show_main_window(handle);
                let settings = handle.try_state::<Shell>().map(|s| s.app.settings());
                if settings.as_ref().is_none_or(|s| s.notifications) {
                    let spanish = settings.is_none_or(|s| uses_spanish(s.language));
                    self.notify_incoming(&call, &matches, spanish);
                }
                lock(&self.matches).insert(
                    call.id.clone(),
                    matches.iter().map(ContactView::from).collect(),
                );
                Ok(())
            }
            DomainEvent::CrmStatus(status) => {
                handle.emit("crm:status", CrmStatusView::from(&status))
            }
            DomainEvent::CrmWritesChanged => {
                let handle = handle.clone();
                tauri::async_runtime::spawn(async move {
                    if let Some(shell) = handle.try_state::<Shell>() {
                        if let Ok(status) = shell.app.crm_status().await {
                            let _ = handle.emit("crm:status", CrmStatusView::from(&status));
                        }
                    }
                });
                Ok(())
            }
            DomainEvent::HubStatus(status) => {
                let over = handle.try_state::<Shell>().is_some_and(|shell| {
                    status
                        .state
                        .as_ref()
                        .is_some_and(|s| shell.app.over_budget(s))
                });
                handle.emit("hub:status", wire::HubStatusView::new(&status, over))
            }
            DomainEvent::AgentState(state) => {
                let over = handle
                    .try_state::<Shell>()
                    .is_some_and(|shell| shell.app.over_budget(&state));
                handle.emit("agent:state", wire::AgentStateView::new(&state, over))
            }
            DomainEvent::AgentsLive(agents) => {
                let rows: Vec<wire::AgentLiveView> =
                    agents.iter().map(wire::AgentLiveView::from).collect();
                handle.emit("agents:live", rows)
            }
            DomainEvent::IncomingStopped(id) => {
                lock(&self.matches).remove(&id);
                lock(&self.ringing).retain(|(call, notification)| {
                    if *call == id {
                        notification.close();
                    }
                    *call != id
                });
                Ok(())
            }
            DomainEvent::LineStatus(status) => {
                let kind = handle
                    .try_state::<Shell>()
                    .map(|s| wire::line_kind(s.app.line_kind()))
                    .unwrap_or(wire::WireLineKind::None);
                handle.emit("line:status", LineStatusView::new(kind, &status))
            }
            DomainEvent::Activity(activity) => {
                set_tray_activity(handle, activity);
                Ok(())
            }
            DomainEvent::DialFailed { error, .. } => {
                show_main_window(handle);
                handle.emit("dial:failed", WireError::from(error))
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not emit an event to the webview");
        }
    }

    fn open_url(&self, url: &str) -> Result<(), String> {
        self.browser.open(url).map_err(|e| e.to_string())
    }
}

impl TauriHost {
    /// Show the incoming-call notification off the calling thread (a D-Bus round trip).
    fn notify_incoming(&self, call: &enlace_core::CallRecord, matches: &[Contact], spanish: bool) {
        let texts = if spanish {
            &os::NOTIFY_ES
        } else {
            &os::NOTIFY_EN
        };
        let handle = self.handle.clone();
        let ringing = Arc::clone(&self.ringing);
        let id = call.id.clone();
        // The CRM name from the cache wins over what the phone network sent.
        let caller_name = match matches {
            [] => call.peer_display_name.clone(),
            [only] => Some(only.display_name()),
            [first, rest @ ..] => Some(format!("{} (+{})", first.display_name(), rest.len())),
        };
        let notification = IncomingNotification {
            caller_name,
            number: call.peer_number.clone(),
        };
        tauri::async_runtime::spawn_blocking(move || {
            let on_action = {
                let (handle, id) = (handle.clone(), id.clone());
                move |action| notification_action(handle, id, action)
            };
            match os::show_incoming(&notification, texts, on_action) {
                Ok(shown) => {
                    if let Some(shell) = handle.try_state::<Shell>() {
                        shell.app.trace("notification-shown");
                    }
                    let still_ringing = handle.try_state::<Shell>().is_none_or(|shell| {
                        shell
                            .app
                            .open_calls()
                            .iter()
                            .any(|c| c.id == id && c.status == enlace_core::CallStatus::Ringing)
                    });
                    if still_ringing {
                        lock(&ringing).push((id, shown));
                    } else {
                        shown.close();
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not show the incoming-call notification")
                }
            }
        });
    }
}

fn notification_action(handle: AppHandle, id: CallId, action: os::NotificationAction) {
    tauri::async_runtime::spawn(async move {
        let Some(shell) = handle.try_state::<Shell>() else {
            return;
        };
        let result = match action {
            os::NotificationAction::Answer => shell.app.answer(&id).await,
            os::NotificationAction::Reject => shell.app.reject(&id).await,
            os::NotificationAction::Focus => {
                show_main_window(&handle);
                let _ = handle.emit(
                    "app:navigate",
                    NavigateView {
                        panel: "calls".into(),
                        conversation_id: None,
                    },
                );
                Ok(())
            }
            os::NotificationAction::Dismissed => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "notification action failed");
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn uses_spanish(language: Language) -> bool {
    match language {
        Language::Spanish => true,
        Language::English => false,
        Language::Auto => {
            sys_locale::get_locale().is_none_or(|l| l.to_lowercase().starts_with("es"))
        }
    }
}

fn show_main_window(handle: &AppHandle) {
    if let Some(w) = handle.get_webview_window(MAIN_WINDOW) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

fn tray_image(activity: Activity) -> Option<Image<'static>> {
    let bytes: &'static [u8] = match activity {
        Activity::Idle => include_bytes!("../../icons/tray-idle.png"),
        Activity::Ringing => include_bytes!("../../icons/tray-ringing.png"),
        Activity::InCall => include_bytes!("../../icons/tray-in-call.png"),
        Activity::Offline => include_bytes!("../../icons/tray-offline.png"),
    };
    Image::from_bytes(bytes).ok()
}

fn tray_tooltip(activity: Activity) -> &'static str {
    match activity {
        Activity::Idle => "Enlace — disponible / available",
        Activity::Ringing => "Enlace — llamada entrante / incoming call",
        Activity::InCall => "Enlace — en llamada / in a call",
        Activity::Offline => "Enlace — línea sin conexión / phone line offline",
    }
}

fn set_tray_activity(handle: &AppHandle, activity: Activity) {
    if let Some(tray) = handle.tray_by_id(TRAY_ID) {
        if let Some(image) = tray_image(activity) {
            let _ = tray.set_icon(Some(image));
        }
        let _ = tray.set_tooltip(Some(tray_tooltip(activity)));
    }
}

fn build_tray(handle: &AppHandle) -> tauri::Result<TrayIcon> {
    let spanish = uses_spanish(Language::Auto);
    let show = MenuItem::with_id(
        handle,
        "show",
        if spanish {
            "Mostrar Enlace"
        } else {
            "Show Enlace"
        },
        true,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(
        handle,
        "quit",
        if spanish { "Salir" } else { "Quit" },
        true,
        None::<&str>,
    )?;
    let menu = Menu::with_items(handle, &[&show, &quit])?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip(tray_tooltip(Activity::Offline))
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "quit" => app.exit(0),
            "show" => show_main_window(app),
            _ => {}
        });
    if let Some(image) = tray_image(Activity::Offline) {
        builder = builder.icon(image);
    }
    builder.build(handle)
}

/// Whether the deep-link plugin already delivers this forwarded argv (a single tel:/callto:
/// argument); everything else a second instance forwards is handled by us.
fn deep_link_delivers(argv: &[String]) -> bool {
    argv.len() == 2
        && argv.get(1).is_some_and(|a| {
            let lower = a.to_ascii_lowercase();
            lower.starts_with("tel:") || lower.starts_with("callto:")
        })
}

fn dial_link(handle: &AppHandle, url: String) {
    show_main_window(handle);
    let handle = handle.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(shell) = handle.try_state::<Shell>() {
            shell.app.dial_link(&url).await;
        }
    });
}

/// Run the desktop app. `launch_url` is the link of a cold start.
pub fn run(launch_url: Option<String>) -> Result<(), String> {
    let channel = BuildChannel::current();
    let mut context = tauri::generate_context!();
    channel.apply(context.config_mut());
    // The window (and taskbar) icon of the channel: dev builds wear the "DEV" band.
    context.set_default_window_icon(Image::from_bytes(channel.window_icon()).ok());

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|handle, argv, _cwd| {
            show_main_window(handle);
            if !deep_link_delivers(&argv) {
                if let Some(url) = crate::cli::link_from_forwarded_argv(&argv) {
                    dial_link(handle, url);
                }
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .invoke_handler(tauri::generate_handler![
            crate::commands::calls_pending,
            crate::commands::calls_history,
            crate::commands::calls_open,
            crate::commands::call_ignore,
            crate::commands::call_dial,
            crate::commands::call_answer,
            crate::commands::call_reject,
            crate::commands::call_hangup,
            crate::commands::settings_get,
            crate::commands::settings_save,
            crate::commands::line_status,
            crate::commands::handler_status,
            crate::commands::handler_register,
            crate::commands::app_info,
            crate::commands::ui_ready,
            crate::commands::crm_status,
            crate::commands::crm_sign_in,
            crate::commands::crm_password_sign_in,
            crate::commands::crm_unlink,
            crate::commands::contacts_search,
            crate::commands::contacts_cached,
            crate::commands::call_attach,
            crate::commands::call_create_contact,
            crate::commands::call_log,
            crate::commands::crm_write_retry,
            crate::commands::crm_write_use_existing,
            crate::commands::record_open,
            crate::commands::hub_status,
            crate::commands::hub_login,
            crate::commands::hub_logout,
            crate::commands::pause_reasons,
            crate::commands::agent_pause,
            crate::commands::agent_unpause,
            crate::commands::agent_exit_check,
            crate::commands::agent_exit,
            crate::commands::agent_day,
            crate::commands::agents_live,
        ])
        .setup(move |tauri_app| {
            let handle = tauri_app.handle().clone();
            let shell = tauri::async_runtime::block_on(start_shell(handle.clone(), channel));
            tauri_app.manage(shell);
            if let Err(e) = build_tray(&handle) {
                tracing::warn!(error = %e, "no tray icon");
            }
            let links = handle.clone();
            tauri_app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    dial_link(&links, url.to_string());
                }
            });
            if let Some(url) = launch_url.clone() {
                dial_link(&handle, url);
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                // Closing the window keeps Enlace in the tray; Quit is in the tray menu.
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(context)
        .map_err(|e| format!("could not start the window: {e}"))?;

    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            if let Some(shell) = handle.try_state::<Shell>() {
                tauri::async_runtime::block_on(shell.app.shutdown());
            }
        }
    });
    Ok(())
}

/// Open the store (or degrade to memory, saying why) and start the app.
async fn start_shell(handle: AppHandle, channel: BuildChannel) -> Shell {
    let data_dir = channel.data_dir();
    let (store, problems) = match enlace_app::open_store(&data_dir) {
        Ok(opened) => opened,
        Err(e) => {
            // An in-memory SQLite failing means the process is out of memory.
            tracing::error!(error = %e, "cannot open an in-memory database");
            std::process::exit(70);
        }
    };
    let options = AppOptions {
        demo_line: std::env::var("ENLACE_DEMO_LINE")
            .ok()
            .and_then(|v| DemoLine::parse(&v)),
        dial_trace: std::env::var_os("ENLACE_TRACE_DIAL").map(PathBuf::from),
        call_ids: None,
        secrets: Some(enlace_secrets::SecretStore::new(channel.secrets())),
        demo_crm: std::env::var("ENLACE_DEMO_CRM")
            .ok()
            .and_then(|v| enlace_app::settings::demo_crm_config(&v)),
    };
    let host = TauriHost {
        handle,
        ringing: Arc::new(Mutex::new(Vec::new())),
        matches: Mutex::new(HashMap::new()),
        browser: std::env::var("ENLACE_BROWSER")
            .ok()
            .and_then(|v| Browser::from_command_line(&v))
            .unwrap_or(Browser::System),
    };
    let app = match App::start(host, store, Arc::new(SystemClock), options).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            std::process::exit(70);
        }
    };
    Shell {
        app,
        channel,
        data_dir,
        problems,
        ready_file: std::env::var_os("ENLACE_READY_FILE").map(PathBuf::from),
        ready_written: AtomicBool::new(false),
    }
}
