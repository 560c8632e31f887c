import { type Platform, type Unsubscribe } from './platform';
import type {
  AppInfoView,
  CallView,
  DialView,
  EndReason,
  HandlerStatusView,
  LineStatusView,
  NavigateView,
  SettingsView,
  WireError,
} from './types';

/** Options for {@link FakePlatform}; everything has a sensible default. */
export interface FakeOptions {
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
}

type CommandName = Exclude<keyof Platform, 'kind' | `on${string}`>;

export const DEFAULT_SETTINGS: SettingsView = {
  lineKind: 'baresip',
  baresip: { ctrlAddress: '127.0.0.1:4444', sipDomain: '127.0.0.1:5072' },
  handOff: { mode: 'uri', uriTemplate: 'sip:{number}', program: '' },
  defaultCountry: 'CR',
  language: 'auto',
  notifications: true,
};

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

class Emitter<T> {
  private listeners = new Set<(value: T) => void>();
  on(cb: (value: T) => void): Unsubscribe {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
  emit(value: T): void {
    for (const cb of [...this.listeners]) cb(value);
  }
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

  constructor(options: FakeOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.settings = clone({ ...DEFAULT_SETTINGS, ...options.settings });
    this.line = options.line ?? { kind: this.settings.lineKind, state: 'online', detail: null };
    this.handlerRegistered = options.handlerRegistered ?? false;
    this.osLocale =
      options.osLocale ?? (typeof navigator === 'undefined' ? 'es-CR' : navigator.language);
    this.problems = [...(options.problems ?? [])];
    for (const call of options.calls ?? []) this.calls.set(call.id, { ...call });
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

  async settingsSave(settings: SettingsView): Promise<SettingsView> {
    this.checkFailure('settingsSave');
    const problem = settingsProblem(settings);
    if (problem) throw problem;
    const country = settings.defaultCountry.trim().toUpperCase();
    const previousKind = this.settings.lineKind;
    this.settings = clone({ ...settings, defaultCountry: country });
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

  // ---- test helpers: the far end --------------------------------------------------------

  /** A call rings in. Returns the new call. */
  simulateIncoming(number: string, displayName: string | null = null): CallView {
    const call: CallView = {
      ...this.blankCall('incoming', number, this.now()),
      peerDisplayName: displayName,
      fromNumber: number,
      toNumber: null,
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

  simulateNavigate(panel: string): void {
    this.navigate.emit({ panel });
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
    this.callUpdated.emit({ ...call });
    return { ...call };
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

/** A few ended calls so the browser demo has something to show. Clearly marked as demo data. */
export function demoCalls(now: number): CallView[] {
  const base = {
    fromNumber: null,
    toNumber: null,
    status: 'ended' as const,
    endDetail: null,
    logState: 'pending' as const,
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
