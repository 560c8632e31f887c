// The fake organization's server ("hub") behind FakePlatform: two agents, pause reasons with
// budgets, Salida, throttling after five failed logins, a day summary and the supervisor's live
// table. It keeps no timers: durations come from the injected clock.
import type { Unsubscribe } from './platform';
import type {
  AgentLiveView,
  AgentStateKind,
  AgentStateView,
  DayView,
  ExitCheckView,
  HubAgentView,
  HubStatusView,
  PauseReasonView,
  WireError,
} from './types';

/** The server address a dev flag or a test configures. */
export const FAKE_HUB_SERVER = 'https://hub.enlace.example';

/** The fake hub's accounts: a plain agent and a supervisor. */
export const FAKE_HUB_AGENTS = {
  agent: {
    user: '1234567',
    password: '123456',
    name: 'Ana Rodríguez',
    extension: '1001',
    supervisor: false,
  },
  supervisor: {
    user: '7654321',
    password: '654321',
    name: 'Carlos Méndez',
    extension: '1002',
    supervisor: true,
  },
} as const;

/** Failed logins in a row before the hub throttles, and the first lock's length. */
export const FAKE_THROTTLE = { failures: 5, lockSeconds: 60 } as const;

/** The organization's pause reasons (Baño 15 min, Almuerzo 60 min, Capacitación, Salida). */
export function fakePauseReasons(): PauseReasonView[] {
  return [
    { id: 1, name: 'Baño', budgetSeconds: 15 * 60, isExit: false },
    { id: 2, name: 'Almuerzo', budgetSeconds: 60 * 60, isExit: false },
    { id: 3, name: 'Capacitación', budgetSeconds: null, isExit: false },
    { id: 4, name: 'Salida', budgetSeconds: null, isExit: true },
  ];
}

export interface FakeHubOptions {
  /** The configured server (default null: no hub, the hub features are off). */
  hubServer?: string | null;
  /** A user of {@link FAKE_HUB_AGENTS} already signed in at start (needs `hubServer`). */
  hubLoggedInAs?: string | null;
  /** The day summary before this session's pauses (default: a demo day per agent). */
  hubDay?: DayView;
}

export class Emitter<T> {
  private listeners = new Set<(value: T) => void>();
  on(cb: (value: T) => void): Unsubscribe {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
  emit(value: T): void {
    for (const cb of [...this.listeners]) cb(value);
  }
}

type FakeAgent = HubAgentView & { password: string; disabled: boolean };

interface LiveRow {
  user: string;
  name: string;
  extension: string;
  state: AgentStateKind;
  reasonName: string | null;
  since: number;
}

const fail = (code: string, message: string, field: string | null = null): WireError => ({
  code,
  message,
  field,
});

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const SERVER = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/;

export class FakeHub {
  readonly hubStatusChanged = new Emitter<HubStatusView>();
  readonly agentStateChanged = new Emitter<AgentStateView>();
  readonly agentsLiveChanged = new Emitter<AgentLiveView[]>();
  /** Every login attempt (server, user), in order, accepted or not. */
  readonly loginAttempts: { server: string; user: string }[] = [];

  private server: string | null;
  private agents: FakeAgent[];
  private current: FakeAgent | null = null;
  private state: { kind: AgentStateKind; reason: PauseReasonView | null; since: number } | null =
    null;
  private readonly reasons = fakePauseReasons();
  private reachable = true;
  private streamOnline = true;
  private resyncedAt: number | null = null;
  private failures = new Map<string, { count: number; lockedUntil: number; locks: number }>();
  private pauseTotals = new Map<string, number>();
  private readonly baseDay: DayView | null;
  private others: LiveRow[];

  constructor(
    private readonly now: () => number,
    options: FakeHubOptions,
    private readonly pendingWork: () => ExitCheckView,
  ) {
    this.server = options.hubServer ?? null;
    this.agents = Object.values(FAKE_HUB_AGENTS).map((a) => ({ ...a, disabled: false }));
    this.baseDay = options.hubDay ? clone(options.hubDay) : null;
    const t = now();
    this.others = [
      row('2345678', 'Lucía Fernández', '1003', 'on_call', null, t - 4 * 60_000),
      row('3456789', 'Jorge Ramírez', '1004', 'paused', 'Almuerzo', t - 22 * 60_000),
      row('4567890', 'María José Vargas', '1005', 'available', null, t - 9 * 60_000),
    ];
    const start = options.hubLoggedInAs;
    if (start && this.server) {
      const agent = this.agents.find((a) => a.user === start);
      if (agent) this.signIn(agent);
    }
  }

  // ---- commands -------------------------------------------------------------------------

  status(): HubStatusView {
    const agent = this.current;
    return {
      server: this.server,
      loggedIn: agent !== null,
      agent: agent
        ? {
            user: agent.user,
            name: agent.name,
            extension: agent.extension,
            supervisor: agent.supervisor,
          }
        : null,
      state: agent ? this.stateView() : null,
      streamOnline: agent !== null && this.streamOnline,
      detail: agent && !this.streamOnline ? 'stream reconnecting' : null,
      resyncedAt: agent ? this.resyncedAt : null,
    };
  }

  login(server: string, user: string, password: string): HubStatusView {
    const address = server.trim();
    this.loginAttempts.push({ server: address, user });
    if (!SERVER.test(address)) {
      throw fail('invalid_setting', 'the server must be an http(s) address', 'server');
    }
    if (!/^\d{7}$/.test(user)) throw fail('invalid_setting', 'the user is 7 digits', 'user');
    if (!/^\d{6}$/.test(password)) {
      throw fail('invalid_setting', 'the password is 6 digits', 'password');
    }
    if (!this.reachable) throw fail('hub_unreachable', `cannot connect to ${address}`);
    const now = this.now();
    const record = this.failures.get(user) ?? { count: 0, lockedUntil: 0, locks: 0 };
    if (record.lockedUntil > now) throw throttled(Math.ceil((record.lockedUntil - now) / 1000));
    const agent = this.agents.find((a) => a.user === user);
    if (!agent || agent.password !== password) {
      record.count += 1;
      this.failures.set(user, record);
      if (record.count >= FAKE_THROTTLE.failures) {
        // Growing locks: 60 s, 120 s, 240 s…
        const seconds = FAKE_THROTTLE.lockSeconds * 2 ** record.locks;
        record.locks += 1;
        record.count = 0;
        record.lockedUntil = now + seconds * 1000;
        throw throttled(seconds);
      }
      throw fail('bad_credentials', 'wrong user or password');
    }
    if (agent.disabled) throw fail('agent_disabled', 'the agent is disabled');
    this.failures.delete(user);
    this.server = address;
    this.signIn(agent);
    return this.statusChanged();
  }

  logout(): HubStatusView {
    this.endSession();
    return this.statusChanged();
  }

  pauseReasons(): PauseReasonView[] {
    this.requireSession();
    return clone(this.reasons);
  }

  pause(reasonId: number): AgentStateView {
    this.requireSession();
    const reason = this.reasons.find((r) => r.id === reasonId);
    if (!reason) throw fail('not_found', `no pause reason ${reasonId}`);
    if (reason.isExit) throw fail('invalid_request', 'Salida is agent_exit');
    this.setState('paused', reason);
    return this.stateView();
  }

  unpause(): AgentStateView {
    this.requireSession();
    this.setState('available', null);
    return this.stateView();
  }

  exitCheck(): ExitCheckView {
    this.requireSession();
    return this.pendingWork();
  }

  exit(): HubStatusView {
    this.requireSession();
    this.endSession();
    return this.statusChanged();
  }

  day(): DayView {
    const agent = this.requireSession();
    const base =
      this.baseDay ??
      (agent.supervisor
        ? { callsIn: 3, callsOut: 5, talkSeconds: 1_260, pauses: [] }
        : {
            callsIn: 14,
            callsOut: 9,
            talkSeconds: 4_380,
            pauses: [
              { reasonName: 'Baño', seconds: 540 },
              { reasonName: 'Almuerzo', seconds: 3_300 },
            ],
          });
    const totals = new Map(base.pauses.map((p) => [p.reasonName, p.seconds]));
    for (const [name, seconds] of this.pauseTotals) {
      totals.set(name, (totals.get(name) ?? 0) + seconds);
    }
    const running = this.runningPause();
    if (running) totals.set(running.name, (totals.get(running.name) ?? 0) + running.seconds);
    return {
      callsIn: base.callsIn,
      callsOut: base.callsOut,
      talkSeconds: base.talkSeconds,
      pauses: [...totals].map(([reasonName, seconds]) => ({ reasonName, seconds })),
    };
  }

  live(): AgentLiveView[] {
    const agent = this.requireSession();
    if (!agent.supervisor) throw fail('forbidden', 'supervisors only');
    return this.liveRows();
  }

  // ---- test helpers ---------------------------------------------------------------------

  /** The server stops (or starts) answering logins. */
  setReachable(reachable: boolean): void {
    this.reachable = reachable;
  }

  /** The administrator disables (or enables) an agent. */
  setAgentDisabled(user: string, disabled: boolean): void {
    const agent = this.agents.find((a) => a.user === user);
    if (agent) agent.disabled = disabled;
  }

  /** The hub ends the session on its side (expiry, password reset…): hub:status loggedIn false. */
  expireSession(): void {
    this.endSession();
    this.statusChanged();
  }

  /** The event stream drops (or comes back). */
  setStreamOnline(online: boolean): void {
    this.streamOnline = online;
    this.statusChanged();
  }

  /**
   * The stream came back after the hub had pruned events it never delivered: like the real
   * host, the state is read again (here: unchanged) and hub:status says when (`resyncedAt`).
   */
  simulateTruncatedStream(): void {
    if (!this.current) return;
    this.resyncedAt = this.now();
    this.statusChanged();
  }

  /** Another agent changes state (the supervisor's table gets `agents:live`). */
  setOtherAgent(user: string, state: AgentStateKind, reasonName: string | null = null): void {
    const other = this.others.find((o) => o.user === user);
    if (!other) return;
    Object.assign(other, { state, reasonName, since: this.now() });
    this.agentsLiveChanged.emit(this.liveRows());
  }

  /**
   * The signed-in agent's other session (another desk) pauses with `reasonName`, or makes the
   * agent available (null): the hub pushes `agent:state` (and `agents:live`).
   */
  setStateElsewhere(reasonName: string | null): void {
    if (!this.current) return;
    const reason = this.reasons.find((r) => r.name === reasonName && !r.isExit) ?? null;
    this.setState(reason ? 'paused' : 'available', reason);
  }

  /** The signed-in agent's calls: the hub says on_call (true) or available again (false). */
  setOnCall(onCall: boolean): void {
    if (!this.current) return;
    this.setState(onCall ? 'on_call' : 'available', null);
  }

  // ---- internals ------------------------------------------------------------------------

  private signIn(agent: FakeAgent): void {
    this.current = agent;
    this.state = { kind: 'available', reason: null, since: this.now() };
    this.streamOnline = true;
    this.resyncedAt = null;
    this.agentsLiveChanged.emit(this.liveRows());
  }

  private endSession(): void {
    this.closePause();
    this.current = null;
    this.state = null;
    this.agentsLiveChanged.emit(this.liveRows());
  }

  private requireSession(): FakeAgent {
    if (!this.current) throw fail('session_expired', 'not signed in to the hub');
    return this.current;
  }

  private setState(kind: AgentStateKind, reason: PauseReasonView | null): void {
    this.closePause();
    this.state = { kind, reason, since: this.now() };
    this.agentStateChanged.emit(this.stateView());
    this.agentsLiveChanged.emit(this.liveRows());
  }

  /** Adds the running pause (if any) to the day's totals. */
  private closePause(): void {
    const running = this.runningPause();
    if (running) {
      this.pauseTotals.set(
        running.name,
        (this.pauseTotals.get(running.name) ?? 0) + running.seconds,
      );
    }
    if (this.state) this.state = { ...this.state, reason: null, since: this.now() };
  }

  private runningPause(): { name: string; seconds: number } | null {
    if (this.state?.kind !== 'paused' || !this.state.reason) return null;
    const seconds = Math.max(0, Math.floor((this.now() - this.state.since) / 1000));
    return { name: this.state.reason.name, seconds };
  }

  private stateView(): AgentStateView {
    const s = this.state ?? { kind: 'logged_out' as const, reason: null, since: this.now() };
    const budget = s.reason?.budgetSeconds ?? null;
    return {
      state: s.kind,
      reasonId: s.reason?.id ?? null,
      reasonName: s.reason?.name ?? null,
      since: s.since,
      budgetSeconds: budget,
      overBudget: budget !== null && this.now() - s.since > budget * 1000,
    };
  }

  private liveRows(): AgentLiveView[] {
    const mine = this.agents
      .filter((a) => !a.disabled)
      .map((a): AgentLiveView => {
        const here = this.current?.user === a.user ? this.state : null;
        return {
          user: a.user,
          name: a.name,
          extension: a.extension,
          state: here?.kind ?? 'logged_out',
          reasonName: here?.reason?.name ?? null,
          since: here?.since ?? this.now(),
        };
      });
    return clone([...mine, ...this.others]);
  }

  private statusChanged(): HubStatusView {
    const status = this.status();
    this.hubStatusChanged.emit(clone(status));
    return status;
  }
}

function row(
  user: string,
  name: string,
  extension: string,
  state: AgentStateKind,
  reasonName: string | null,
  since: number,
): LiveRow {
  return { user, name, extension, state, reasonName, since };
}

function throttled(seconds: number): WireError & { retryAfterSeconds: number } {
  return {
    ...fail('throttled', `too many failed logins; try again in ${seconds} s`),
    retryAfterSeconds: seconds,
  };
}
