import { convertFileSrc, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { toWireError, type Platform, type Unsubscribe } from './platform';
import type {
  AgentLiveView,
  AgentStateView,
  AppInfoView,
  BusinessNumberView,
  CallView,
  CannedResponseView,
  ChatCommentView,
  ChatMessageView,
  ChatPageView,
  ContactView,
  ConversationView,
  CrmStatusView,
  DayView,
  DialView,
  ExitCheckView,
  HandlerStatusView,
  HubStatusView,
  InboxCountsView,
  InboxMessageEvent,
  LineStatusView,
  NavigateView,
  PauseReasonView,
  SettingsView,
  TemplateView,
  StagedFileView,
  RecordingStatusView,
  AudioInputView,
  QuickAddressView,
  PositionView,
  UploadProgressEvent,
  WireError,
} from './types';

/**
 * The URI scheme the host serves cached WhatsApp media on (src-tauri/src/media.rs). The URL is
 * Tauri's own per-OS form: `enlace-media://localhost/<id>` on Linux and macOS,
 * `http://enlace-media.localhost/<id>` on Windows.
 */
export const MEDIA_SCHEME = 'enlace-media';

/** The scheme's base URL in Tauri's per-OS form (`enlace-media://localhost/` on Linux and macOS). */
function mediaBase(): string {
  const base = convertFileSrc('', MEDIA_SCHEME);
  return base.endsWith('/') ? base : `${base}/`;
}

/** The header carrying `inbox_stage_bytes`' file name, percent-encoded (src-tauri/src/commands.rs). */
export const STAGE_NAME_HEADER = 'x-file-name';

/** Invokes a command; a rejection always becomes a {@link WireError}. */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toWireError(error);
  }
}

/** Invokes a command with raw bytes as its body (no JSON array of numbers) and string headers. */
async function callRaw<T>(
  command: string,
  bytes: Uint8Array,
  headers: Record<string, string>,
): Promise<T> {
  try {
    return await invoke<T>(command, bytes, { headers });
  } catch (error) {
    throw toWireError(error);
  }
}

/** `listen` is asynchronous; this hands back a synchronous, idempotent unsubscribe. */
function subscribe<T>(event: string, cb: (payload: T) => void): Unsubscribe {
  let stopped = false;
  let unlisten: UnlistenFn | null = null;
  listen<T>(event, (e) => {
    if (!stopped) cb(e.payload);
  })
    .then((fn) => {
      if (stopped) fn();
      else unlisten = fn;
    })
    .catch((error: unknown) => console.error(`listen(${event}) failed`, error));
  return () => {
    if (stopped) return;
    stopped = true;
    unlisten?.();
  };
}

/** The real host: the Tauri commands of src-tauri/src/commands.rs and the events of src-tauri/src/shell.rs. */
export function createTauriPlatform(): Platform {
  return {
    kind: 'tauri',
    callsPending: () => call<CallView[]>('calls_pending'),
    callsHistory: () => call<CallView[]>('calls_history'),
    callsOpen: () => call<CallView[]>('calls_open'),
    // `call_ignore` answers with the updated call; the UI updates from `call:updated` anyway.
    callIgnore: async (id) => {
      await call<CallView>('call_ignore', { id });
    },
    callDial: (input) => call<DialView>('call_dial', { input }),
    callAnswer: (id) => call<void>('call_answer', { id }),
    callReject: (id) => call<void>('call_reject', { id }),
    callHangup: (id) => call<void>('call_hangup', { id }),
    settingsGet: () => call<SettingsView>('settings_get'),
    settingsSave: (settings, zohoClientSecret) =>
      call<SettingsView>('settings_save', { settings, zohoClientSecret: zohoClientSecret ?? null }),
    lineStatus: () => call<LineStatusView>('line_status'),
    handlerStatus: () => call<HandlerStatusView>('handler_status'),
    handlerRegister: () => call<HandlerStatusView>('handler_register'),
    appInfo: () => call<AppInfoView>('app_info'),
    uiReady: () => call<void>('ui_ready'),
    crmStatus: () => call<CrmStatusView>('crm_status'),
    crmSignIn: (crm) => call<CrmStatusView>('crm_sign_in', { crm }),
    crmPasswordSignIn: (username, passwordAndToken) =>
      call<CrmStatusView>('crm_password_sign_in', { username, passwordAndToken }),
    crmUnlink: (crm) => call<CrmStatusView>('crm_unlink', { crm }),
    contactsSearch: (query) => call<ContactView[]>('contacts_search', { query }),
    contactsCached: (query) => call<ContactView[]>('contacts_cached', { query }),
    callAttach: (id, crm, kind, recordId) =>
      call<CallView>('call_attach', { id, crm, kind, recordId }),
    callCreateContact: (id, contact) => call<CallView>('call_create_contact', { id, contact }),
    callLog: (id, subject, comment) => call<CallView>('call_log', { id, subject, comment }),
    crmWriteRetry: (id) => call<CallView>('crm_write_retry', { id }),
    crmWriteUseExisting: (id) => call<CallView>('crm_write_use_existing', { id }),
    recordOpen: (crm, kind, id) => call<void>('record_open', { crm, kind, id }),
    hubStatus: () => call<HubStatusView>('hub_status'),
    hubLogin: (server, user, password) =>
      call<HubStatusView>('hub_login', { server, user, password }),
    hubLogout: () => call<HubStatusView>('hub_logout'),
    pauseReasons: () => call<PauseReasonView[]>('pause_reasons'),
    agentPause: (reasonId) => call<AgentStateView>('agent_pause', { reasonId }),
    agentUnpause: () => call<AgentStateView>('agent_unpause'),
    agentExitCheck: () => call<ExitCheckView>('agent_exit_check'),
    agentExit: () => call<HubStatusView>('agent_exit'),
    agentDay: () => call<DayView>('agent_day'),
    agentsLive: () => call<AgentLiveView[]>('agents_live'),
    inboxConversations: (filter, search) =>
      call<ConversationView[]>('inbox_conversations', { filter, search }),
    inboxCounts: () => call<InboxCountsView>('inbox_counts'),
    inboxTimeline: (conversationId, before, limit) =>
      call<ChatPageView>('inbox_timeline', { conversationId, before, limit }),
    inboxViewing: (conversationId) => call<void>('inbox_viewing', { conversationId }),
    inboxSend: (conversationId, clientId, message) =>
      call<ChatMessageView>('inbox_send', { conversationId, clientId, message }),
    inboxRetry: (conversationId, key) =>
      call<ChatMessageView>('inbox_retry', { conversationId, key }),
    inboxComment: (conversationId, body) =>
      call<ChatCommentView>('inbox_comment', { conversationId, body }),
    inboxAttended: (conversationId) => call<ConversationView>('inbox_attended', { conversationId }),
    inboxTake: (conversationId) => call<ConversationView>('inbox_take', { conversationId }),
    inboxRelease: (conversationId) => call<ConversationView>('inbox_release', { conversationId }),
    inboxTemplates: () => call<TemplateView[]>('inbox_templates'),
    inboxCannedResponses: () => call<CannedResponseView[]>('inbox_canned_responses'),
    inboxNumbers: () => call<BusinessNumberView[]>('inbox_numbers'),
    inboxStart: (businessNumber, customerNumber, clientId, message) =>
      call<ConversationView>('inbox_start', {
        businessNumber,
        customerNumber,
        clientId,
        message,
      }),
    mediaUrl: (mediaId) => convertFileSrc(mediaId, MEDIA_SCHEME),
    // WebKitGTK's user agent names X11/Wayland Linux; WKWebView and WebView2 play from the scheme.
    mediaThroughBlob: /\bLinux\b/.test(navigator.userAgent),
    mediaOpen: (mediaId) => call<void>('media_open', { mediaId }),
    openExternal: (url) => call<void>('open_external', { url }),
    inboxPickFile: () => call<StagedFileView | null>('inbox_pick_file'),
    inboxStageFile: (path) => call<StagedFileView>('inbox_stage_file', { path }),
    inboxStageBytes: (name, bytes) =>
      callRaw<StagedFileView>('inbox_stage_bytes', bytes, {
        [STAGE_NAME_HEADER]: encodeURIComponent(name),
      }),
    inboxDiscardStaged: (token) => call<void>('inbox_discard_staged', { token }),
    inboxSendStaged: (conversationId, clientId, token, caption) =>
      call<ChatMessageView>('inbox_send_staged', { conversationId, clientId, token, caption }),
    stagedUrl: (token) => `${mediaBase()}staged/${encodeURIComponent(token)}`,
    voiceRecordStart: () => call<RecordingStatusView>('voice_record_start'),
    voiceRecordStatus: () => call<RecordingStatusView>('voice_record_status'),
    voiceRecordStop: () => call<StagedFileView>('voice_record_stop'),
    voiceRecordDiscard: () => call<void>('voice_record_discard'),
    audioInputs: () => call<AudioInputView[]>('audio_inputs'),
    mediaWaveform: (mediaId, bars) => call<number[]>('media_waveform', { mediaId, bars }),
    inboxQuickAddresses: () => call<QuickAddressView[]>('inbox_quick_addresses'),
    inboxQuickAddressSave: (name, address, latitude, longitude) =>
      call<QuickAddressView>('inbox_quick_address_save', { name, address, latitude, longitude }),
    inboxQuickAddressDelete: (id) => call<void>('inbox_quick_address_delete', { id }),
    locationHere: () => call<PositionView | null>('location_here'),
    // Leaflet fills {z}/{x}/{y}; the app fetches and caches the tile (src-tauri/src/media.rs).
    mapTileUrl: () => `${mediaBase()}tile/{z}/{x}/{y}`,
    onFilesDropped: (cb) => subscribe<string[]>('files:dropped', cb),
    onInboxUpload: (cb) => subscribe<UploadProgressEvent>('inbox:upload', cb),
    onInboxChanged: (cb) => subscribe<ConversationView>('inbox:changed', cb),
    onInboxMessage: (cb) => subscribe<InboxMessageEvent>('inbox:message', cb),
    onInboxComment: (cb) => subscribe<ChatCommentView>('inbox:comment', cb),
    onInboxCounts: (cb) => subscribe<InboxCountsView>('inbox:counts', cb),
    onCallUpdated: (cb) => subscribe<CallView>('call:updated', cb),
    onLineStatus: (cb) => subscribe<LineStatusView>('line:status', cb),
    onDialFailed: (cb) => subscribe<WireError>('dial:failed', (e) => cb(toWireError(e))),
    onNavigate: (cb) => subscribe<NavigateView>('app:navigate', cb),
    onCrmStatus: (cb) => subscribe<CrmStatusView>('crm:status', cb),
    onHubStatus: (cb) => subscribe<HubStatusView>('hub:status', cb),
    onAgentState: (cb) => subscribe<AgentStateView>('agent:state', cb),
    onAgentsLive: (cb) => subscribe<AgentLiveView[]>('agents:live', cb),
  };
}
