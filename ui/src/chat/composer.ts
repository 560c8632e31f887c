// The composer's rules: what a key does, the customer-service window countdown, canned
// responses (typed as `/shortcut`), template filling and inserting at the caret. Pure.
import type { CannedResponseView, TemplateView } from '../platform';

/** What a key press in the message box does. */
export function composerKey(event: {
  key: string;
  shiftKey: boolean;
  isComposing?: boolean;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
}): 'send' | 'newline' | 'none' {
  if (event.key !== 'Enter' || event.isComposing) return 'none';
  if (event.shiftKey) return 'newline';
  if (event.altKey || event.metaKey) return 'none';
  return 'send';
}

/** WhatsApp's customer-service window: 24 hours from the customer's last message. */
export const WINDOW_SECONDS = 24 * 60 * 60;
/** The countdown turns to a warning in its last hour. */
export const WARNING_SECONDS = 60 * 60;

export interface WindowLeft {
  /** Whole seconds left, from 86,400 (24:00:00) down to 0. */
  seconds: number;
  state: 'open' | 'warning' | 'closed';
}

/** What is left of the window ending at `endsAt` (ms; null: the customer never wrote). */
export function windowLeft(endsAt: number | null, now: number): WindowLeft {
  if (endsAt === null) return { seconds: 0, state: 'closed' };
  const seconds = Math.min(WINDOW_SECONDS, Math.max(0, Math.ceil((endsAt - now) / 1000)));
  if (seconds <= 0) return { seconds: 0, state: 'closed' };
  return { seconds, state: seconds <= WARNING_SECONDS ? 'warning' : 'open' };
}

/** `HH:MM:SS`, hours always two digits (`24:00:00`, `00:59:59`). */
export function formatCountdown(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

/** Lower case without accents, for matching what people type. */
export function fold(value: string): string {
  return value
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}

/** The canned-response query when the text is `/word` (at the start, one word), else null. */
export function cannedQuery(text: string): string | null {
  const m = /^\/(\S*)$/.exec(text);
  return m ? m[1]! : null;
}

/** Responses matching `query`: shortcuts starting with it first, then any containing it. */
export function filterCanned(
  responses: CannedResponseView[],
  query: string,
  limit = 8,
): CannedResponseView[] {
  const q = fold(query.replace(/^\//, ''));
  const shortcut = (r: CannedResponseView) => fold(r.shortcut.replace(/^\//, ''));
  const starts = responses.filter((r) => shortcut(r).startsWith(q));
  const contains = responses.filter(
    (r) => !starts.includes(r) && (shortcut(r).includes(q) || fold(r.body).includes(q)),
  );
  return [...starts, ...contains].slice(0, limit);
}

/** The `{{n}}` numbers a template body uses, ascending. */
export function placeholderNumbers(body: string): number[] {
  const found = new Set<number>();
  for (const m of body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)) found.add(Number(m[1]));
  return [...found].sort((a, b) => a - b);
}

/** How many parameters a template takes (its count, or the highest `{{n}}` if higher). */
export function parameterCount(template: TemplateView): number {
  return Math.max(template.parameterCount, ...placeholderNumbers(template.body), 0);
}

/** The body with `{{n}}` replaced by the n-th parameter; empty ones by `empty(n)`. */
export function fillTemplate(
  body: string,
  parameters: string[],
  empty: (n: number) => string = (n) => `{{${n}}}`,
): string {
  return body.replace(/\{\{\s*(\d+)\s*\}\}/g, (_whole, n: string) => {
    const value = parameters[Number(n) - 1]?.trim();
    return value ? value : empty(Number(n));
  });
}

/** Every parameter filled (WhatsApp refuses empty ones). */
export function templateReady(template: TemplateView, parameters: string[]): boolean {
  const count = parameterCount(template);
  for (let i = 0; i < count; i += 1) if (!parameters[i]?.trim()) return false;
  return true;
}

/** `text` with `insert` replacing the selection `[start, end)`; the caret goes after it. */
export function insertAt(
  text: string,
  start: number,
  end: number,
  insert: string,
): { text: string; caret: number } {
  const a = Math.max(0, Math.min(start, text.length));
  const b = Math.max(a, Math.min(end, text.length));
  return { text: text.slice(0, a) + insert + text.slice(b), caret: a + insert.length };
}
