import type {
  AppInfoView,
  CallView,
  ContactKindView,
  ContactView,
  CrmKind,
  CrmStatusView,
  DialView,
  HandlerStatusView,
  LineStatusView,
  NavigateView,
  NewContactInput,
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
 * (notes/contract.md, notes/contract3.md) plus one subscription per event. Every method rejects with a
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

  // ---- CRM (notes/contract3.md) ----
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
  /** Opens the record in the browser. */
  recordOpen(crm: CrmKind, kind: ContactKindView, id: string): Promise<void>;

  onCallUpdated(cb: (call: CallView) => void): Unsubscribe;
  onLineStatus(cb: (status: LineStatusView) => void): Unsubscribe;
  onDialFailed(cb: (error: WireError) => void): Unsubscribe;
  onNavigate(cb: (request: NavigateRequest) => void): Unsubscribe;
  onCrmStatus(cb: (status: CrmStatusView) => void): Unsubscribe;
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
