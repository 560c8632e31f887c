import { Emitter, FakeHub, type FakeHubOptions } from './fake-hub';
import { FakeInbox, type FakeInboxOptions } from './fake-inbox';
import { FakeOutgoing, type FakeOutgoingOptions } from './fake-outgoing';
import { type Platform, type Unsubscribe } from './platform';
import type {
  AgentLiveView,
  AgentStateView,
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
  AudioInputView,
  PositionView,
  QuickAddressView,
  RecordingStatusView,
  StagedFileView,
  UploadProgressEvent,
  AppInfoView,
  CallView,
  ContactKindView,
  ContactView,
  CrmKind,
  CrmLinkState,
  CrmLinkView,
  CrmStatusView,
  CrmWriteView,
  DayView,
  DialView,
  EndReason,
  ExistingRecordView,
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

/** Options for {@link FakePlatform}; everything has a sensible default. */
export interface FakeOptions extends FakeHubOptions, FakeInboxOptions, FakeOutgoingOptions {
  /** Clock in ms since the epoch; inject one to make durations deterministic. */
  now?: () => number;
  /** Calls present at start (any order). */
  calls?: CallView[];
  settings?: Partial<SettingsView>;
  line?: LineStatusView;
  osLocale?: string;
  /** Whether tel:/callto: start out registered. */
  handlerRegistered?: boolean;
  /** Start-up problems reported by `appInfo` (already explained, as the real app does). */
  problems?: string[];
  /** CRMs linked at start (default: none). */
  crmLinked?: CrmKind[];
  /** False: the OS keyring cannot be used (no Secret Service, locked…). Default true. */
  keyringAvailable?: boolean;
  /** Records in the fake CRMs (default: {@link demoContacts}). */
  contacts?: ContactView[];
  /** Ids of the records also in the local cache (default: all but the demo's CRM-only ones). */
  cachedContactIds?: string[];
  /** True: the Salesforce org blocks the username-password flow (as most new orgs do). */
  passwordFlowBlocked?: boolean;
  /**
   * `manual` (default): CRM writes move only when {@link FakePlatform.advanceCrmWrites} is
   * called; `auto`: they move on their own every `autoDeliverMs` (browser demo).
   */
  crmDelivery?: 'manual' | 'auto';
  autoDeliverMs?: number;
}

/** The Salesforce user whose "password + security token" the fake accepts. */
export const FAKE_SALESFORCE_USER = {
  username: 'agente@empresa.example',
  passwordAndToken: 'Clave2025XyZsecuritytoken',
} as const;

/** The account a browser sign-in links, per CRM. */
export const FAKE_CRM_ACCOUNTS: Record<CrmKind, string> = {
  salesforce: 'agente@empresa.example',
  zoho: 'agente@empresa.example',
};

const CRMS: readonly CrmKind[] = ['salesforce', 'zoho'];

/** A queued CRM write as the fake's outbox keeps it. */
interface FakeWrite extends CrmWriteView {
  crm: CrmKind;
  callId: string;
  contact: NewContactInput | null;
}

type CommandName = Exclude<keyof Platform, 'kind' | `on${string}`>;

export const DEFAULT_SETTINGS: SettingsView = {
  lineKind: 'baresip',
  baresip: { ctrlAddress: '127.0.0.1:4444', sipDomain: '127.0.0.1:5072' },
  handOff: { mode: 'uri', uriTemplate: 'sip:{number}', program: '' },
  defaultCountry: 'CR',
  language: 'auto',
  notifications: true,
  chatNotifyWhilePaused: false,
  chatLogToCrm: false,
  audioInputDevice: null,
  mapTileUrl: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
  salesforce: {
    loginHost: 'https://login.salesforce.com',
    clientId: 'PlatformCLI',
    redirectPort: 1717,
  },
  zoho: {
    accountsServer: 'https://accounts.zoho.com',
    clientId: '',
    clientSecretSet: false,
    redirectPort: 8765,
  },
};

/** Lower case without accents, for matching names as a person types them. */
function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

const digitsOf = (text: string) => text.replace(/\D/g, '');

/** Same number, whatever the prefix: the last 8 digits agree (national numbers in the region). */
function sameNumber(a: string, b: string): boolean {
  const x = digitsOf(a);
  const y = digitsOf(b);
  if (x.length < 3 || y.length < 3) return false;
  if (x === y) return true;
  return x.length >= 7 && y.length >= 7 && x.slice(-8) === y.slice(-8);
}

/** Name, e-mail or (3+ digits) phone number matches the query. */
function contactMatches(contact: ContactView, query: string): boolean {
  const q = fold(query.trim());
  if (q === '') return false;
  const names = [contact.name, contact.firstName ?? '', contact.lastName ?? '', contact.email ?? '']
    .map(fold)
    .filter((n) => n !== '');
  if (names.some((n) => n.includes(q))) return true;
  const digits = digitsOf(q);
  if (digits.length >= 3 && /^[\d\s+().-]+$/.test(q)) {
    return [contact.phone, contact.mobile].some((n) => !!n && digitsOf(n).includes(digits));
  }
  return false;
}

/** Lenient e-mail shape check, like the CRMs' own. */
const isEmail = (value: string) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);

/** Deep copy through JSON, like the real IPC (also safe for Svelte state proxies). */
function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function fail(code: string, message: string, field: string | null = null): WireError {
  return { code, message, field };
}

/** A socket address as Rust's `SocketAddr` parses it: `a.b.c.d:port` or `[v6]:port`. */
function isSocketAddress(value: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(value);
  if (v4) return v4.slice(1, 5).every((n) => Number(n) <= 255) && Number(v4[5]) <= 65535;
  const v6 = /^\[[0-9A-Fa-f:.]+\]:(\d{1,5})$/.exec(value);
  return !!v6 && Number(v6[1]) <= 65535;
}

/** The `invalid_setting` error the real app gives for `settings` (first problem only), or null. */
function settingsProblem(settings: SettingsView): WireError | null {
  const invalid = (field: string, message: string) => fail('invalid_setting', message, field);
  if (!/^[A-Za-z]{2}$/.test(settings.defaultCountry.trim())) {
    return invalid('defaultCountry', 'the country must be two letters, such as CR or MX');
  }
  if (settings.lineKind === 'baresip') {
    if (!isSocketAddress(settings.baresip.ctrlAddress)) {
      return invalid('baresipCtrlAddress', 'must be an address such as 127.0.0.1:4444');
    }
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(settings.baresip.sipDomain)) {
      return invalid('baresipSipDomain', 'must be a host or host:port');
    }
  }
  const url = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/;
  const port = (p: number) => Number.isInteger(p) && p >= 1024 && p <= 65535;
  if (settings.salesforce) {
    if (!url.test(settings.salesforce.loginHost.trim())) {
      return invalid('salesforceLoginHost', 'must be https://login.salesforce.com or a My Domain');
    }
    if (settings.salesforce.clientId.trim() === '') {
      return invalid('salesforceClientId', 'the consumer key cannot be empty');
    }
    if (!port(settings.salesforce.redirectPort)) {
      return invalid('salesforceRedirectPort', 'must be a port between 1024 and 65535');
    }
  }
  if (settings.zoho) {
    if (!url.test(settings.zoho.accountsServer.trim())) {
      return invalid(
        'zohoAccountsServer',
        'must be an accounts server such as https://accounts.zoho.eu',
      );
    }
    if (!port(settings.zoho.redirectPort)) {
      return invalid('zohoRedirectPort', 'must be a port between 1024 and 65535');
    }
  }
  const tiles = settings.mapTileUrl.trim();
  if (
    !/^https?:\/\/\S+$/i.test(tiles) ||
    !['{z}', '{x}', '{y}'].every((part) => tiles.includes(part))
  ) {
    return fail('invalid_setting', 'the tile URL needs http(s) and {z}, {x}, {y}', 'mapTileUrl');
  }
  if (settings.lineKind === 'hand_off') {
    if (settings.handOff.mode === 'uri' && !settings.handOff.uriTemplate.includes('{number}')) {
      return invalid('handOffUriTemplate', 'must contain {number}, e.g. sip:{number}');
    }
    const absolute = /^(\/|[A-Za-z]:[\\/]|\\\\)/;
    if (settings.handOff.mode === 'program' && !absolute.test(settings.handOff.program)) {
      return invalid('handOffProgram', 'must be the absolute path of a program');
    }
  }
  return null;
}

/**
 * In-memory stand-in for the Rust app, for tests and for browser development.
 * It keeps calls, settings, line and handler state and emits the same events as the real host.
 * Tests drive the far end with `simulate*`. It does NOT re-implement number validation:
 * it accepts digits, `+`, `*`, `#` (spaces, dashes, dots and brackets ignored) and rejects
 * anything else with `not_a_phone_number`.
 */
export class FakePlatform implements Platform {
  readonly kind = 'fake' as const;
  /** Every input passed to `callDial`, in order (accepted or not). */
  readonly dialed: string[] = [];
  /** How many times `uiReady` was called. */
  uiReadyCalls = 0;

  private readonly now: () => number;
  private calls = new Map<string, CallView>();
  private settings: SettingsView;
  /** The Zoho client secret "in the keyring" (never part of the settings the UI gets). */
  zohoClientSecret = '';
  private line: LineStatusView;
  private handlerRegistered: boolean;
  private readonly osLocale: string;
  private readonly problems: string[];
  private nextId = 1;
  private failures = new Map<CommandName, WireError>();

  private readonly callUpdated = new Emitter<CallView>();
  private readonly lineStatusChanged = new Emitter<LineStatusView>();
  private readonly dialFailed = new Emitter<WireError>();
  private readonly navigate = new Emitter<NavigateView>();
  private readonly crmStatusChanged = new Emitter<CrmStatusView>();

  /**
   * The organization's server. None is configured unless `hubServer` says so; drive it with
   * `hub.setReachable`, `hub.setAgentDisabled`, `hub.expireSession`, `hub.setOtherAgent`…
   */
  readonly hub: FakeHub;

  /**
   * The WhatsApp inbox (Omnicanalidad) of the signed-in agent. Drive it with
   * `inbox.simulateCustomerMessage`, `inbox.advance` (statuses move one step), `inbox.failNextSend`,
   * `inbox.simulateAssign`; the stream going down (`hub.setStreamOnline(false)`) keeps sends pending.
   */
  readonly inbox: FakeInbox;

  /**
   * Files, the recorder, the position and quick addresses. Queue what the file dialog picks
   * with `outgoing.picks.push(path | null)`, put files with `outgoing.putFile`, refuse the
   * microphone with `outgoing.microphone = 'denied'`, set the OS position with `setPosition`.
   */
  readonly outgoing: FakeOutgoing;
  private readonly filesDropped = new Emitter<string[]>();

  /** Every record opened with `recordOpen`, in order. */
  readonly openedRecords: { crm: CrmKind; kind: ContactKindView; id: string }[] = [];
  /** Every CRM whose sign-in page was "opened", in order. */
  readonly signIns: CrmKind[] = [];

  private keyringAvailable: boolean;
  private links = new Map<
    CrmKind,
    { account: string; state: CrmLinkState; detail: string | null }
  >();
  private readonly passwordFlowBlocked: boolean;
  private crmRecords: ContactView[];
  private cached = new Set<string>();
  private writes: FakeWrite[] = [];
  private nextWriteId = 1;
  private nextRecordId = 1;
  private writeFailures: {
    code: string;
    field: string | null;
    existingRecord: ExistingRecordView | null;
  }[] = [];
  private readonly crmDelivery: 'manual' | 'auto';
  private readonly autoDeliverMs: number;
  private autoTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: FakeOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.settings = clone({ ...DEFAULT_SETTINGS, ...options.settings });
    this.line = options.line ?? { kind: this.settings.lineKind, state: 'online', detail: null };
    this.handlerRegistered = options.handlerRegistered ?? false;
    this.osLocale =
      options.osLocale ?? (typeof navigator === 'undefined' ? 'es-CR' : navigator.language);
    this.problems = [...(options.problems ?? [])];
    for (const call of options.calls ?? []) this.calls.set(call.id, withCrmFields(call));
    this.keyringAvailable = options.keyringAvailable ?? true;
    this.passwordFlowBlocked = options.passwordFlowBlocked ?? false;
    for (const crm of options.crmLinked ?? []) {
      this.links.set(crm, { account: FAKE_CRM_ACCOUNTS[crm], state: 'ok', detail: null });
    }
    this.crmRecords = clone(options.contacts ?? demoContacts());
    const cachedIds =
      options.cachedContactIds ??
      this.crmRecords.map((c) => c.id).filter((id) => !DEMO_CRM_ONLY.includes(id));
    this.cached = new Set(cachedIds);
    this.crmDelivery = options.crmDelivery ?? 'manual';
    this.autoDeliverMs = options.autoDeliverMs ?? 900;
    this.hub = new FakeHub(this.now, options, () => this.pendingWork());
    this.inbox = new FakeInbox(
      this.now,
      this.hub,
      options,
      (number) => this.nameOf(number),
      () => this.settings.chatLogToCrm,
    );
    this.outgoing = new FakeOutgoing(this.now, options, () => this.settings.audioInputDevice);
  }

  // ---- commands -------------------------------------------------------------------------

  async callsPending(): Promise<CallView[]> {
    this.checkFailure('callsPending');
    return this.sorted().filter((c) => c.status === 'ended' && c.logState === 'pending');
  }

  async callsHistory(): Promise<CallView[]> {
    this.checkFailure('callsHistory');
    return this.sorted();
  }

  async callsOpen(): Promise<CallView[]> {
    this.checkFailure('callsOpen');
    return this.sorted().filter((c) => c.status !== 'ended');
  }

  async callIgnore(id: string): Promise<void> {
    this.checkFailure('callIgnore');
    const call = this.get(id);
    this.update({ ...call, logState: 'ignored' });
  }

  async callDial(input: string): Promise<DialView> {
    this.dialed.push(input);
    this.checkFailure('callDial');
    const trimmed = input.trim();
    if (trimmed === '') throw fail('empty', 'nothing to dial');
    const dial = trimmed.replace(/[\s\-.()]/g, '');
    if (!/^\+?[0-9*#]+$/.test(dial) || dial === '+') {
      throw fail('not_a_phone_number', 'not a phone number');
    }
    if (this.settings.lineKind === 'none' || this.line.state === 'offline') {
      throw fail('line_offline', 'the phone line is not connected');
    }
    const extension = !dial.startsWith('+') && dial.length <= 6;
    const at = this.now();
    this.update({
      ...this.blankCall('outgoing', dial, at),
      fromNumber: null,
      toNumber: dial,
    });
    return {
      kind: extension ? 'extension' : 'number',
      e164: dial.startsWith('+') ? dial : null,
      extension: extension ? dial : null,
      dial,
    };
  }

  async callAnswer(id: string): Promise<void> {
    this.checkFailure('callAnswer');
    const call = this.get(id);
    if (call.direction !== 'incoming' || call.status !== 'ringing') {
      throw fail('no_active_call', 'no ringing call with that id');
    }
    this.update({ ...call, status: 'answered', answeredAt: this.now() });
  }

  async callReject(id: string): Promise<void> {
    this.checkFailure('callReject');
    const call = this.get(id);
    if (call.direction !== 'incoming' || call.status !== 'ringing') {
      throw fail('no_active_call', 'no ringing call with that id');
    }
    this.end(call, 'rejected');
  }

  async callHangup(id: string): Promise<void> {
    this.checkFailure('callHangup');
    const call = this.get(id);
    if (call.status === 'ended') throw fail('no_active_call', 'the call has ended');
    this.end(call, call.status === 'answered' ? 'completed' : 'no_answer');
  }

  async settingsGet(): Promise<SettingsView> {
    this.checkFailure('settingsGet');
    return clone(this.settings);
  }

  async settingsSave(
    settings: SettingsView,
    zohoClientSecret: string | null = null,
  ): Promise<SettingsView> {
    this.checkFailure('settingsSave');
    const problem = settingsProblem(settings);
    if (problem) throw problem;
    if (zohoClientSecret !== null) {
      if (!this.keyringAvailable) {
        throw fail('keyring_unavailable', 'no Secret Service provider', 'zohoClientSecret');
      }
      this.zohoClientSecret = zohoClientSecret.trim();
    }
    const country = settings.defaultCountry.trim().toUpperCase();
    const previousKind = this.settings.lineKind;
    this.settings = clone({
      ...settings,
      defaultCountry: country,
      zoho: { ...settings.zoho, clientSecretSet: this.zohoClientSecret !== '' },
    });
    if (previousKind !== this.settings.lineKind) {
      this.simulateLineStatus({
        kind: this.settings.lineKind,
        state: this.settings.lineKind === 'none' ? 'offline' : 'online',
        detail: null,
      });
    }
    return clone(this.settings);
  }

  async lineStatus(): Promise<LineStatusView> {
    this.checkFailure('lineStatus');
    return { ...this.line };
  }

  async handlerStatus(): Promise<HandlerStatusView> {
    this.checkFailure('handlerStatus');
    return this.handlerView();
  }

  async handlerRegister(): Promise<HandlerStatusView> {
    this.checkFailure('handlerRegister');
    this.handlerRegistered = true;
    return this.handlerView();
  }

  async appInfo(): Promise<AppInfoView> {
    this.checkFailure('appInfo');
    return {
      version: '0.0.0-fake',
      channel: 'dev',
      dataDir: '(memory)',
      osLocale: this.osLocale,
      problems: [...this.problems],
    };
  }

  async uiReady(): Promise<void> {
    this.uiReadyCalls += 1;
    this.checkFailure('uiReady');
  }

  // ---- CRM commands ---------------------------------------------------------------------

  async crmStatus(): Promise<CrmStatusView> {
    this.checkFailure('crmStatus');
    return this.statusView();
  }

  async crmSignIn(crm: CrmKind): Promise<CrmStatusView> {
    this.checkFailure('crmSignIn');
    this.requireKeyring();
    if (crm === 'zoho' && this.settings.zoho.clientId.trim() === '') {
      throw fail(
        'invalid_setting',
        'register Enlace in the Zoho API console first',
        'zohoClientId',
      );
    }
    this.signIns.push(crm);
    this.links.set(crm, { account: FAKE_CRM_ACCOUNTS[crm], state: 'ok', detail: null });
    return this.statusChanged();
  }

  async crmPasswordSignIn(username: string, passwordAndToken: string): Promise<CrmStatusView> {
    this.checkFailure('crmPasswordSignIn');
    this.requireKeyring();
    const ok =
      username.trim() === FAKE_SALESFORCE_USER.username &&
      passwordAndToken === FAKE_SALESFORCE_USER.passwordAndToken;
    if (this.passwordFlowBlocked || !ok) {
      // Salesforce answers both cases with the same invalid_grant "authentication failure".
      throw fail('crm_auth_failed', 'invalid_grant: authentication failure');
    }
    this.links.set('salesforce', { account: username.trim(), state: 'ok', detail: null });
    return this.statusChanged();
  }

  async crmUnlink(crm: CrmKind): Promise<CrmStatusView> {
    this.checkFailure('crmUnlink');
    this.links.delete(crm);
    return this.statusChanged();
  }

  async contactsSearch(query: string): Promise<ContactView[]> {
    this.checkFailure('contactsSearch');
    if (query.trim().length < 2) throw fail('search_too_short', 'type at least 2 characters');
    if (this.links.size === 0) throw fail('crm_not_linked', 'no CRM is linked');
    const reauth = [...this.links].find(([, link]) => link.state === 'needs_reauth');
    if (reauth) throw fail('crm_reauth_required', `${reauth[0]}: sign in again`);
    const cached = this.searchCache(query);
    const fromCrm = this.crmRecords.filter(
      (c) => this.links.has(c.crm) && contactMatches(c, query),
    );
    const merged = [...cached];
    for (const c of fromCrm) {
      this.cached.add(c.id);
      if (!merged.some((m) => m.id === c.id)) merged.push(clone(c));
    }
    return merged;
  }

  async contactsCached(query: string): Promise<ContactView[]> {
    this.checkFailure('contactsCached');
    return this.searchCache(query);
  }

  async callAttach(
    id: string,
    crm: CrmKind,
    kind: ContactKindView,
    recordId: string,
  ): Promise<CallView> {
    this.checkFailure('callAttach');
    const call = this.get(id);
    this.requireLinked(crm);
    const record = this.crmRecords.find((c) => c.crm === crm && c.id === recordId);
    if (!record || record.kind !== kind) throw fail('not_found', `no ${kind} ${recordId}`);
    return this.update({
      ...call,
      record: { crm, kind, id: record.id, name: record.name },
    });
  }

  async callCreateContact(id: string, contact: NewContactInput): Promise<CallView> {
    this.checkFailure('callCreateContact');
    const call = this.get(id);
    const crm = CRMS.find((c) => this.links.has(c));
    if (!crm) throw fail('crm_not_linked', 'no CRM is linked');
    const invalid = (field: string, message: string) => fail('crm_invalid_field', message, field);
    const trimmed: NewContactInput = {
      kind: contact.kind,
      firstName: contact.firstName.trim(),
      lastName: contact.lastName.trim(),
      email: contact.email.trim(),
      phone: contact.phone.trim(),
      mobile: contact.mobile.trim(),
      company: contact.kind === 'lead' ? contact.company.trim() : '',
    };
    if (trimmed.lastName === '') throw invalid('last_name', 'Apellido is required');
    if (trimmed.kind === 'lead' && trimmed.company === '') {
      throw invalid('company', 'Compañía is required for a lead');
    }
    if (trimmed.email !== '' && !isEmail(trimmed.email)) {
      throw invalid('email', 'not an e-mail address');
    }
    for (const field of ['phone', 'mobile'] as const) {
      if (trimmed[field] !== '' && !/^\+?[\d\s().-]{3,40}$/.test(trimmed[field])) {
        throw invalid(field, 'not a phone number or extension');
      }
    }
    const name = [trimmed.firstName, trimmed.lastName].filter((n) => n !== '').join(' ');
    this.queueWrite(crm, id, 'create_contact', trimmed);
    return this.update({
      ...this.get(id),
      record: { crm, kind: trimmed.kind, id: null, name },
      crmWrites: this.writesOf(call.id),
    });
  }

  async callLog(id: string, subject: string, comment: string): Promise<CallView> {
    this.checkFailure('callLog');
    const call = this.get(id);
    if (!call.record) throw fail('not_found', 'attach a record first');
    this.requireLinked(call.record.crm);
    this.queueWrite(call.record.crm, id, 'log_call', null);
    return this.update({
      ...this.get(id),
      logState: 'logged',
      subject: subject.trim(),
      comment: comment.trim(),
    });
  }

  async crmWriteRetry(id: number): Promise<CallView> {
    this.checkFailure('crmWriteRetry');
    const write = this.writes.find((w) => w.id === id);
    if (!write) throw fail('not_found', `no CRM write ${id}`);
    if (write.state === 'needs_attention') {
      Object.assign(write, {
        state: 'pending',
        errorCode: null,
        errorMessage: null,
        errorField: null,
        existingRecord: null,
      });
      this.writesChanged([write.callId]);
      this.scheduleAuto();
    }
    return { ...this.get(write.callId) };
  }

  async crmWriteUseExisting(id: number): Promise<CallView> {
    this.checkFailure('crmWriteUseExisting');
    const write = this.writes.find((w) => w.id === id);
    const existing = write?.existingRecord;
    if (
      !write ||
      write.state !== 'needs_attention' ||
      write.errorCode !== 'crm_duplicate' ||
      !existing
    ) {
      throw fail('not_found', `CRM write ${id} matched no existing record`);
    }
    Object.assign(write, {
      state: 'delivered',
      errorCode: null,
      errorMessage: null,
      errorField: null,
      existingRecord: null,
    });
    const call = this.calls.get(write.callId);
    if (call?.record && call.record.id === null) {
      this.calls.set(call.id, {
        ...call,
        record: { ...call.record, kind: existing.kind, id: existing.id },
      });
    }
    this.writesChanged([write.callId]);
    this.scheduleAuto();
    return { ...this.get(write.callId) };
  }

  async recordOpen(crm: CrmKind, kind: ContactKindView, id: string): Promise<void> {
    this.checkFailure('recordOpen');
    this.requireLinked(crm);
    this.openedRecords.push({ crm, kind, id });
  }

  // ---- hub commands ---------------------------------------------------------------------

  async hubStatus(): Promise<HubStatusView> {
    this.checkFailure('hubStatus');
    return this.hub.status();
  }

  async hubLogin(server: string, user: string, password: string): Promise<HubStatusView> {
    this.checkFailure('hubLogin');
    return this.hub.login(server, user, password);
  }

  async hubLogout(): Promise<HubStatusView> {
    this.checkFailure('hubLogout');
    return this.hub.logout();
  }

  async pauseReasons(): Promise<PauseReasonView[]> {
    this.checkFailure('pauseReasons');
    return this.hub.pauseReasons();
  }

  async agentPause(reasonId: number): Promise<AgentStateView> {
    this.checkFailure('agentPause');
    return this.hub.pause(reasonId);
  }

  async agentUnpause(): Promise<AgentStateView> {
    this.checkFailure('agentUnpause');
    return this.hub.unpause();
  }

  async agentExitCheck(): Promise<ExitCheckView> {
    this.checkFailure('agentExitCheck');
    return this.hub.exitCheck();
  }

  async agentExit(): Promise<HubStatusView> {
    this.checkFailure('agentExit');
    return this.hub.exit();
  }

  async agentDay(): Promise<DayView> {
    this.checkFailure('agentDay');
    return this.hub.day();
  }

  async agentsLive(): Promise<AgentLiveView[]> {
    this.checkFailure('agentsLive');
    return this.hub.live();
  }

  // ---- Omnicanalidad (the fake inbox: fake-inbox.ts) -------------------------------------

  async inboxConversations(filter: InboxFilter, search: string): Promise<ConversationView[]> {
    this.checkFailure('inboxConversations');
    return this.inbox.conversationsFor(filter, search);
  }

  async inboxCounts(): Promise<InboxCountsView> {
    this.checkFailure('inboxCounts');
    return this.inbox.countsView();
  }

  async inboxTimeline(
    conversationId: number,
    before: number | null,
    limit: number,
  ): Promise<ChatPageView> {
    this.checkFailure('inboxTimeline');
    return this.inbox.timeline(conversationId, before, limit);
  }

  async inboxViewing(conversationId: number | null): Promise<void> {
    this.checkFailure('inboxViewing');
    this.inbox.setViewing(conversationId);
  }

  async inboxSend(
    conversationId: number,
    clientId: string,
    message: OutgoingMessageInput,
  ): Promise<ChatMessageView> {
    this.checkFailure('inboxSend');
    const sent = this.inbox.send(conversationId, clientId, clone(message));
    if (message.type === 'location') this.outgoing.used(message.latitude, message.longitude);
    return sent;
  }

  async inboxRetry(conversationId: number, key: string): Promise<ChatMessageView> {
    this.checkFailure('inboxRetry');
    return this.inbox.retry(conversationId, key);
  }

  async inboxComment(conversationId: number, body: string): Promise<ChatCommentView> {
    this.checkFailure('inboxComment');
    return this.inbox.addComment(conversationId, body);
  }

  async inboxAttended(conversationId: number): Promise<ConversationView> {
    this.checkFailure('inboxAttended');
    return this.inbox.attended(conversationId);
  }

  async inboxTake(conversationId: number): Promise<ConversationView> {
    this.checkFailure('inboxTake');
    return this.inbox.take(conversationId);
  }

  async inboxRelease(conversationId: number): Promise<ConversationView> {
    this.checkFailure('inboxRelease');
    return this.inbox.release(conversationId);
  }

  async inboxTemplates(): Promise<TemplateView[]> {
    this.checkFailure('inboxTemplates');
    return this.inbox.templateList();
  }

  async inboxCannedResponses(): Promise<CannedResponseView[]> {
    this.checkFailure('inboxCannedResponses');
    return this.inbox.cannedResponses();
  }

  async inboxNumbers(): Promise<BusinessNumberView[]> {
    this.checkFailure('inboxNumbers');
    return this.inbox.numberList();
  }

  async inboxStart(
    businessNumber: string,
    customerNumber: string,
    clientId: string,
    message: OutgoingMessageInput,
  ): Promise<ConversationView> {
    this.checkFailure('inboxStart');
    return this.inbox.start(businessNumber, customerNumber, clientId, clone(message));
  }

  // ---- files, voice notes and locations (fake-outgoing.ts; uploads in fake-inbox.ts) ----

  async inboxPickFile(): Promise<StagedFileView | null> {
    this.checkFailure('inboxPickFile');
    return this.outgoing.pick();
  }

  async inboxStageFile(path: string): Promise<StagedFileView> {
    this.checkFailure('inboxStageFile');
    return this.outgoing.stagePath(path);
  }

  async inboxStageBytes(name: string, bytes: Uint8Array): Promise<StagedFileView> {
    this.checkFailure('inboxStageBytes');
    return this.outgoing.stageBytes(name, bytes);
  }

  async inboxDiscardStaged(token: string): Promise<void> {
    this.checkFailure('inboxDiscardStaged');
    this.outgoing.discard(token);
  }

  async inboxSendStaged(
    conversationId: number,
    clientId: string,
    token: string,
    caption: string | null,
  ): Promise<ChatMessageView> {
    this.checkFailure('inboxSendStaged');
    const file = this.outgoing.peek(token);
    const sent = this.inbox.sendStaged(conversationId, clientId, file, caption);
    this.outgoing.discard(token);
    return sent;
  }

  stagedUrl(token: string): string {
    return this.outgoing.recordingUrl(token) ?? this.outgoing.url(token);
  }

  async voiceRecordStart(): Promise<RecordingStatusView> {
    this.checkFailure('voiceRecordStart');
    return this.outgoing.recordStart();
  }

  async voiceRecordStatus(): Promise<RecordingStatusView> {
    this.checkFailure('voiceRecordStatus');
    return this.outgoing.status();
  }

  async voiceRecordStop(): Promise<StagedFileView> {
    this.checkFailure('voiceRecordStop');
    return this.outgoing.recordStop();
  }

  async voiceRecordDiscard(): Promise<void> {
    this.checkFailure('voiceRecordDiscard');
    this.outgoing.recordDiscard();
  }

  async audioInputs(): Promise<AudioInputView[]> {
    this.checkFailure('audioInputs');
    return this.outgoing.inputList();
  }

  async mediaWaveform(mediaId: string, bars: number): Promise<number[]> {
    this.checkFailure('mediaWaveform');
    return this.inbox.waveform(mediaId, bars);
  }

  async inboxQuickAddresses(): Promise<QuickAddressView[]> {
    this.checkFailure('inboxQuickAddresses');
    return this.outgoing.quickAddresses();
  }

  async inboxQuickAddressSave(
    name: string,
    address: string,
    latitude: number | null,
    longitude: number | null,
  ): Promise<QuickAddressView> {
    this.checkFailure('inboxQuickAddressSave');
    return this.outgoing.saveQuickAddress(name, address, latitude, longitude);
  }

  async inboxQuickAddressDelete(id: string): Promise<void> {
    this.checkFailure('inboxQuickAddressDelete');
    this.outgoing.deleteQuickAddress(id);
  }

  async locationHere(): Promise<PositionView | null> {
    this.checkFailure('locationHere');
    return this.outgoing.here();
  }

  /** The configured tile server (the real app serves its cached copies instead). */
  mapTileUrl(): string {
    return this.settings.mapTileUrl;
  }

  onFilesDropped(cb: (paths: string[]) => void): Unsubscribe {
    return this.filesDropped.on(cb);
  }

  onInboxUpload(cb: (progress: UploadProgressEvent) => void): Unsubscribe {
    return this.inbox.upload.on(cb);
  }

  /** Files are dropped on the window (paths on the fake disk, see `outgoing.putFile`). */
  simulateDrop(paths: string[]): void {
    this.filesDropped.emit([...paths]);
  }

  mediaUrl(mediaId: string): string {
    return this.inbox.mediaUrl(mediaId);
  }

  /** The fake's media are `data:` URLs, which every browser plays. */
  readonly mediaThroughBlob = false;

  async mediaOpen(mediaId: string): Promise<void> {
    this.checkFailure('mediaOpen');
    this.inbox.mediaOpen(mediaId);
  }

  async openExternal(url: string): Promise<void> {
    this.checkFailure('openExternal');
    this.inbox.openExternal(url);
  }

  onInboxChanged(cb: (conversation: ConversationView) => void): Unsubscribe {
    return this.inbox.changed.on(cb);
  }
  onInboxMessage(cb: (event: InboxMessageEvent) => void): Unsubscribe {
    return this.inbox.message.on(cb);
  }
  onInboxComment(cb: (comment: ChatCommentView) => void): Unsubscribe {
    return this.inbox.comment.on(cb);
  }
  onInboxCounts(cb: (counts: InboxCountsView) => void): Unsubscribe {
    return this.inbox.counts.on(cb);
  }

  // ---- events ---------------------------------------------------------------------------

  onCallUpdated(cb: (call: CallView) => void): Unsubscribe {
    return this.callUpdated.on(cb);
  }
  onLineStatus(cb: (status: LineStatusView) => void): Unsubscribe {
    return this.lineStatusChanged.on(cb);
  }
  onDialFailed(cb: (error: WireError) => void): Unsubscribe {
    return this.dialFailed.on(cb);
  }
  onNavigate(cb: (request: NavigateView) => void): Unsubscribe {
    return this.navigate.on(cb);
  }
  onCrmStatus(cb: (status: CrmStatusView) => void): Unsubscribe {
    return this.crmStatusChanged.on(cb);
  }
  onHubStatus(cb: (status: HubStatusView) => void): Unsubscribe {
    return this.hub.hubStatusChanged.on(cb);
  }
  onAgentState(cb: (state: AgentStateView) => void): Unsubscribe {
    return this.hub.agentStateChanged.on(cb);
  }
  onAgentsLive(cb: (agents: AgentLiveView[]) => void): Unsubscribe {
    return this.hub.agentsLiveChanged.on(cb);
  }

  // ---- test helpers: the far end --------------------------------------------------------

  /** A call rings in. Returns the new call. */
  simulateIncoming(number: string, displayName: string | null = null): CallView {
    // Screen-pop from the cache: one match is attached at once; several go to the chooser.
    const matches = this.cachedRecords().filter(
      (c) =>
        (!!c.phone && sameNumber(c.phone, number)) || (!!c.mobile && sameNumber(c.mobile, number)),
    );
    const only = matches.length === 1 ? matches[0]! : null;
    const call: CallView = {
      ...this.blankCall('incoming', number, this.now()),
      peerDisplayName: displayName,
      fromNumber: number,
      toNumber: null,
      callerMatches: matches,
      record: only ? { crm: only.crm, kind: only.kind, id: only.id, name: only.name } : null,
    };
    this.update(call);
    return { ...call };
  }

  /** The far end answers an outgoing call (or the agent answered elsewhere). */
  simulateAnswer(id: string): CallView {
    const call = this.get(id);
    return this.update({ ...call, status: 'answered', answeredAt: this.now() });
  }

  /** The far end hangs up (or the line drops, with `line_lost`). */
  simulateHangup(id: string, reason?: EndReason): CallView {
    const call = this.get(id);
    return this.end(call, reason ?? (call.status === 'answered' ? 'completed' : 'no_answer'));
  }

  simulateLineStatus(status: LineStatusView): void {
    this.line = { ...status };
    this.lineStatusChanged.emit({ ...status });
  }

  /** A tel: link from another program could not be dialed. */
  simulateDialFailed(code: string): void {
    this.dialFailed.emit(fail(code, code));
  }

  /** A notification or the tray asks for a panel (`inbox` with a conversation: that chat). */
  simulateNavigate(panel: string, conversationId?: number): void {
    this.navigate.emit(conversationId === undefined ? { panel } : { panel, conversationId });
  }

  /**
   * Moves the CRM writes one step, like the app's delivery loop: per CRM, in order, the first
   * write not delivered goes pending → sending, or sending → delivered (or needs_attention
   * when {@link failNextCrmWrite} queued a failure). A write that needs attention holds back
   * the later ones of its CRM. Returns whether anything changed.
   */
  advanceCrmWrites(): boolean {
    const touched: string[] = [];
    for (const crm of CRMS) {
      const head = this.writes.find((w) => w.crm === crm && w.state !== 'delivered');
      if (!head || head.state === 'needs_attention') continue;
      if (!this.links.has(crm) || this.links.get(crm)?.state !== 'ok') continue;
      if (head.state === 'pending') {
        head.state = 'sending';
        head.attempts += 1;
      } else {
        const failure = this.writeFailures.shift();
        if (failure) {
          Object.assign(head, {
            state: 'needs_attention',
            errorCode: failure.code,
            errorMessage: `simulated ${failure.code}`,
            errorField: failure.field,
            existingRecord: failure.existingRecord,
          });
        } else {
          head.state = 'delivered';
          if (head.kind === 'create_contact') this.created(head);
        }
      }
      touched.push(head.callId);
    }
    if (touched.length > 0) this.writesChanged(touched);
    return touched.length > 0;
  }

  /** Runs {@link advanceCrmWrites} until nothing moves. */
  deliverCrmWrites(): void {
    for (let i = 0; i < 1000 && this.advanceCrmWrites(); i += 1);
  }

  /**
   * The next CRM write that is sent fails and needs the agent's attention; a `crm_duplicate`
   * may name the existing record the CRM matched.
   */
  failNextCrmWrite(
    code: string,
    field: string | null = null,
    existingRecord: ExistingRecordView | null = null,
  ): void {
    this.writeFailures.push({ code, field, existingRecord });
  }

  /** The CRM now refuses the link's tokens (revoked, expired refresh token…). */
  simulateCrmReauth(crm: CrmKind, detail: string | null = null): void {
    const link = this.links.get(crm);
    if (!link) return;
    this.links.set(crm, { ...link, state: 'needs_reauth', detail });
    this.crmStatusChanged.emit(this.statusView());
  }

  /** The OS keyring stops (or starts) answering. */
  simulateKeyring(available: boolean): void {
    this.keyringAvailable = available;
    this.crmStatusChanged.emit(this.statusView());
  }

  /** What the fake CRMs hold (every record, created ones included). */
  crmContacts(): ContactView[] {
    return clone(this.crmRecords);
  }

  /** The next call of `command` rejects with `code` (and `field`, for `invalid_setting`). */
  failNext(command: CommandName, code: string, field: string | null = null): void {
    this.failures.set(command, fail(code, `simulated ${code}`, field));
  }

  /** A copy of a call as the fake stores it. */
  call(id: string): CallView | undefined {
    const call = this.calls.get(id);
    return call ? { ...call } : undefined;
  }

  // ---- internals ------------------------------------------------------------------------

  /** The CRM name the contacts cache has for a number (the first match), or null. */
  private nameOf(number: string): string | null {
    const match = this.cachedRecords().find(
      (c) =>
        (!!c.phone && sameNumber(c.phone, number)) || (!!c.mobile && sameNumber(c.mobile, number)),
    );
    return match?.name ?? null;
  }

  /** What a Salida would leave behind: calls still to log, CRM writes not delivered, chats. */
  private pendingWork(): ExitCheckView {
    return {
      chats: this.inbox.exitChats(),
      pendingCalls: [...this.calls.values()].filter(
        (c) => c.status === 'ended' && c.logState === 'pending',
      ).length,
      pendingWrites: this.writes.filter((w) => w.state !== 'delivered').length,
    };
  }

  private checkFailure(command: CommandName): void {
    const failure = this.failures.get(command);
    if (failure) {
      this.failures.delete(command);
      throw failure;
    }
  }

  private sorted(): CallView[] {
    return [...this.calls.values()]
      .sort((a, b) => b.startedAt - a.startedAt)
      .map((c) => ({ ...c }));
  }

  private get(id: string): CallView {
    const call = this.calls.get(id);
    if (!call) throw fail('not_found', `no call ${id}`);
    return call;
  }

  private requireKeyring(): void {
    if (!this.keyringAvailable) {
      throw fail('keyring_unavailable', 'no Secret Service provider answered on the session bus');
    }
  }

  private requireLinked(crm: CrmKind): void {
    if (!this.links.has(crm)) throw fail('crm_not_linked', `${crm} is not linked`);
  }

  /** Cached records of the linked CRMs. */
  private cachedRecords(): ContactView[] {
    return this.crmRecords
      .filter((c) => this.cached.has(c.id) && this.links.has(c.crm))
      .map((c) => clone(c));
  }

  private searchCache(query: string): ContactView[] {
    return this.cachedRecords().filter((c) => contactMatches(c, query));
  }

  private statusView(): CrmStatusView {
    const links: CrmLinkView[] = CRMS.map((crm) => {
      const link = this.links.get(crm);
      const state: CrmLinkState = !this.keyringAvailable
        ? 'keyring_unavailable'
        : (link?.state ?? 'not_linked');
      return {
        crm,
        linked: !!link,
        account: link?.account ?? null,
        state,
        detail: link?.detail ?? null,
        // Zoho access tokens last an hour; the app renews them a minute early.
        accessExpiresAt: link && crm === 'zoho' ? this.now() + 3_600_000 : null,
        warning: null,
      };
    });
    const open = this.writes.filter((w) => w.state !== 'delivered');
    return {
      keyring: {
        available: this.keyringAvailable,
        detail: this.keyringAvailable ? null : 'no Secret Service provider on the session bus',
      },
      links,
      pendingWrites: open.filter((w) => w.state !== 'needs_attention').length,
      needsAttention: open.filter((w) => w.state === 'needs_attention').length,
    };
  }

  private statusChanged(): CrmStatusView {
    const status = this.statusView();
    this.crmStatusChanged.emit(clone(status));
    this.scheduleAuto();
    return status;
  }

  private writesOf(callId: string): CrmWriteView[] {
    return this.writes
      .filter((w) => w.callId === callId)
      .map(
        ({ id, kind, state, attempts, errorCode, errorMessage, errorField, existingRecord }) => ({
          id,
          kind,
          state,
          attempts,
          errorCode,
          errorMessage,
          errorField,
          existingRecord,
        }),
      );
  }

  private queueWrite(
    crm: CrmKind,
    callId: string,
    kind: FakeWrite['kind'],
    contact: NewContactInput | null,
  ): void {
    this.writes.push({
      id: this.nextWriteId++,
      crm,
      callId,
      kind,
      contact,
      state: 'pending',
      attempts: 0,
      errorCode: null,
      errorMessage: null,
      errorField: null,
      existingRecord: null,
    });
    this.writesChanged([callId]);
    this.scheduleAuto();
  }

  /** Calls whose writes changed get their new `crmWrites` (and an event); so does crm:status. */
  private writesChanged(callIds: string[]): void {
    for (const id of new Set(callIds)) {
      const call = this.calls.get(id);
      if (call) this.update({ ...call, crmWrites: this.writesOf(id) });
    }
    this.crmStatusChanged.emit(this.statusView());
  }

  /** A create_contact was delivered: the record exists in the CRM and the call gets its id. */
  private created(write: FakeWrite): void {
    const input = write.contact;
    if (!input) return;
    const n = String(this.nextRecordId++).padStart(4, '0');
    const id =
      write.crm === 'salesforce'
        ? `${input.kind === 'lead' ? '00Q' : '003'}5e00000Nw${n}AAA`
        : `57257670000009${input.kind === 'lead' ? '2' : '1'}${n}`;
    const name = [input.firstName, input.lastName].filter((x) => x !== '').join(' ');
    const nullIfEmpty = (v: string) => (v === '' ? null : v);
    this.crmRecords.push({
      crm: write.crm,
      id,
      kind: input.kind,
      name,
      firstName: nullIfEmpty(input.firstName),
      lastName: nullIfEmpty(input.lastName),
      email: nullIfEmpty(input.email),
      phone: nullIfEmpty(input.phone),
      mobile: nullIfEmpty(input.mobile),
      company: input.kind === 'lead' ? nullIfEmpty(input.company) : null,
    });
    this.cached.add(id);
    const call = this.calls.get(write.callId);
    if (call?.record && call.record.id === null) {
      this.calls.set(call.id, { ...call, record: { ...call.record, id } });
    }
  }

  /** `auto` delivery: keeps stepping the outbox while there is work. */
  private scheduleAuto(): void {
    if (this.crmDelivery !== 'auto' || this.autoTimer !== null) return;
    this.autoTimer = setTimeout(() => {
      this.autoTimer = null;
      if (this.advanceCrmWrites()) this.scheduleAuto();
    }, this.autoDeliverMs);
  }

  private blankCall(direction: CallView['direction'], number: string, at: number): CallView {
    return {
      id: `fake-${this.nextId++}`,
      direction,
      peerNumber: number,
      peerDisplayName: null,
      fromNumber: null,
      toNumber: null,
      status: 'ringing',
      startedAt: at,
      answeredAt: null,
      endedAt: null,
      durationSeconds: 0,
      endReason: null,
      endDetail: null,
      logState: 'pending',
      record: null,
      subject: null,
      comment: null,
      crmWrites: [],
      callerMatches: [],
    };
  }

  private end(call: CallView, reason: EndReason): CallView {
    const endedAt = this.now();
    const durationSeconds =
      call.answeredAt === null ? 0 : Math.max(0, Math.floor((endedAt - call.answeredAt) / 1000));
    return this.update({ ...call, status: 'ended', endedAt, durationSeconds, endReason: reason });
  }

  private update(call: CallView): CallView {
    this.calls.set(call.id, call);
    this.callUpdated.emit(clone(call));
    return clone(call);
  }

  private handlerView(): HandlerStatusView {
    return {
      schemes: ['tel', 'callto'].map((scheme) => ({
        scheme,
        registered: this.handlerRegistered,
      })),
      canRegister: true,
      detail: null,
    };
  }
}

/** A call from before the CRM fields existed gets their empty values. */
function withCrmFields(call: CallView): CallView {
  return clone({
    ...call,
    record: call.record ?? null,
    subject: call.subject ?? null,
    comment: call.comment ?? null,
    crmWrites: call.crmWrites ?? [],
    callerMatches: call.callerMatches ?? [],
  });
}

/** Demo records that are in the CRM but not yet in the local cache ("Buscar en el CRM"). */
const DEMO_CRM_ONLY = ['00Q5e00000JrRmzEAB', '5725767000000413002'];

/**
 * A few Latin-American records in both CRMs. Ana Rodríguez (Salesforce) and María José Vargas
 * (Zoho) share +506 8888 7777, so a call from it shows the chooser.
 */
export function demoContacts(): ContactView[] {
  const contact = (c: Partial<ContactView> & Pick<ContactView, 'crm' | 'id' | 'kind'>) => {
    const first = c.firstName ?? null;
    const last = c.lastName ?? null;
    return {
      name: [first, last].filter((x) => x).join(' '),
      firstName: first,
      lastName: last,
      email: null,
      phone: null,
      mobile: null,
      company: null,
      ...c,
    };
  };
  return [
    contact({
      crm: 'salesforce',
      id: '0035e00000AbCdEAA1',
      kind: 'contact',
      firstName: 'Ana',
      lastName: 'Rodríguez',
      email: 'ana.rodriguez@cafetarrazu.example',
      phone: '+50688887777',
      mobile: '+50670001234',
      company: 'Café Tarrazú S.A.',
    }),
    contact({
      crm: 'salesforce',
      id: '0035e00000FgHiJAA1',
      kind: 'contact',
      firstName: 'Carlos',
      lastName: 'Méndez',
      email: 'cmendez@gruponorte.example',
      phone: '+525512345678',
      company: 'Grupo Norte',
    }),
    contact({
      crm: 'salesforce',
      id: '00Q5e00000XyZ12EAB',
      kind: 'lead',
      firstName: 'Lucía',
      lastName: 'Fernández',
      email: 'lucia@estudiofernandez.example',
      phone: '+5491145678901',
      company: 'Estudio Fernández',
    }),
    contact({
      crm: 'salesforce',
      id: '00Q5e00000JrRmzEAB',
      kind: 'lead',
      firstName: 'Jorge',
      lastName: 'Ramírez',
      phone: '+573001234567',
      company: 'Ramírez Ltda.',
    }),
    contact({
      crm: 'zoho',
      id: '5725767000000412001',
      kind: 'contact',
      firstName: 'María José',
      lastName: 'Vargas',
      email: 'mjvargas@vargas.example',
      phone: '+506 8888 7777',
      company: 'Vargas & Hijos',
    }),
    contact({
      crm: 'zoho',
      id: '5725767000000413002',
      kind: 'lead',
      firstName: 'Pedro',
      lastName: 'Castillo',
      mobile: '+51987654321',
      company: 'Castillo S.A.C.',
    }),
  ];
}

/** A few ended calls so the browser demo has something to show. Clearly marked as demo data. */
export function demoCalls(now: number): CallView[] {
  const base = {
    fromNumber: null,
    toNumber: null,
    status: 'ended' as const,
    endDetail: null,
    logState: 'pending' as const,
    record: null,
    subject: null,
    comment: null,
    crmWrites: [],
    callerMatches: [],
  };
  const minute = 60_000;
  return [
    {
      ...base,
      id: 'demo-1',
      direction: 'outgoing',
      peerNumber: '+525512345678',
      peerDisplayName: null,
      toNumber: '+525512345678',
      startedAt: now - 12 * minute,
      answeredAt: now - 12 * minute + 4_000,
      endedAt: now - 11 * minute + 6_000,
      durationSeconds: 62,
      endReason: 'completed',
    },
    {
      ...base,
      id: 'demo-2',
      direction: 'incoming',
      peerNumber: '+50688887777',
      peerDisplayName: 'Demo contact',
      fromNumber: '+50688887777',
      startedAt: now - 95 * minute,
      answeredAt: now - 95 * minute + 3_000,
      endedAt: now - 91 * minute,
      durationSeconds: 237,
      endReason: 'completed',
    },
    {
      ...base,
      id: 'demo-3',
      direction: 'incoming',
      peerNumber: '2001',
      peerDisplayName: null,
      fromNumber: '2001',
      startedAt: now - 26 * 60 * minute,
      answeredAt: null,
      endedAt: now - 26 * 60 * minute + 20_000,
      durationSeconds: 0,
      endReason: 'no_answer',
      logState: 'ignored',
    },
  ];
}
