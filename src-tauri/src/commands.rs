//! IPC adapters: each command extracts its arguments, calls the app, maps the error.

use std::path::Path;

use enlace_app::{AppError, DialSource};
use enlace_core::{CallId, RecordRef};
use enlace_secrets::Sensitive;
use tauri::State;

use crate::shell::Shell;
use crate::wire::{
    AgentLiveView, AgentStateView, AppInfoView, AudioInputView, BusinessNumberView, CallView,
    CannedResponseView, ChatCommentView, ChatMessageView, ChatPageView, ContactKindView,
    ContactView, ConversationView, CrmKind, CrmStatusView, DayView, DialView, ExitChatView,
    ExitCheckView, HandlerStatusView, HubStatusView, InboxCountsView, InboxFilter, LineStatusView,
    NewContactInput, OutgoingMessageInput, PauseReasonView, PositionView, QuickAddressView,
    RecordingStatusView, SettingsView, StagedFileView, TemplateView, WireError,
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

/// `zoho_client_secret`: a new Zoho client secret, `""` to forget it, absent to keep it.
#[tauri::command]
pub async fn settings_save(
    shell: State<'_, Shell>,
    settings: SettingsView,
    zoho_client_secret: Option<String>,
) -> Reply<SettingsView> {
    let current = shell.app.settings();
    let secret = zoho_client_secret.map_or(current.zoho.client_secret, |s| s.trim().to_owned());
    let mut new = settings.into_settings(secret)?;
    (new.hub_server, new.hub_user) = (current.hub_server, current.hub_user);
    let saved = shell.app.save_settings(new).await?;
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

#[tauri::command]
pub async fn crm_status(shell: State<'_, Shell>) -> Reply<CrmStatusView> {
    Ok(CrmStatusView::from(&shell.app.crm_status().await?))
}

/// Link a CRM through the system browser (waits for the redirect, up to five minutes).
#[tauri::command]
pub async fn crm_sign_in(shell: State<'_, Shell>, crm: CrmKind) -> Reply<CrmStatusView> {
    Ok(CrmStatusView::from(
        &shell.app.crm_sign_in(crm.into()).await?,
    ))
}

#[tauri::command]
pub async fn crm_password_sign_in(
    shell: State<'_, Shell>,
    username: String,
    password_and_token: String,
) -> Reply<CrmStatusView> {
    let secret = Sensitive::new(password_and_token);
    let status = shell.app.crm_password_sign_in(username, secret).await?;
    Ok(CrmStatusView::from(&status))
}

#[tauri::command]
pub async fn crm_unlink(shell: State<'_, Shell>, crm: CrmKind) -> Reply<CrmStatusView> {
    Ok(CrmStatusView::from(
        &shell.app.crm_unlink(crm.into()).await?,
    ))
}

/// Contactos and Buscar: the cache, then the linked CRMs.
#[tauri::command]
pub async fn contacts_search(shell: State<'_, Shell>, query: String) -> Reply<Vec<ContactView>> {
    let found = shell.app.search_contacts(&query).await?;
    Ok(found.iter().map(ContactView::from).collect())
}

/// Search as you type: the cache only.
#[tauri::command]
pub async fn contacts_cached(shell: State<'_, Shell>, query: String) -> Reply<Vec<ContactView>> {
    let found = shell.app.cached_contacts(&query).await?;
    Ok(found.iter().map(ContactView::from).collect())
}

#[tauri::command]
pub async fn call_attach(
    shell: State<'_, Shell>,
    id: String,
    crm: CrmKind,
    kind: ContactKindView,
    record_id: String,
) -> Reply<CallView> {
    let record = RecordRef {
        crm: crm.into(),
        kind: kind.into(),
        id: record_id,
    };
    Ok(CallView::from(
        &shell.app.attach_record(&CallId(id), record).await?,
    ))
}

#[tauri::command]
pub async fn call_create_contact(
    shell: State<'_, Shell>,
    id: String,
    contact: NewContactInput,
) -> Reply<CallView> {
    let log = shell
        .app
        .create_contact_for_call(&CallId(id), contact.into())
        .await?;
    Ok(CallView::from(&log))
}

#[tauri::command]
pub async fn call_log(
    shell: State<'_, Shell>,
    id: String,
    subject: String,
    comment: String,
) -> Reply<CallView> {
    let log = shell.app.log_call(&CallId(id), subject, comment).await?;
    Ok(CallView::from(&log))
}

#[tauri::command]
pub async fn crm_write_retry(shell: State<'_, Shell>, id: i64) -> Reply<CallView> {
    match shell.app.retry_crm_write(id).await? {
        Some(log) => Ok(CallView::from(&log)),
        None => Err(AppError::CallNotFound(format!("of CRM write {id}")).into()),
    }
}

/// "Asociar al registro existente": settle a creation refused as a duplicate with the record
/// the CRM matched; the call goes to that record.
#[tauri::command]
pub async fn crm_write_use_existing(shell: State<'_, Shell>, id: i64) -> Reply<CallView> {
    match shell.app.use_existing_record(id).await? {
        Some(log) => Ok(CallView::from(&log)),
        None => Err(AppError::CallNotFound(format!("of CRM write {id}")).into()),
    }
}

/// Ver: open the record in the CRM's web UI.
#[tauri::command]
pub async fn record_open(
    shell: State<'_, Shell>,
    crm: CrmKind,
    kind: ContactKindView,
    id: String,
) -> Reply<()> {
    let record = RecordRef {
        crm: crm.into(),
        kind: kind.into(),
        id,
    };
    Ok(shell.app.open_record(record).await?)
}

#[tauri::command]
pub async fn hub_status(shell: State<'_, Shell>) -> Reply<HubStatusView> {
    Ok(shell.hub_status_view(&shell.app.hub_status()))
}

/// Ingresar: the 7-digit user and 6-digit password at the organization's server.
#[tauri::command]
pub async fn hub_login(
    shell: State<'_, Shell>,
    server: String,
    user: String,
    password: String,
) -> Reply<HubStatusView> {
    let status = shell
        .app
        .hub_login(&server, &user, Sensitive::new(password))
        .await?;
    Ok(shell.hub_status_view(&status))
}

#[tauri::command]
pub async fn hub_logout(shell: State<'_, Shell>) -> Reply<HubStatusView> {
    let status = shell.app.hub_logout().await?;
    Ok(shell.hub_status_view(&status))
}

#[tauri::command]
pub async fn pause_reasons(shell: State<'_, Shell>) -> Reply<Vec<PauseReasonView>> {
    let reasons = shell.app.pause_reasons().await?;
    Ok(reasons.iter().map(PauseReasonView::from).collect())
}

#[tauri::command]
pub async fn agent_pause(shell: State<'_, Shell>, reason_id: i64) -> Reply<AgentStateView> {
    let state = shell.app.agent_pause(reason_id).await?;
    Ok(AgentStateView::new(&state, shell.app.over_budget(&state)))
}

#[tauri::command]
pub async fn agent_unpause(shell: State<'_, Shell>) -> Reply<AgentStateView> {
    let state = shell.app.agent_unpause().await?;
    Ok(AgentStateView::new(&state, false))
}

#[tauri::command]
pub async fn agent_exit_check(shell: State<'_, Shell>) -> Reply<ExitCheckView> {
    let check = shell.app.agent_exit_check().await?;
    Ok(ExitCheckView {
        pending_calls: check.pending_calls,
        pending_writes: check.pending_writes,
        chats: check.chats.iter().map(ExitChatView::from).collect(),
    })
}

/// Salida: leave the queues and log out.
#[tauri::command]
pub async fn agent_exit(shell: State<'_, Shell>) -> Reply<HubStatusView> {
    let status = shell.app.agent_exit().await?;
    Ok(shell.hub_status_view(&status))
}

#[tauri::command]
pub async fn agent_day(shell: State<'_, Shell>) -> Reply<DayView> {
    Ok(DayView::from(&shell.app.agent_day().await?))
}

#[tauri::command]
pub async fn agents_live(shell: State<'_, Shell>) -> Reply<Vec<AgentLiveView>> {
    let agents = shell.app.agents_live().await?;
    Ok(agents.iter().map(AgentLiveView::from).collect())
}

/// A chat location's map link: only http(s) addresses, in the system browser
/// (`unsupported_scheme` otherwise).
#[tauri::command]
pub async fn open_external(shell: State<'_, Shell>, url: String) -> Reply<()> {
    shell.open_external(&url)
}

// ---- Omnicanalidad (WhatsApp through the hub) ----

#[tauri::command]
pub async fn inbox_conversations(
    shell: State<'_, Shell>,
    filter: InboxFilter,
    search: String,
) -> Reply<Vec<ConversationView>> {
    let list = shell
        .app
        .inbox_conversations(filter.into(), &search)
        .await?;
    Ok(list.iter().map(ConversationView::from).collect())
}

#[tauri::command]
pub async fn inbox_counts(shell: State<'_, Shell>) -> Reply<InboxCountsView> {
    Ok(shell.app.inbox_counts().await?.into())
}

#[tauri::command]
pub async fn inbox_timeline(
    shell: State<'_, Shell>,
    conversation_id: i64,
    before: Option<i64>,
    limit: u32,
) -> Reply<ChatPageView> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let page = shell
        .app
        .inbox_timeline(conversation_id, before, limit)
        .await?;
    Ok(ChatPageView::from(&page))
}

#[tauri::command]
pub async fn inbox_viewing(shell: State<'_, Shell>, conversation_id: Option<i64>) -> Reply<()> {
    Ok(shell.app.inbox_viewing(conversation_id).await?)
}

#[tauri::command]
pub async fn inbox_send(
    shell: State<'_, Shell>,
    conversation_id: i64,
    client_id: String,
    message: OutgoingMessageInput,
) -> Reply<ChatMessageView> {
    let sent = shell
        .app
        .inbox_send(conversation_id, &client_id, message.into())
        .await?;
    Ok(ChatMessageView::from(&sent))
}

#[tauri::command]
pub async fn inbox_retry(
    shell: State<'_, Shell>,
    conversation_id: i64,
    key: String,
) -> Reply<ChatMessageView> {
    let sent = shell.app.inbox_retry(conversation_id, &key).await?;
    Ok(ChatMessageView::from(&sent))
}

#[tauri::command]
pub async fn inbox_comment(
    shell: State<'_, Shell>,
    conversation_id: i64,
    body: String,
) -> Reply<ChatCommentView> {
    let comment = shell.app.inbox_comment(conversation_id, &body).await?;
    Ok(ChatCommentView::from(&comment))
}

/// Marcar atendido.
#[tauri::command]
pub async fn inbox_attended(
    shell: State<'_, Shell>,
    conversation_id: i64,
) -> Reply<ConversationView> {
    let c = shell.app.inbox_attended(conversation_id).await?;
    Ok(ConversationView::from(&c))
}

#[tauri::command]
pub async fn inbox_take(shell: State<'_, Shell>, conversation_id: i64) -> Reply<ConversationView> {
    let c = shell.app.inbox_take(conversation_id).await?;
    Ok(ConversationView::from(&c))
}

#[tauri::command]
pub async fn inbox_release(
    shell: State<'_, Shell>,
    conversation_id: i64,
) -> Reply<ConversationView> {
    let c = shell.app.inbox_release(conversation_id).await?;
    Ok(ConversationView::from(&c))
}

#[tauri::command]
pub async fn inbox_templates(shell: State<'_, Shell>) -> Reply<Vec<TemplateView>> {
    let list = shell.app.inbox_templates().await?;
    Ok(list.iter().map(TemplateView::from).collect())
}

#[tauri::command]
pub async fn inbox_canned_responses(shell: State<'_, Shell>) -> Reply<Vec<CannedResponseView>> {
    let list = shell.app.inbox_canned_responses().await?;
    Ok(list.iter().map(CannedResponseView::from).collect())
}

#[tauri::command]
pub async fn inbox_numbers(shell: State<'_, Shell>) -> Reply<Vec<BusinessNumberView>> {
    let list = shell.app.inbox_numbers().await?;
    Ok(list.iter().map(BusinessNumberView::from).collect())
}

/// WhatsApp from a call card.
#[tauri::command]
pub async fn inbox_start(
    shell: State<'_, Shell>,
    business_number: String,
    customer_number: String,
    client_id: String,
    message: OutgoingMessageInput,
) -> Reply<ConversationView> {
    let c = shell
        .app
        .inbox_start(
            &business_number,
            &customer_number,
            &client_id,
            message.into(),
        )
        .await?;
    Ok(ConversationView::from(&c))
}

/// A chat document: downloaded once, then opened with the OS's program for it.
#[tauri::command]
pub async fn media_open(shell: State<'_, Shell>, media_id: String) -> Reply<()> {
    let path = shell.app.inbox_media_path(&media_id).await?;
    shell.open_file(&path)
}

// ---- sending files, voice notes and locations (issue 12) ----

/// Agregar archivo → Seleccionar archivo: the OS's file dialog (opening in Documents), then
/// the picked file staged; `None` when the agent cancels.
#[tauri::command]
pub async fn inbox_pick_file(
    handle: tauri::AppHandle,
    shell: State<'_, Shell>,
) -> Reply<Option<StagedFileView>> {
    let Some(path) = crate::os::pick_file(handle).await else {
        return Ok(None);
    };
    let staged = shell.app.inbox_stage_file(&path).await?;
    Ok(Some(StagedFileView::from(&staged)))
}

/// A file dropped on the chat.
#[tauri::command]
pub async fn inbox_stage_file(shell: State<'_, Shell>, path: String) -> Reply<StagedFileView> {
    let staged = shell.app.inbox_stage_file(Path::new(&path)).await?;
    Ok(StagedFileView::from(&staged))
}

/// An image pasted into the chat: the bytes as the raw request body, the file name
/// percent-encoded in the `x-file-name` header.
#[tauri::command]
pub async fn inbox_stage_bytes(
    shell: State<'_, Shell>,
    request: tauri::ipc::Request<'_>,
) -> Reply<StagedFileView> {
    let bytes = match request.body() {
        tauri::ipc::InvokeBody::Raw(bytes) => bytes.clone(),
        // Tauri's postMessage fallback carries the bytes as a JSON array.
        tauri::ipc::InvokeBody::Json(json) => serde_json::from_value(json.clone())
            .map_err(|_| crate::os::invalid_request("the body must be the file's bytes"))?,
    };
    let name = crate::os::header_file_name(request.headers().get(STAGE_NAME_HEADER))
        .ok_or_else(|| crate::os::invalid_request("no file name"))?;
    let staged = shell.app.inbox_stage_bytes(&name, bytes).await?;
    Ok(StagedFileView::from(&staged))
}

/// The header carrying [`inbox_stage_bytes`]' file name (percent-encoded UTF-8).
pub const STAGE_NAME_HEADER: &str = "x-file-name";

#[tauri::command]
pub async fn inbox_discard_staged(shell: State<'_, Shell>, token: String) -> Reply<()> {
    Ok(shell.app.inbox_discard_staged(&token).await?)
}

#[tauri::command]
pub async fn inbox_send_staged(
    shell: State<'_, Shell>,
    conversation_id: i64,
    client_id: String,
    token: String,
    caption: Option<String>,
) -> Reply<ChatMessageView> {
    let sent = shell
        .app
        .inbox_send_staged(conversation_id, &client_id, &token, caption)
        .await?;
    Ok(ChatMessageView::from(&sent))
}

/// Mensaje de audio → Iniciar.
#[tauri::command]
pub async fn voice_record_start(shell: State<'_, Shell>) -> Reply<RecordingStatusView> {
    let status = shell.app.voice_record_start().await?;
    Ok(RecordingStatusView::from(&status))
}

#[tauri::command]
pub async fn voice_record_status(shell: State<'_, Shell>) -> Reply<RecordingStatusView> {
    Ok(RecordingStatusView::from(
        &shell.app.voice_record_status().await,
    ))
}

/// Stops and stages the recording (listened back through `staged/<token>`).
#[tauri::command]
pub async fn voice_record_stop(shell: State<'_, Shell>) -> Reply<StagedFileView> {
    let staged = shell.app.voice_record_stop().await?;
    Ok(StagedFileView::from(&staged))
}

#[tauri::command]
pub async fn voice_record_discard(shell: State<'_, Shell>) -> Reply<()> {
    shell.app.voice_record_discard().await;
    Ok(())
}

/// Microphones for Configuración.
#[tauri::command]
pub async fn audio_inputs(shell: State<'_, Shell>) -> Reply<Vec<AudioInputView>> {
    let list = shell.app.audio_inputs().await?;
    Ok(list.iter().map(AudioInputView::from).collect())
}

/// Waveform of a received voice note (bar heights 0–255).
#[tauri::command]
pub async fn media_waveform(
    shell: State<'_, Shell>,
    media_id: String,
    bars: u32,
) -> Reply<Vec<u8>> {
    let bars = usize::try_from(bars).unwrap_or(usize::MAX);
    Ok(shell.app.inbox_media_waveform(&media_id, bars).await?)
}

#[tauri::command]
pub async fn inbox_quick_addresses(shell: State<'_, Shell>) -> Reply<Vec<QuickAddressView>> {
    let list = shell.app.inbox_quick_addresses().await?;
    Ok(list.iter().map(QuickAddressView::from).collect())
}

#[tauri::command]
pub async fn inbox_quick_address_save(
    shell: State<'_, Shell>,
    name: String,
    address: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
) -> Reply<QuickAddressView> {
    let saved = shell
        .app
        .inbox_quick_address_save(&name, &address, latitude, longitude)
        .await?;
    Ok(QuickAddressView::from(&saved))
}

#[tauri::command]
pub async fn inbox_quick_address_delete(shell: State<'_, Shell>, id: String) -> Reply<()> {
    Ok(shell.app.inbox_quick_address_delete(&id).await?)
}

/// The map's first view: the OS's position, else the last location sent.
#[tauri::command]
pub async fn location_here(shell: State<'_, Shell>) -> Reply<Option<PositionView>> {
    Ok(shell.app.location_here().await?.map(PositionView::from))
}
