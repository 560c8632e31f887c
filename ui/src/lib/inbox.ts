// The Omnicanalidad panel's rules: which conversations a filter and a search show, their order
// (latest activity first), applying pushed changes to the list, and the window countdown of a
// row. Pure: no Svelte, no host.
import { formatCountdown, windowLeft } from '../chat/composer';
import type { ConversationView, InboxFilter, NavigateView } from '../platform';

export const FILTERS: readonly InboxFilter[] = ['mine', 'queues', 'unassigned'];

/** Lower case without accents, for matching what people type. */
function fold(value: string): string {
  return value.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

const digitsOf = (text: string) => text.replace(/\D/g, '');

/**
 * The search matches the customer's CRM or WhatsApp name (accents and case ignored), or 3+
 * digits of the number (spaces, dashes and `+` ignored). An empty search matches everything.
 */
export function matchesSearch(conversation: ConversationView, search: string): boolean {
  const query = search.trim();
  if (query === '') return true;
  const q = fold(query);
  const names = [conversation.customerName ?? '', conversation.profileName].map(fold);
  if (names.some((n) => n !== '' && n.includes(q))) return true;
  const digits = digitsOf(query);
  return (
    digits.length >= 3 &&
    /^[\d\s+().-]+$/.test(query) &&
    digitsOf(conversation.customer).includes(digits)
  );
}

/**
 * Whether a conversation belongs in the list under `filter` and `search`: open ones only, unless
 * searching (a search also finds attended ones, as the host's does). `queues` trusts the host:
 * it only tells this agent about conversations of their queues.
 */
export function belongs(
  conversation: ConversationView,
  filter: InboxFilter,
  search: string,
): boolean {
  if (conversation.state !== 'open' && search.trim() === '') return false;
  if (filter === 'mine' && !conversation.mine) return false;
  if (filter === 'unassigned' && conversation.agentId !== null) return false;
  return matchesSearch(conversation, search);
}

/** Latest activity first; ties by the newer id. */
export function byActivity(a: ConversationView, b: ConversationView): number {
  return b.lastMessageAt - a.lastMessageAt || b.id - a.id;
}

/**
 * The list after the host pushed `conversation` (new message, assignment, attended…): replaced
 * in place, added, or dropped when it no longer belongs. Returns the same array when nothing
 * changed for this list.
 */
export function applyChange(
  list: ConversationView[],
  conversation: ConversationView,
  filter: InboxFilter,
  search: string,
): ConversationView[] {
  const at = list.findIndex((c) => c.id === conversation.id);
  const keep = belongs(conversation, filter, search);
  if (!keep) return at === -1 ? list : list.filter((c) => c.id !== conversation.id);
  const next = [...list];
  if (at === -1) next.push(conversation);
  else next[at] = conversation;
  return next.sort(byActivity);
}

export type WindowState = 'open' | 'warning' | 'closed';

/** What a row shows of the 24 h window: `hh:mm:ss` left (warning in the last hour) or closed. */
export function windowOf(
  conversation: Pick<ConversationView, 'windowEndsAt'>,
  now: number,
): { state: WindowState; text: string } {
  const left = windowLeft(conversation.windowEndsAt, now);
  return { state: left.state, text: left.state === 'closed' ? '' : formatCountdown(left.seconds) };
}

/** The customer's name to show: the CRM's, else the one set in WhatsApp, else none. */
export function customerLabel(conversation: ConversationView): string | null {
  return conversation.customerName ?? (conversation.profileName.trim() || null);
}

/** The conversation an `app:navigate` asks to open (`panel: inbox`), or null. */
export function conversationToOpen(request: NavigateView): number | null {
  if (request.panel !== 'inbox') return null;
  const id = request.conversationId;
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : null;
}

/** A client message id (the host's idempotency key for a send). */
export function newClientId(): string {
  const random = globalThis.crypto?.randomUUID?.();
  return random ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}
