//! Desktop start-up: plugins (single instance first, then deep link), the main window, the
//! tray, and the [`Host`] that turns domain events into UI events, notifications and tray
//! pictures. Everything here is wiring; behaviour lives in `enlace-app`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use enlace_app::{App, AppOptions, DemoLine, DomainEvent, Host, Language};
use enlace_core::{CallId, Contact, SystemClock};
use enlace_os::browser::Browser;
use enlace_os::notify;
use tauri::image::Image;
use tauri::{AppHandle, DragDropEvent, Emitter, Manager, RunEvent, WindowEvent};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::channel::BuildChannel;
use crate::media;
use crate::os::{self, IncomingNotification};
use crate::tray::{self, TrayState};
use crate::window::{self, MainWindow};
use crate::wire::{
    self, AppInfoView, CallView, ChatCommentView, ChatMessageView, ContactView, ConversationView,
    CrmStatusView, InboxCountsView, InboxMessageEvent, LineStatusView, NavigateView, WireError,
};

/// Managed state: the running app plus what the shell itself knows.
pub struct Shell {
    pub app: App<TauriHost>,
    channel: BuildChannel,
    data_dir: PathBuf,
    problems: Vec<String>,
    ready_file: Option<PathBuf>,
    ready_written: AtomicBool,
    /// What the tray shows (shared with the host, which updates it).
    tray: Arc<TrayState>,
    /// Opens map links (`open_external`) and downloaded documents (`media_open`).
    browser: Browser,
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

    /// Opens an http(s) link in the system browser (a chat location's map).
    pub fn open_external(&self, url: &str) -> Result<(), WireError> {
        self.browser.open(url).map_err(os::open_error)
    }

    /// Opens a downloaded file with the OS's program for it.
    pub fn open_file(&self, path: &std::path::Path) -> Result<(), WireError> {
        self.browser.open_file(path).map_err(os::open_error)
    }

    /// The window was built again (after a release): its first paint is reported again.
    pub fn window_rebuilt(&self) {
        self.ready_written.store(false, Ordering::SeqCst);
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
    tray: Arc<TrayState>,
    /// The chat notifications on screen, by conversation.
    chat_notifications: Arc<Mutex<HashMap<i64, os::NotificationHandle>>>,
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
                self.tray.set_activity(handle, activity);
                Ok(())
            }
            DomainEvent::DialFailed { error, .. } => {
                show_main_window(handle);
                handle.emit("dial:failed", WireError::from(error))
            }
            DomainEvent::InboxConversation(conversation) => {
                let view = ConversationView::from(&conversation);
                // Read, attended, or served by someone else: its notification is old news.
                let taken_by_other = !view.mine && view.agent_id.is_some();
                if view.unread == 0
                    || taken_by_other
                    || view.state == wire::ConversationStateView::Attended
                {
                    self.withdraw_chat_notification(view.id);
                }
                self.tray.request_chats();
                handle.emit("inbox:changed", view)
            }
            DomainEvent::InboxMessage {
                conversation,
                message,
            } => handle.emit(
                "inbox:message",
                InboxMessageEvent {
                    conversation: ConversationView::from(&conversation),
                    message: ChatMessageView::from(&message),
                },
            ),
            DomainEvent::InboxComment(comment) => {
                handle.emit("inbox:comment", ChatCommentView::from(&comment))
            }
            DomainEvent::InboxCounts(counts) => {
                // Signed out, the cache's chats wait for nobody here.
                let waiting = if counts.available { counts.waiting } else { 0 };
                if self.tray.set_waiting(handle, waiting) {
                    if let Some(shell) = handle.try_state::<Shell>() {
                        shell.app.trace(&format!("tray-waiting {waiting}"));
                    }
                }
                self.tray.request_chats();
                handle.emit("inbox:counts", InboxCountsView::from(counts))
            }
            DomainEvent::InboxUpload {
                conversation_id,
                key,
                sent,
                total,
            } => handle.emit(
                "inbox:upload",
                wire::UploadProgressEvent {
                    conversation_id,
                    key,
                    sent,
                    total,
                },
            ),
            DomainEvent::ChatNotify {
                conversation,
                preview,
            } => {
                let settings = handle.try_state::<Shell>().map(|s| s.app.settings());
                if settings.as_ref().is_none_or(|s| s.notifications) {
                    let spanish = settings.is_none_or(|s| uses_spanish(s.language));
                    let view = ConversationView::from(&conversation);
                    self.notify_chat(view.id, os::chat_notification(&view, &preview, spanish));
                }
                Ok(())
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not emit an event to the webview");
        }
    }

    fn open_url(&self, url: &str) -> Result<(), String> {
        self.browser.open(url).map_err(|e| e.to_string())
    }

    fn os_position(&self) -> Option<(f64, f64, Option<f64>)> {
        let spec = os::handler_spec(BuildChannel::current());
        enlace_os::position::os_position_as(
            &spec.desktop_id,
            enlace_os::position::MAX_POSITION_WAIT,
        )
    }
}

impl TauriHost {
    /// Show a chat's notification off the calling thread (a D-Bus round trip); it replaces the
    /// chat's previous one, and a click opens the chat.
    fn notify_chat(&self, conversation_id: i64, message: notify::ChatMessage) {
        let handle = self.handle.clone();
        let shown_chats = Arc::clone(&self.chat_notifications);
        tauri::async_runtime::spawn_blocking(move || {
            let on_action = {
                let handle = handle.clone();
                move |action| {
                    if action == os::NotificationAction::Focus {
                        open_chat(&handle, conversation_id);
                    }
                }
            };
            match os::show_chat(&message, on_action) {
                Ok(shown) => {
                    if let Some(shell) = handle.try_state::<Shell>() {
                        shell
                            .app
                            .trace(&format!("chat-notification-shown {conversation_id}"));
                    }
                    if let Some(previous) = lock(&shown_chats).insert(conversation_id, shown) {
                        previous.close();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not show a chat notification"),
            }
        });
    }

    /// The chat was read (or is no longer the agent's): its notification goes away.
    fn withdraw_chat_notification(&self, conversation_id: i64) {
        if let Some(shown) = lock(&self.chat_notifications).remove(&conversation_id) {
            tauri::async_runtime::spawn_blocking(move || shown.close());
        }
    }

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
    window::show(handle);
}

/// A click in the tray menu.
fn tray_menu(handle: &AppHandle, action: tray::MenuAction) {
    match action {
        tray::MenuAction::Quit => handle.exit(0),
        tray::MenuAction::Show => show_main_window(handle),
        tray::MenuAction::OpenChat(id) => open_chat(handle, id),
        tray::MenuAction::None => {}
    }
}

/// Shows the window on the chat (a tray menu entry or a chat notification was clicked).
fn open_chat(handle: &AppHandle, conversation_id: i64) {
    show_main_window(handle);
    let request = NavigateView {
        panel: "inbox".into(),
        conversation_id: Some(conversation_id),
    };
    if let Err(e) = handle.emit("app:navigate", request) {
        tracing::warn!(error = %e, "could not ask the window for the chat");
    }
}

/// Keeps the tray menu's list of waiting chats current: read again (from the cache) after each
/// request, one reading at a time, requests made meanwhile coalesced into the next one.
async fn follow_waiting_chats(handle: AppHandle, tray: Arc<TrayState>) {
    loop {
        tray.chats_requested().await;
        let Some(shell) = handle.try_state::<Shell>() else {
            continue;
        };
        // Signed out (or no WhatsApp): the cache may still hold chats, none waits here.
        let available = shell.app.inbox_counts().await.is_ok_and(|c| c.available);
        let listed = if available {
            shell
                .app
                .inbox_conversations(enlace_app::InboxFilter::Mine, "")
                .await
        } else {
            Ok(Vec::new())
        };
        match listed {
            Ok(list) => {
                let chats = list
                    .iter()
                    .filter(|c| c.mine && c.state == enlace_app::InboxConversationState::Open)
                    .map(|c| tray::TrayChat::from_view(&ConversationView::from(c)))
                    .collect();
                let spanish = uses_spanish(shell.app.settings().language);
                tray.set_chats(&handle, chats, spanish);
            }
            Err(e) => tracing::warn!(code = %e.code(), "tray: could not list the waiting chats"),
        }
    }
}

/// The dropped files the chat can stage: their paths as text (a path that is not UTF-8 cannot
/// be named to the app and is left out).
fn dropped_paths(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| p.to_str().map(str::to_owned))
        .collect()
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
    dial_in_core(handle, url);
}

/// Dials a link in the Rust core, whatever the window is doing.
fn dial_in_core(handle: &AppHandle, url: String) {
    let handle = handle.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(shell) = handle.try_state::<Shell>() {
            shell.app.dial_link(&url).await;
        }
    });
}

/// Serves `org.freedesktop.Application` under the channel's id, so `enlace-open` and
/// D-Bus-activating launchers reach this instance without starting a GUI process. Runs on the
/// bus's thread: the dial is queued in the core at once, the window is raised on the main
/// thread with the launcher's activation token.
fn serve_activation(
    handle: &AppHandle,
    channel: BuildChannel,
) -> Option<enlace_activation::Service> {
    let links = handle.clone();
    let on_request = Box::new(move |request| match request {
        enlace_activation::Request::Open { uris, token } => {
            for url in uris {
                dial_in_core(&links, url);
            }
            raise_main_window(&links, token);
        }
        enlace_activation::Request::Activate { token } => raise_main_window(&links, token),
        enlace_activation::Request::Hide => window::hide(&links),
    });
    match enlace_activation::serve(channel.identifier(), None, on_request) {
        Ok(service) => Some(service),
        Err(e) => {
            tracing::warn!(code = e.code(), error = %e, "links reach this instance only through the single-instance plugin");
            None
        }
    }
}

/// Shows the window; the launcher's activation token (when given) lets it come to the front.
fn raise_main_window(handle: &AppHandle, token: Option<String>) {
    let raise = handle.clone();
    let shown = handle.run_on_main_thread(move || {
        #[cfg(all(unix, not(target_os = "macos")))]
        if let (Some(token), Some(window)) = (token, raise.get_webview_window(window::MAIN)) {
            use gtk::prelude::GtkWindowExt;
            if let Ok(gtk_window) = window.gtk_window() {
                gtk_window.set_startup_id(&token);
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = token;
        show_main_window(&raise);
    });
    if let Err(e) = shown {
        tracing::warn!(error = %e, "could not show the window");
    }
}

/// Run the desktop app. `launch_url` is the link of a cold start.
pub fn run(launch_url: Option<String>) -> Result<(), String> {
    let channel = BuildChannel::current();
    let mut context = tauri::generate_context!();
    channel.apply(context.config_mut());
    // The window (and taskbar) icon of the channel: dev builds wear the "DEV" band.
    context.set_default_window_icon(Image::from_bytes(channel.window_icon()).ok());
    let mut main_window = MainWindow::take_from(context.config_mut());

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
        .plugin(tauri_plugin_dialog::init())
        .register_asynchronous_uri_scheme_protocol(media::SCHEME, |ctx, request, responder| {
            let handle = ctx.app_handle().clone();
            tauri::async_runtime::spawn(async move {
                responder.respond(media::serve(handle, request).await);
            });
        })
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
            crate::commands::inbox_conversations,
            crate::commands::inbox_counts,
            crate::commands::inbox_timeline,
            crate::commands::inbox_viewing,
            crate::commands::inbox_send,
            crate::commands::inbox_retry,
            crate::commands::inbox_comment,
            crate::commands::inbox_attended,
            crate::commands::inbox_take,
            crate::commands::inbox_release,
            crate::commands::inbox_templates,
            crate::commands::inbox_canned_responses,
            crate::commands::inbox_numbers,
            crate::commands::inbox_start,
            crate::commands::media_open,
            crate::commands::open_external,
            crate::commands::inbox_pick_file,
            crate::commands::inbox_stage_file,
            crate::commands::inbox_stage_bytes,
            crate::commands::inbox_discard_staged,
            crate::commands::inbox_send_staged,
            crate::commands::voice_record_start,
            crate::commands::voice_record_status,
            crate::commands::voice_record_stop,
            crate::commands::voice_record_discard,
            crate::commands::audio_inputs,
            crate::commands::media_waveform,
            crate::commands::inbox_quick_addresses,
            crate::commands::inbox_quick_address_save,
            crate::commands::inbox_quick_address_delete,
            crate::commands::location_here,
        ])
        .setup(move |tauri_app| {
            let handle = tauri_app.handle().clone();
            window::tune_webkit_processes();
            // The window first: its webview loads the UI while the core starts.
            if let Some(main_window) = main_window.take() {
                main_window.build(&handle, false)?;
                tauri_app.manage(main_window);
            }
            let shell = tauri::async_runtime::block_on(start_shell(handle.clone(), channel));
            let tray_state = Arc::clone(&shell.tray);
            let spanish = uses_spanish(shell.app.settings().language);
            tray_state.set_spanish(spanish);
            tauri_app.manage(shell);
            match tray::build(&handle, spanish, tray_menu) {
                Ok(_) => tray_state.apply_all(&handle),
                Err(e) => tracing::warn!(error = %e, "no tray icon"),
            }
            tray_state.request_chats();
            tauri::async_runtime::spawn(follow_waiting_chats(handle.clone(), tray_state));
            if let Some(service) = serve_activation(&handle, channel) {
                tauri_app.manage(service);
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
        .on_window_event(|window, event| match event {
            WindowEvent::CloseRequested { api, .. } => {
                // Closing the window keeps Enlace in the tray; Quit is in the tray menu.
                api.prevent_close();
                window::hide(window.app_handle());
            }
            // Files dropped on the window: the chat stages them (`inbox_stage_file`).
            WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) => {
                let paths = dropped_paths(paths);
                if !paths.is_empty() {
                    if let Err(e) = window.emit("files:dropped", paths) {
                        tracing::warn!(error = %e, "could not pass dropped files to the window");
                    }
                }
            }
            _ => {}
        })
        .build(context)
        .map_err(|e| format!("could not start the window: {e}"))?;

    app.run(|handle, event| match event {
        // The window was released (hidden in the tray for a while): Enlace keeps running.
        // Quit (tray menu) asks with a code and is not held back.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(shell) = handle.try_state::<Shell>() {
                tauri::async_runtime::block_on(shell.app.shutdown());
            }
        }
        _ => {}
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
        demo_map_tiles: std::env::var("ENLACE_DEMO_MAP_TILES")
            .ok()
            .filter(|v| enlace_app::map_tiles::tile_url_problem(v).is_none()),
    };
    let browser = std::env::var("ENLACE_BROWSER")
        .ok()
        .and_then(|v| Browser::from_command_line(&v))
        .unwrap_or(Browser::System);
    let tray = Arc::new(TrayState::new(uses_spanish(Language::Auto)));
    let host = TauriHost {
        handle,
        ringing: Arc::new(Mutex::new(Vec::new())),
        matches: Mutex::new(HashMap::new()),
        browser: browser.clone(),
        tray: Arc::clone(&tray),
        chat_notifications: Arc::new(Mutex::new(HashMap::new())),
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
        tray,
        browser,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_files_reach_the_chat_as_text_paths() {
        let mut paths = vec![
            PathBuf::from("/home/ana/Documentos/cotización 12.pdf"),
            PathBuf::from("/tmp/foto.png"),
        ];
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            paths.push(PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/\xff.png")));
        }
        assert_eq!(
            dropped_paths(&paths),
            ["/home/ana/Documentos/cotización 12.pdf", "/tmp/foto.png"]
        );
    }
}
