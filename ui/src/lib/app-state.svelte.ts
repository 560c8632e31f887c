// The UI's view of the app: what the host told us (calls, line, settings) plus UI-only state
// (current panel, last dial error). Kept in step by the host's push events; nothing polls.
import { getContext, setContext } from 'svelte';
import { resolveLanguage, setLanguage } from '../i18n/index.svelte';
import { conversationToOpen } from './inbox';
import {
  toWireError,
  type AgentLiveView,
  type AgentStateView,
  type AppInfoView,
  type CallRecordView,
  type CallView,
  type ContactView,
  type CrmStatusView,
  type CrmWriteView,
  type DialView,
  type ExitCheckView,
  type HubStatusView,
  type InboxCountsView,
  type NavigateView,
  type NewContactInput,
  type LineStatusView,
  type Platform,
  type SettingsView,
  type WireError,
} from '../platform';

export const PANELS = [
  'calls',
  'dialer',
  'omnichannel',
  'contacts',
  'history',
  'management',
  'pauses',
  'settings',
] as const;
export type PanelName = (typeof PANELS)[number];

export function isPanel(name: string): name is PanelName {
  return (PANELS as readonly string[]).includes(name);
}

const newestFirst = (a: CallView, b: CallView) => b.startedAt - a.startedAt;

/** The CRM writes of a call (empty for a host that predates them). */
export function writesOf(call: CallView): CrmWriteView[] {
  return call.crmWrites ?? [];
}

/**
 * The write that best tells where a call stands in the CRM: one that needs attention, else the
 * first one still on its way, else the last one (delivered). Null when nothing was queued.
 */
export function mainWrite(call: CallView): CrmWriteView | null {
  const writes = writesOf(call);
  return (
    writes.find((w) => w.state === 'needs_attention') ??
    writes.find((w) => w.state !== 'delivered') ??
    writes.at(-1) ??
    null
  );
}

export class AppState {
  readonly platform: Platform;

  panel = $state<PanelName>('calls');
  /** Every call we know of, keyed by id (order does not matter; see `history`). */
  calls = $state<Record<string, CallView>>({});
  line = $state<LineStatusView | null>(null);
  settings = $state<SettingsView | null>(null);
  appInfo = $state<AppInfoView | null>(null);
  loadError = $state<WireError | null>(null);
  /** Last dial failure (from the dialer or a tel: link of another program). */
  dialError = $state<WireError | null>(null);
  /** True when `dialError` came from a tel: link of another program (`dial:failed`). */
  dialErrorFromLink = $state(false);
  /** The last number handed to the line, for the dialer's status text. */
  lastDial = $state<DialView | null>(null);
  /** CRM links, keyring and outbox counts (null until the host answered). */
  crm = $state<CrmStatusView | null>(null);
  /** A search Contactos starts with once (a chat's shared contact: "Crear en el CRM"). */
  contactsQuery = $state<string | null>(null);
  /** Calls logged from this window: they stay in Llamadas to show "Enviado". */
  loggedHere = $state<Record<string, true>>({});

  /** The organization's server: session and agent state (null until the host answered). */
  hub = $state<HubStatusView | null>(null);
  /** When the host last re-read the hub state after a gap in its stream; null once dismissed. */
  resyncNoticeAt = $state<number | null>(null);
  /** The supervisor's live table, kept in step by `agents:live`. */
  agentsLive = $state<AgentLiveView[] | null>(null);
  /** The Login screen was asked for (Conectar al servidor). */
  loginOpen = $state(false);
  /** The agent chose to go on without signing in (until the next sign-out). */
  loginDismissed = $state(false);
  /** Why the Login screen appeared on its own (e.g. `session_expired`), shown on it. */
  loginNotice = $state<string | null>(null);
  /** Omnicanalidad: the badge's and the panel's counts (null until the host answered). */
  inboxCounts = $state<InboxCountsView | null>(null);
  /** A conversation asked for (notification, tray, call card): Omnicanalidad opens it. */
  chatRequest = $state<number | null>(null);
  /** Bumped when the side bar's Omnicanalidad is clicked: the panel shows its list. */
  inboxListRequests = $state(0);
  /** Set while this window ends the session itself (Salida, Cerrar sesión). */
  private leaving = false;

  /** A server is configured: the hub panels can work. */
  hubConfigured = $derived(!!this.hub?.server);
  hubLoggedIn = $derived(!!this.hub?.server && !!this.hub.loggedIn);
  /** The signed-in agent's state, null without a session. */
  agentState = $derived(this.hubLoggedIn ? (this.hub?.state ?? null) : null);
  isSupervisor = $derived(this.hubLoggedIn && !!this.hub?.agent?.supervisor);
  /**
   * The Login screen: when asked for, or when a server is configured and nobody is signed in
   * (unless the agent chose to go on without it). Never forced without a configured server.
   */
  showLogin = $derived(
    this.loginOpen || (this.hubConfigured && !this.hubLoggedIn && !this.loginDismissed),
  );

  /** Chats waiting for this agent (the Omnicanalidad badge). */
  chatsWaiting = $derived(this.inboxCounts?.available ? this.inboxCounts.waiting : 0);

  /** Some CRM is linked: the CRM buttons work. */
  crmLinked = $derived(!!this.crm && this.crm.links.some((l) => l.linked));

  /** All calls, newest first (Historial). */
  history = $derived(Object.values(this.calls).sort(newestFirst));
  /** Ended calls still waiting to be logged, newest first. */
  pending = $derived(this.history.filter((c) => c.status === 'ended' && c.logState === 'pending'));
  /**
   * Llamadas: calls to log, plus logged ones whose CRM writes are still on their way (or need
   * attention) and those logged from this window (to show they were sent), newest first.
   */
  toLog = $derived(
    this.history.filter(
      (c) =>
        c.status === 'ended' &&
        (c.logState === 'pending' ||
          (c.logState === 'logged' &&
            (this.loggedHere[c.id] || writesOf(c).some((w) => w.state !== 'delivered')))),
    ),
  );
  /** Calls needing the agent in Llamadas: not logged yet, or a CRM write needs attention. */
  callsBadge = $derived(
    this.toLog.filter(
      (c) => c.logState === 'pending' || writesOf(c).some((w) => w.state === 'needs_attention'),
    ).length,
  );
  /** The newest incoming call that is ringing, if any. */
  ringing = $derived(
    this.history.find((c) => c.direction === 'incoming' && c.status === 'ringing') ?? null,
  );
  /** The call that is up (answered, or outgoing and still ringing), if any. */
  active = $derived(
    this.history.find(
      (c) => c.status === 'answered' || (c.direction === 'outgoing' && c.status === 'ringing'),
    ) ?? null,
  );

  constructor(platform: Platform) {
    this.platform = platform;
  }

  /** Subscribes to the host's events, then loads the initial state. Returns the cleanup. */
  start(): () => void {
    const p = this.platform;
    const stops = [
      p.onCallUpdated((call) => this.upsert(call)),
      p.onLineStatus((status) => (this.line = status)),
      p.onDialFailed((error) => {
        this.dialError = error;
        this.dialErrorFromLink = true;
        this.panel = 'dialer';
      }),
      p.onNavigate((request) => this.navigate(request)),
      p.onInboxCounts((counts) => (this.inboxCounts = counts)),
      p.onCrmStatus((status) => (this.crm = status)),
      p.onHubStatus((status) => this.setHub(status)),
      p.onAgentState((state) => this.setAgentState(state)),
      p.onAgentsLive((agents) => (this.agentsLive = agents)),
    ];
    void this.loadCrm();
    void this.loadHub();
    void this.loadInbox();
    void this.load();
    return () => stops.forEach((stop) => stop());
  }

  async load(): Promise<void> {
    const p = this.platform;
    try {
      const [settings, info, line, history, pending, open] = await Promise.all([
        p.settingsGet(),
        p.appInfo(),
        p.lineStatus(),
        p.callsHistory(),
        p.callsPending(),
        // Calls ringing or up right now: a window opened mid-call shows the card / call bar.
        p.callsOpen(),
      ]);
      this.settings = settings;
      this.appInfo = info;
      this.line ??= line;
      // Events that arrived while loading are newer than the snapshot: keep them.
      const fresh = { ...this.calls };
      const merged: Record<string, CallView> = {};
      for (const call of [...history, ...pending, ...open]) merged[call.id] = call;
      this.calls = { ...merged, ...fresh };
      this.applyLanguage();
    } catch (error) {
      this.loadError = toWireError(error);
    }
  }

  /** CRM status apart from the rest: a failure here must not hide the calls. */
  async loadCrm(): Promise<void> {
    try {
      const status = await this.platform.crmStatus();
      this.crm ??= status;
    } catch {
      // No CRM status: the CRM buttons stay disabled with their explanation.
    }
  }

  /** Hub status apart from the rest: without it the hub panels say they are not connected. */
  async loadHub(): Promise<void> {
    try {
      const status = await this.platform.hubStatus();
      if (this.hub === null) this.setHub(status);
    } catch {
      // No hub status: Pausas and Gestión explain that they need the organization's server.
    }
  }

  /** Inbox counts apart from the rest (the host pushes later changes). */
  async loadInbox(): Promise<void> {
    try {
      this.inboxCounts = await this.platform.inboxCounts();
    } catch {
      // No counts: no badge; the panel asks again when it opens.
    }
  }

  /** An `app:navigate` request: a panel, or (`inbox`) Omnicanalidad with a conversation. */
  navigate(request: NavigateView): void {
    if (request.panel === 'inbox') {
      this.panel = 'omnichannel';
      this.chatRequest = conversationToOpen(request);
    } else if (isPanel(request.panel)) {
      this.panel = request.panel;
    }
  }

  /** Applies a hub status (from a command or `hub:status`). */
  setHub(status: HubStatusView): void {
    const wasIn = !!this.hub?.loggedIn;
    const resynced = status.resyncedAt !== null && status.resyncedAt !== this.hub?.resyncedAt;
    this.hub = status;
    if (!!status.loggedIn !== wasIn) void this.loadInbox();
    if (resynced) {
      // The stream had lost events the server no longer kept: the host read the state again;
      // the calls are read again here (Gestión reads the day) and the agent is told.
      this.resyncNoticeAt = status.resyncedAt;
      void this.load();
    }
    if (status.loggedIn) {
      this.loginOpen = false;
      this.loginNotice = null;
    } else if (wasIn) {
      // Signed out: the Login screen comes back (it was the server's doing unless we left).
      this.loginDismissed = false;
      this.agentsLive = null;
      this.loginNotice = this.leaving ? null : 'session_expired';
    }
  }

  /** Applies the agent's new state (from a command or `agent:state`). */
  setAgentState(state: AgentStateView): void {
    if (this.hub?.loggedIn) this.hub = { ...this.hub, state };
  }

  openLogin(): void {
    this.loginOpen = true;
  }

  /** Goes on without the server (the Login screen stays away until the next sign-out). */
  closeLogin(): void {
    this.loginOpen = false;
    this.loginDismissed = true;
    this.loginNotice = null;
  }

  async hubLogin(server: string, user: string, password: string): Promise<void> {
    const status = await this.platform.hubLogin(server, user, password);
    this.setHub(status);
    this.loginDismissed = false;
  }

  async pause(reasonId: number): Promise<void> {
    this.setAgentState(await this.platform.agentPause(reasonId));
  }

  async unpause(): Promise<void> {
    this.setAgentState(await this.platform.agentUnpause());
  }

  exitCheck(): Promise<ExitCheckView> {
    return this.platform.agentExitCheck();
  }

  /** Salida: leaves the queues and signs out; the Login screen follows. */
  async exit(): Promise<void> {
    await this.leave(() => this.platform.agentExit());
  }

  /** Signs out of the server without the Salida pause. */
  async hubLogout(): Promise<void> {
    await this.leave(() => this.platform.hubLogout());
  }

  private async leave(command: () => Promise<HubStatusView>): Promise<void> {
    this.leaving = true;
    try {
      this.setHub(await command());
    } finally {
      this.leaving = false;
    }
  }

  upsert(call: CallView): void {
    this.calls[call.id] = call;
  }

  async attach(callId: string, record: ContactView): Promise<void> {
    this.upsert(await this.platform.callAttach(callId, record.crm, record.kind, record.id));
  }

  async createContact(callId: string, contact: NewContactInput): Promise<void> {
    this.upsert(await this.platform.callCreateContact(callId, contact));
  }

  async logCall(callId: string, subject: string, comment: string): Promise<void> {
    const call = await this.platform.callLog(callId, subject, comment);
    this.loggedHere[callId] = true;
    this.upsert(call);
  }

  async retryWrite(writeId: number): Promise<void> {
    this.upsert(await this.platform.crmWriteRetry(writeId));
  }

  /** A creation refused as a duplicate: attach the call to the record the CRM matched. */
  async useExistingRecord(writeId: number): Promise<void> {
    this.upsert(await this.platform.crmWriteUseExisting(writeId));
  }

  async openRecord(record: CallRecordView): Promise<void> {
    if (record.id === null) return;
    await this.platform.recordOpen(record.crm, record.kind, record.id);
  }

  /** Applies a CRM status a command answered with. */
  setCrm(status: CrmStatusView): void {
    this.crm = status;
  }

  /** Picks the UI language from the settings (auto → OS locale, then the browser's). */
  applyLanguage(): void {
    const setting = this.settings?.language ?? 'auto';
    const browser = typeof navigator === 'undefined' ? null : navigator.language;
    setLanguage(resolveLanguage(setting, this.appInfo?.osLocale, browser));
  }

  /** Dials `input`; on failure keeps the error in `dialError` and returns null. */
  async dial(input: string): Promise<DialView | null> {
    this.dialErrorFromLink = false;
    try {
      const view = await this.platform.callDial(input);
      this.dialError = null;
      this.lastDial = view;
      return view;
    } catch (error) {
      this.dialError = toWireError(error);
      this.lastDial = null;
      return null;
    }
  }

  async ignore(id: string): Promise<void> {
    await this.platform.callIgnore(id);
    const call = this.calls[id];
    if (call && call.logState === 'pending') this.calls[id] = { ...call, logState: 'ignored' };
  }

  /** `zohoClientSecret`: a new secret, `''` to forget it, `null` to keep the stored one. */
  async saveSettings(
    settings: SettingsView,
    zohoClientSecret: string | null = null,
  ): Promise<SettingsView> {
    const saved = await this.platform.settingsSave($state.snapshot(settings), zohoClientSecret);
    this.settings = saved;
    this.applyLanguage();
    return saved;
  }
}

const KEY = Symbol('enlace-app');

export function provideApp(app: AppState): void {
  setContext(KEY, app);
}

export function useApp(): AppState {
  const app = getContext<AppState | undefined>(KEY);
  if (!app) throw new Error('useApp() outside <App>');
  return app;
}
