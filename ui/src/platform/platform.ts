import type {
  AppInfoView,
  CallView,
  DialView,
  HandlerStatusView,
  LineStatusView,
  NavigateView,
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
 * Everything the UI may ask of the host. One method per Tauri command of the IPC contract
 * (notes/contract.md) plus one subscription per event. Every method rejects with a
 * {@link WireError}; the UI shows `errors.<code>` and never reads `message`.
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
  settingsSave(settings: SettingsView): Promise<SettingsView>;

  lineStatus(): Promise<LineStatusView>;
  handlerStatus(): Promise<HandlerStatusView>;
  handlerRegister(): Promise<HandlerStatusView>;
  appInfo(): Promise<AppInfoView>;
  /** The UI painted its first frame (the cold-start measurement ends here). Call once. */
  uiReady(): Promise<void>;

  onCallUpdated(cb: (call: CallView) => void): Unsubscribe;
  onLineStatus(cb: (status: LineStatusView) => void): Unsubscribe;
  onDialFailed(cb: (error: WireError) => void): Unsubscribe;
  onNavigate(cb: (request: NavigateRequest) => void): Unsubscribe;
}

/** Normalises anything a command rejected with into a {@link WireError}. */
export function toWireError(error: unknown): WireError {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code, message, field } = error as { code: unknown; message?: unknown; field?: unknown };
    if (typeof code === 'string' && code.length > 0) {
      return {
        code,
        message: typeof message === 'string' ? message : '',
        field: typeof field === 'string' && field.length > 0 ? field : null,
      };
    }
  }
  const internal = (message: string): WireError => ({ code: 'internal', message, field: null });
  if (typeof error === 'string') return internal(error);
  if (error instanceof Error) return internal(error.message);
  return internal(String(error));
}
