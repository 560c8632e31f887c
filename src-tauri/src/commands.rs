//! IPC adapters: each command extracts its arguments, calls the app, maps the error.

use enlace_app::DialSource;
use enlace_core::CallId;
use tauri::State;

use crate::shell::Shell;
use crate::wire::{
    AppInfoView, CallView, DialView, HandlerStatusView, LineStatusView, SettingsView, WireError,
};

type Reply<T> = Result<T, WireError>;

#[tauri::command]
pub async fn calls_pending(shell: State<'_, Shell>) -> Reply<Vec<CallView>> {
    Ok(shell
        .app
        .pending_calls()
        .await?
        .iter()
        .map(CallView::from)
        .collect())
}

#[tauri::command]
pub async fn calls_history(shell: State<'_, Shell>) -> Reply<Vec<CallView>> {
    Ok(shell
        .app
        .history()
        .await?
        .iter()
        .map(CallView::from)
        .collect())
}

#[tauri::command]
pub async fn calls_open(shell: State<'_, Shell>) -> Reply<Vec<CallView>> {
    Ok(shell.app.open_calls().iter().map(CallView::from).collect())
}

#[tauri::command]
pub async fn call_ignore(shell: State<'_, Shell>, id: String) -> Reply<CallView> {
    Ok(CallView::from(&shell.app.ignore(&CallId(id)).await?))
}

#[tauri::command]
pub async fn call_dial(shell: State<'_, Shell>, input: String) -> Reply<DialView> {
    Ok(DialView::from(
        &shell.app.dial(&input, DialSource::Ui).await?,
    ))
}

#[tauri::command]
pub async fn call_answer(shell: State<'_, Shell>, id: String) -> Reply<()> {
    Ok(shell.app.answer(&CallId(id)).await?)
}

#[tauri::command]
pub async fn call_reject(shell: State<'_, Shell>, id: String) -> Reply<()> {
    Ok(shell.app.reject(&CallId(id)).await?)
}

#[tauri::command]
pub async fn call_hangup(shell: State<'_, Shell>, id: String) -> Reply<()> {
    Ok(shell.app.hangup(&CallId(id)).await?)
}

#[tauri::command]
pub async fn settings_get(shell: State<'_, Shell>) -> Reply<SettingsView> {
    Ok(SettingsView::from(&shell.app.settings()))
}

#[tauri::command]
pub async fn settings_save(shell: State<'_, Shell>, settings: SettingsView) -> Reply<SettingsView> {
    let saved = shell.app.save_settings(settings.into_settings()?).await?;
    Ok(SettingsView::from(&saved))
}

#[tauri::command]
pub async fn line_status(shell: State<'_, Shell>) -> Reply<LineStatusView> {
    Ok(shell.line_status_view())
}

#[tauri::command]
pub async fn handler_status(shell: State<'_, Shell>) -> Reply<HandlerStatusView> {
    let spec = shell.handler_spec();
    tauri::async_runtime::spawn_blocking(move || crate::os::handler_view(&spec))
        .await
        .map_err(crate::os::internal)
}

#[tauri::command]
pub async fn handler_register(shell: State<'_, Shell>) -> Reply<HandlerStatusView> {
    let spec = shell.handler_spec();
    tauri::async_runtime::spawn_blocking(move || crate::os::register_handler(&spec))
        .await
        .map_err(crate::os::internal)?
}

#[tauri::command]
pub async fn app_info(shell: State<'_, Shell>) -> Reply<AppInfoView> {
    Ok(shell.app_info())
}

/// The UI painted its first frame (used by the cold-start benchmark).
#[tauri::command]
pub async fn ui_ready(shell: State<'_, Shell>) -> Reply<()> {
    shell.mark_ui_ready();
    Ok(())
}
