// The chat's timeline as rows: messages and internal comments in time order, a day separator
// before each new local day, reactions attached to the message they point at (never a row of
// their own) and the quoted message of a reply looked up by its wamid. Pure: no Svelte, no host.
import type { ChatCommentView, ChatMessageStatus, ChatMessageView } from '../platform';

/** One reaction chip under a message: the emoji and who put it there. */
export interface Reaction {
  emoji: string;
  /** The agent's side (true) or the customer's (false). */
  outgoing: boolean;
}

export type Row =
  | { kind: 'day'; key: string; at: number }
  | {
      kind: 'message';
      key: string;
      message: ChatMessageView;
      reactions: Reaction[];
      /** The quoted message when this one is a reply: `null` inside when it is not loaded. */
      quoted: { wamid: string; message: ChatMessageView | null } | null;
    }
  | { kind: 'comment'; key: string; comment: ChatCommentView };

/** How far an outbound message got; a higher rank never goes back to a lower one. */
const RANK: Record<ChatMessageStatus, number> = {
  pending: 0,
  queued: 1,
  sending: 2,
  accepted: 3,
  sent: 4,
  // After `sent` (Meta may fail a message it took) but below `delivered`.
  failed: 5,
  delivered: 6,
  read: 7,
  played: 8,
  received: 9,
};

export function statusRank(status: ChatMessageStatus): number {
  return RANK[status] ?? 0;
}

/** What the ticks show for a status. */
export type Tick = 'clock' | 'sent' | 'delivered' | 'read' | 'failed' | 'none';

export function tickOf(status: ChatMessageStatus): Tick {
  switch (status) {
    case 'pending':
    case 'queued':
    case 'sending':
      return 'clock';
    case 'accepted':
    case 'sent':
      return 'sent';
    case 'delivered':
      return 'delivered';
    case 'read':
    case 'played':
      return 'read';
    case 'failed':
      return 'failed';
    default:
      return 'none';
  }
}

/**
 * Puts `incoming` into `list` (matched by key), oldest first. An update never moves a message
 * back to an earlier status (events may arrive out of order, or after the send's own reply);
 * `force` takes it anyway (a retry starts the same message over).
 */
export function upsertMessage(
  list: ChatMessageView[],
  incoming: ChatMessageView,
  force = false,
): ChatMessageView[] {
  const at = list.findIndex((m) => m.key === incoming.key);
  if (at >= 0) {
    const current = list[at]!;
    if (!force && statusRank(incoming.status) < statusRank(current.status)) {
      // Keep the further status but take what the update knows better (wamid, hub id).
      const merged = {
        ...current,
        wamid: current.wamid ?? incoming.wamid,
        hubId: current.hubId ?? incoming.hubId,
      };
      return list.map((m, i) => (i === at ? merged : m));
    }
    return list.map((m, i) => (i === at ? incoming : m));
  }
  const next = [...list, incoming];
  // Usually it is the newest: sort only when it is not.
  const last = list.at(-1);
  if (last && incoming.at < last.at) next.sort((a, b) => a.at - b.at);
  return next;
}

/** Merges an older page in front of what is loaded (keys already present are kept). */
export function prependPage(list: ChatMessageView[], older: ChatMessageView[]): ChatMessageView[] {
  const known = new Set(list.map((m) => m.key));
  return [...older.filter((m) => !known.has(m.key)), ...list];
}

/** The same for comments, by id, in time order. */
export function mergeComments(list: ChatCommentView[], more: ChatCommentView[]): ChatCommentView[] {
  const byId = new Map(list.map((c) => [c.id, c]));
  for (const c of more) byId.set(c.id, c);
  return [...byId.values()].sort((a, b) => a.at - b.at || a.id - b.id);
}

const record = (value: unknown): Record<string, unknown> | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/**
 * A reaction message's target and emoji: inbound as WhatsApp sends it
 * (`reaction: {message_id, emoji}`), outbound as the agent sent it (`{messageId, emoji}`).
 * An empty or missing emoji removes the reaction.
 */
export function reactionOf(message: ChatMessageView): { target: string; emoji: string } | null {
  if (message.kind !== 'reaction') return null;
  const content = record(message.content);
  const inner = record(content?.reaction) ?? content;
  const target = text(inner?.message_id) ?? text(inner?.messageId);
  if (!target) return null;
  return { target, emoji: text(inner?.emoji) ?? '' };
}

/** The local calendar day of `ms`, e.g. `2025-11-23`. */
export function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** How a day separator reads: today, yesterday, or the date. */
export function dayLabelKind(ms: number, now: number): 'today' | 'yesterday' | 'date' {
  const day = dayKey(ms);
  if (day === dayKey(now)) return 'today';
  const n = new Date(now);
  const yesterday = new Date(n.getFullYear(), n.getMonth(), n.getDate() - 1, 12).getTime();
  return day === dayKey(yesterday) ? 'yesterday' : 'date';
}

/**
 * The rows to show, oldest first. Reactions keep only the latest of each side per message
 * (an empty emoji removes it); a reaction whose target is not loaded is not shown.
 */
export function buildRows(messages: ChatMessageView[], comments: ChatCommentView[]): Row[] {
  const byWamid = new Map<string, ChatMessageView>();
  const reactions = new Map<string, Map<boolean, string>>();
  for (const m of messages) {
    if (m.wamid) byWamid.set(m.wamid, m);
    const reaction = reactionOf(m);
    if (reaction) {
      const sides = reactions.get(reaction.target) ?? new Map<boolean, string>();
      sides.set(m.outgoing, reaction.emoji);
      reactions.set(reaction.target, sides);
    }
  }

  type Entry = { at: number; row: Row };
  const entries: Entry[] = [];
  for (const m of messages) {
    if (m.kind === 'reaction') continue;
    const sides = m.wamid ? reactions.get(m.wamid) : undefined;
    const chips: Reaction[] = [];
    for (const [outgoing, emoji] of sides ?? []) if (emoji) chips.push({ emoji, outgoing });
    entries.push({
      at: m.at,
      row: {
        kind: 'message',
        key: m.key,
        message: m,
        reactions: chips,
        quoted: m.replyTo ? { wamid: m.replyTo, message: byWamid.get(m.replyTo) ?? null } : null,
      },
    });
  }
  for (const c of comments) {
    entries.push({ at: c.at, row: { kind: 'comment', key: `n:${c.id}`, comment: c } });
  }
  // Stable: messages keep their order among equal times; comments follow messages of the same ms.
  entries.sort((a, b) => a.at - b.at);

  const rows: Row[] = [];
  let lastDay = '';
  for (const { at, row } of entries) {
    const day = dayKey(at);
    if (day !== lastDay) {
      rows.push({ kind: 'day', key: `d:${day}`, at });
      lastDay = day;
    }
    rows.push(row);
  }
  return rows;
}

/** A short text for a quoted message: its text, or null (the caller names the kind). */
export function snippetOf(message: ChatMessageView, max = 90): string | null {
  const body = message.text?.trim();
  if (!body) return null;
  const line = body.replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
