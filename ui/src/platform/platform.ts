import type {
  AgentLiveView,
  BusinessNumberView,
  CannedResponseView,
  ChatCommentView,
  ChatMessageView,
  ChatPageView,
  ConversationView,
  InboxCountsView,
  InboxFilter,
  InboxMessageEvent,
  OutgoingMessageInput,
  TemplateView,
  StagedFileView,
  RecordingStatusView,
  AudioInputView,
  QuickAddressView,
  PositionView,
  UploadProgressEvent,
  AgentStateView,
  AppInfoView,
  CallView,
  ContactKindView,
  ContactView,
  CrmKind,
  CrmStatusView,
  DayView,
  DialView,
  ExitCheckView,
  HandlerStatusView,
  HubStatusView,
  LineStatusView,
  NavigateView,
  NewContactInput,
  PauseReasonView,
  SettingsView,
  WireError,
} from './types';

/** Stops a subscription. Safe to call more than once. */
export type Unsubscribe = () => void;

/**
 * Payload of the `app:navigate` event (e.g. a notification click asks for the "calls" panel).
 * Kept as an alias of the generated {@link NavigateView} for existing imports.
 */
export type NavigateRequest = NavigateView;

/**
 * Everything the UI may ask of the host. One method per Tauri command (src-tauri/src/commands.rs;
 * the types are generated from src-tauri/src/wire.rs) plus one subscription per event. Every
 * method rejects with a {@link WireError}; the UI shows `errors.<code>` and never reads `message`.
 */
export interface Platform {
  /** `tauri` talks to the real app; `fake` is the in-memory stand-in (tests, browser dev). */
  readonly kind: 'tauri' | 'fake';

  callsPending(): Promise<CallView[]>;
  callsHistory(): Promise<CallView[]>;
  /** Calls still ringing or in progress (a window opened mid-call shows them). */
  callsOpen(): Promise<CallView[]>;
  /** Marks a call as not to be logged. The host answers with the updated call; unused here. */
  callIgnore(id: string): Promise<void>;
  callDial(input: string): Promise<DialView>;
  callAnswer(id: string): Promise<void>;
  callReject(id: string): Promise<void>;
  callHangup(id: string): Promise<void>;

  settingsGet(): Promise<SettingsView>;
  /**
   * Stores the settings. The Zoho client secret travels only this way, to the keyring:
   * `zohoClientSecret` is a new secret, `''` forgets it, `null`/absent keeps the stored one.
   * The host never sends it back (`zoho.clientSecretSet` says whether one is stored).
   */
  settingsSave(settings: SettingsView, zohoClientSecret?: string | null): Promise<SettingsView>;

  lineStatus(): Promise<LineStatusView>;
  handlerStatus(): Promise<HandlerStatusView>;
  handlerRegister(): Promise<HandlerStatusView>;
  appInfo(): Promise<AppInfoView>;
  /** The UI painted its first frame (the cold-start measurement ends here). Call once. */
  uiReady(): Promise<void>;

  // ---- CRM ----
  crmStatus(): Promise<CrmStatusView>;
  /** Opens the system browser to sign in; resolves once the redirect came back (up to 5 min). */
  crmSignIn(crm: CrmKind): Promise<CrmStatusView>;
  /** Salesforce username-password flow (many orgs block it; the browser sign-in comes first). */
  crmPasswordSignIn(username: string, passwordAndToken: string): Promise<CrmStatusView>;
  crmUnlink(crm: CrmKind): Promise<CrmStatusView>;
  /** Cache first, then the linked CRMs, merged. Rejects with `search_too_short`, `crm_*`. */
  contactsSearch(query: string): Promise<ContactView[]>;
  /** The local cache only (search as you type). */
  contactsCached(query: string): Promise<ContactView[]>;
  callAttach(id: string, crm: CrmKind, kind: ContactKindView, recordId: string): Promise<CallView>;
  /** Queues the record's creation and attaches the call; field errors set `WireError.field`. */
  callCreateContact(id: string, contact: NewContactInput): Promise<CallView>;
  /** Queues the call activity (subject + comment) for the attached record. */
  callLog(id: string, subject: string, comment: string): Promise<CallView>;
  /** Retries a CRM write that needs attention (`id` is `CrmWriteView.id`). */
  crmWriteRetry(id: number): Promise<CallView>;
  /**
   * A creation refused as `crm_duplicate` with `existingRecord`: attaches the call to that
   * existing record instead (nothing is created). Rejects with `not_found` otherwise.
   */
  crmWriteUseExisting(id: number): Promise<CallView>;
  /** Opens the record in the browser. */
  recordOpen(crm: CrmKind, kind: ContactKindView, id: string): Promise<void>;

  // ---- the organization's server, "hub" ----
  hubStatus(): Promise<HubStatusView>;
  /**
   * Signs the agent in (7-digit user, 6-digit password). `server` is the server address typed
   * the first time, or the configured one. Rejects with `invalid_setting` (`field` = server |
   * user | password), `bad_credentials`, `throttled` (with the wait), `agent_disabled`,
   * `hub_unreachable`, `hub_bad_reply`, `insecure_hub_address` (plain http:// to another
   * computer than this one).
   */
  hubLogin(server: string, user: string, password: string): Promise<HubStatusView>;
  /** Ends the session without the Salida pause (the server address stays configured). */
  hubLogout(): Promise<HubStatusView>;
  pauseReasons(): Promise<PauseReasonView[]>;
  agentPause(reasonId: number): Promise<AgentStateView>;
  agentUnpause(): Promise<AgentStateView>;
  /** What a Salida would leave behind: calls waiting to be logged, CRM writes pending. */
  agentExitCheck(): Promise<ExitCheckView>;
  /** Salida: leaves the queues and logs out. */
  agentExit(): Promise<HubStatusView>;
  agentDay(): Promise<DayView>;
  /** Supervisors only (`forbidden` otherwise). */
  agentsLive(): Promise<AgentLiveView[]>;

  // ---- Omnicanalidad (WhatsApp through the hub; wire types in src-tauri/src/wire/inbox.rs) ----
  /** Open conversations from this computer's cache (instant), latest activity first. `search`
   * (number or name; may be empty) also finds attended ones. */
  inboxConversations(filter: InboxFilter, search: string): Promise<ConversationView[]>;
  /** Counts for the side-bar badge and the tray (also pushed by `onInboxCounts`). */
  inboxCounts(): Promise<InboxCountsView>;
  /** A page of the timeline, oldest first: the newest page when `before` is null. Cache first;
   * the hub fills what the cache lacks (`offline` says when it could not be asked). */
  inboxTimeline(
    conversationId: number,
    before: number | null,
    limit: number,
  ): Promise<ChatPageView>;
  /** The chat is on screen (`null`: none is): marks it read at the hub and keeps its
   * notifications quiet while it stays on screen. */
  inboxViewing(conversationId: number | null): Promise<void>;
  /** Queues a message (kept here first, shown `pending`, sent in order; `clientId` makes a
   * repeat harmless). Rejects with `window_closed` for free text once the window closed. */
  inboxSend(
    conversationId: number,
    clientId: string,
    message: OutgoingMessageInput,
  ): Promise<ChatMessageView>;
  /** Sends a failed message again (a new attempt of the same content); answers the new one. */
  inboxRetry(conversationId: number, key: string): Promise<ChatMessageView>;
  inboxComment(conversationId: number, body: string): Promise<ChatCommentView>;
  /** Marcar atendido (and, when the setting is on, queues the transcript to the CRM). */
  inboxAttended(conversationId: number): Promise<ConversationView>;
  /** Takes an unassigned conversation of the agent's queues. */
  inboxTake(conversationId: number): Promise<ConversationView>;
  /** Hands the conversation back to its queue. */
  inboxRelease(conversationId: number): Promise<ConversationView>;
  inboxTemplates(): Promise<TemplateView[]>;
  inboxCannedResponses(): Promise<CannedResponseView[]>;
  inboxNumbers(): Promise<BusinessNumberView[]>;
  /** WhatsApp from a call card: starts (or continues) a conversation with `customerNumber`. */
  inboxStart(
    businessNumber: string,
    customerNumber: string,
    clientId: string,
    message: OutgoingMessageInput,
  ): Promise<ConversationView>;
  // ---- sending files, voice notes and locations (issue 12) ----
  /** Agregar archivo: the OS's file dialog, opening in Documents. Resolves `null` when the
   * agent cancels; otherwise the file checked against WhatsApp's limits and staged. Rejects
   * with `whatsapp_media_type` / `whatsapp_media_too_large` / `whatsapp_media_content` /
   * `whatsapp_media_empty` (nothing uploaded). */
  inboxPickFile(): Promise<StagedFileView | null>;
  /** The same checks and staging for a path (a file dropped on the chat). */
  inboxStageFile(path: string): Promise<StagedFileView>;
  /** The same for bytes (an image pasted into the chat); `name` gives the extension. */
  inboxStageBytes(name: string, bytes: Uint8Array): Promise<StagedFileView>;
  /** Cancelar: forgets a staged file. */
  inboxDiscardStaged(token: string): Promise<void>;
  /** Enviar: queues the staged file (caption: Detalle; ignored for audio). Upload progress
   * arrives as `onInboxUpload`; the message shows `pending` until the hub accepts it. */
  inboxSendStaged(
    conversationId: number,
    clientId: string,
    token: string,
    caption: string | null,
  ): Promise<ChatMessageView>;
  /** The preview URL of a staged file (images, PDFs, the recorded voice note). */
  stagedUrl(token: string): string;
  /** Mensaje de audio → Iniciar: records from the configured microphone. Rejects with
   * `microphone_unavailable` (no input device, or the chosen one is gone) or
   * `microphone_denied`. */
  voiceRecordStart(): Promise<RecordingStatusView>;
  voiceRecordStatus(): Promise<RecordingStatusView>;
  /** Stops and stages the recording as an OGG/Opus voice note (listen back with `stagedUrl`).
   * Rejects with `recording_empty` when nothing was heard or it is too short. */
  voiceRecordStop(): Promise<StagedFileView>;
  /** Drops a recording in progress. */
  voiceRecordDiscard(): Promise<void>;
  /** Microphones for Configuración. */
  audioInputs(): Promise<AudioInputView[]>;
  /** Waveform of a received voice note (bar heights 0–255), computed from the file. */
  mediaWaveform(mediaId: string, bars: number): Promise<number[]>;
  /** The yellow buttons: the organization's quick addresses and the agent's own. */
  inboxQuickAddresses(): Promise<QuickAddressView[]>;
  inboxQuickAddressSave(
    name: string,
    address: string,
    latitude: number | null,
    longitude: number | null,
  ): Promise<QuickAddressView>;
  /** Deletes one of the agent's own (`own:…`); the organization's are read-only. */
  inboxQuickAddressDelete(id: string): Promise<void>;
  /** Where the agent is (the OS's location service, else the last location sent), or null. */
  locationHere(): Promise<PositionView | null>;
  /** The map's tile URL template for the webview (served by the app: `enlace-media://localhost/tile/{z}/{x}/{y}`). */
  mapTileUrl(): string;
  /** Files dropped on the window (their paths). */
  onFilesDropped(cb: (paths: string[]) => void): Unsubscribe;
  onInboxUpload(cb: (progress: UploadProgressEvent) => void): Unsubscribe;

  /** A URL the webview can show for a hub media id (images, audio, video, stickers). */
  mediaUrl(mediaId: string): string;
  /** True where the webview cannot play <audio>/<video> from the app's own URL scheme
   * (WebKitGTK: MEDIA_ERR_SRC_NOT_SUPPORTED for custom schemes, tauri-apps/tauri#3725): there
   * `ui/src/lib/playable.ts` hands the element a `blob:` URL of the same bytes. */
  readonly mediaThroughBlob: boolean;
  /** Downloads the file (cached) and opens it with the OS's program for it. */
  mediaOpen(mediaId: string): Promise<void>;
  /** Opens an http(s) URL (a map link) in the system browser. */
  openExternal(url: string): Promise<void>;

  onInboxChanged(cb: (conversation: ConversationView) => void): Unsubscribe;
  onInboxMessage(cb: (event: InboxMessageEvent) => void): Unsubscribe;
  onInboxComment(cb: (comment: ChatCommentView) => void): Unsubscribe;
  onInboxCounts(cb: (counts: InboxCountsView) => void): Unsubscribe;

  onCallUpdated(cb: (call: CallView) => void): Unsubscribe;
  onLineStatus(cb: (status: LineStatusView) => void): Unsubscribe;
  onDialFailed(cb: (error: WireError) => void): Unsubscribe;
  onNavigate(cb: (request: NavigateRequest) => void): Unsubscribe;
  onCrmStatus(cb: (status: CrmStatusView) => void): Unsubscribe;
  onHubStatus(cb: (status: HubStatusView) => void): Unsubscribe;
  onAgentState(cb: (state: AgentStateView) => void): Unsubscribe;
  onAgentsLive(cb: (agents: AgentLiveView[]) => void): Unsubscribe;
}

/**
 * A {@link WireError} that may say how long to wait before trying again (`throttled`).
 * Proposed wire addition: `retryAfterSeconds` on WireError; without it the UI shows the
 * generic text and the host's message (which, per the contract, carries the wait).
 */
export type WireErrorWithWait = WireError & { retryAfterSeconds?: number };

/** The wait a `throttled` error asked for, in seconds, if the host sent one. */
export function retryAfterOf(error: WireError): number | null {
  const wait = (error as WireErrorWithWait).retryAfterSeconds;
  return typeof wait === 'number' && Number.isFinite(wait) && wait >= 0 ? wait : null;
}

/** Normalises anything a command rejected with into a {@link WireError}. */
export function toWireError(error: unknown): WireError {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code, message, field, retryAfterSeconds } = error as {
      code: unknown;
      message?: unknown;
      field?: unknown;
      retryAfterSeconds?: unknown;
    };
    if (typeof code === 'string' && code.length > 0) {
      const wire: WireErrorWithWait = {
        code,
        message: typeof message === 'string' ? message : '',
        field: typeof field === 'string' && field.length > 0 ? field : null,
      };
      if (typeof retryAfterSeconds === 'number') wire.retryAfterSeconds = retryAfterSeconds;
      return wire;
    }
  }
  const internal = (message: string): WireError => ({ code: 'internal', message, field: null });
  if (typeof error === 'string') return internal(error);
  if (error instanceof Error) return internal(error.message);
  return internal(String(error));
}
