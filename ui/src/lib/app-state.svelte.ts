// The UI's view of the app: what the host told us (calls, line, settings) plus UI-only state
// (current panel, last dial error). Kept in step by the host's push events; nothing polls.
import { getContext, setContext } from 'svelte';
import { resolveLanguage, setLanguage } from '../i18n/index.svelte';
import {
  toWireError,
  type AppInfoView,
  type CallView,
  type DialView,
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

  /** All calls, newest first (Historial). */
  history = $derived(Object.values(this.calls).sort(newestFirst));
  /** Ended calls still waiting to be logged, newest first (Llamadas). */
  pending = $derived(this.history.filter((c) => c.status === 'ended' && c.logState === 'pending'));
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
      p.onNavigate(({ panel }) => {
        if (isPanel(panel)) this.panel = panel;
      }),
    ];
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

  upsert(call: CallView): void {
    this.calls[call.id] = call;
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

  async saveSettings(settings: SettingsView): Promise<SettingsView> {
    const saved = await this.platform.settingsSave($state.snapshot(settings));
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
