import { describe, expect, it } from 'vitest';
import type { ChatCommentView, ChatMessageView } from '../platform';
import {
  buildRows,
  dayKey,
  dayLabelKind,
  mergeComments,
  prependPage,
  reactionOf,
  snippetOf,
  statusRank,
  tickOf,
  upsertMessage,
} from './timeline';

const at = (d: number, h = 10, m = 0) => new Date(2025, 10, d, h, m).getTime();

function msg(key: string, time: number, extra: Partial<ChatMessageView> = {}): ChatMessageView {
  return {
    key,
    conversationId: 1,
    hubId: null,
    clientId: null,
    wamid: `w-${key}`,
    outgoing: false,
    kind: 'text',
    text: `text ${key}`,
    content: {},
    mediaId: null,
    replyTo: null,
    status: 'received',
    error: null,
    agentId: null,
    at: time,
    ...extra,
  };
}

const comment = (id: number, time: number): ChatCommentView => ({
  id,
  conversationId: 1,
  agentId: 1,
  agentName: 'Ana',
  body: `note ${id}`,
  at: time,
});

describe('status order and ticks', () => {
  it('ranks the statuses in the order they happen, failed below delivered', () => {
    const order = [
      'pending',
      'queued',
      'sending',
      'accepted',
      'sent',
      'delivered',
      'read',
    ] as const;
    for (let i = 1; i < order.length; i += 1) {
      expect(statusRank(order[i]!)).toBeGreaterThan(statusRank(order[i - 1]!));
    }
    expect(statusRank('failed')).toBeGreaterThan(statusRank('sent'));
    expect(statusRank('failed')).toBeLessThan(statusRank('delivered'));
  });

  it.each([
    ['pending', 'clock'],
    ['queued', 'clock'],
    ['sending', 'clock'],
    ['accepted', 'sent'],
    ['sent', 'sent'],
    ['delivered', 'delivered'],
    ['read', 'read'],
    ['played', 'read'],
    ['failed', 'failed'],
    ['received', 'none'],
  ] as const)('%s shows %s', (status, tick) => {
    expect(tickOf(status)).toBe(tick);
  });
});

describe('upsertMessage', () => {
  it('never moves a message back to an earlier status, but takes its wamid', () => {
    const read = msg('c:1', at(1), { outgoing: true, status: 'read', wamid: null });
    const late = msg('c:1', at(1), { outgoing: true, status: 'sent', wamid: 'w-late' });
    const list = upsertMessage([read], late);
    expect(list).toHaveLength(1);
    expect(list[0]!.status).toBe('read');
    expect(list[0]!.wamid).toBe('w-late');
  });

  it('moves forward, and force takes a restart (a retry)', () => {
    const failed = msg('c:1', at(1), { outgoing: true, status: 'failed' });
    expect(upsertMessage([failed], { ...failed, status: 'delivered' })[0]!.status).toBe(
      'delivered',
    );
    expect(upsertMessage([failed], { ...failed, status: 'pending' })[0]!.status).toBe('failed');
    expect(upsertMessage([failed], { ...failed, status: 'pending' }, true)[0]!.status).toBe(
      'pending',
    );
  });

  it('keeps time order when a message arrives late', () => {
    const list = upsertMessage([msg('a', at(1, 10)), msg('c', at(1, 12))], msg('b', at(1, 11)));
    expect(list.map((m) => m.key)).toEqual(['a', 'b', 'c']);
  });

  it('prepends an older page without duplicating what is loaded', () => {
    const list = prependPage(
      [msg('b', at(1, 11)), msg('c', at(1, 12))],
      [msg('a', at(1, 10)), msg('b', at(1, 11))],
    );
    expect(list.map((m) => m.key)).toEqual(['a', 'b', 'c']);
  });

  it('merges comments by id in time order', () => {
    const list = mergeComments(
      [comment(2, at(1, 12))],
      [comment(1, at(1, 10)), comment(2, at(1, 12))],
    );
    expect(list.map((c) => c.id)).toEqual([1, 2]);
  });
});

describe('days', () => {
  it('labels today, yesterday and older dates in local time', () => {
    const now = at(23, 9);
    expect(dayLabelKind(at(23, 0, 1), now)).toBe('today');
    expect(dayLabelKind(at(22, 23, 59), now)).toBe('yesterday');
    expect(dayLabelKind(at(21, 12), now)).toBe('date');
    // The first of the month: yesterday is the last day of the previous month.
    expect(
      dayLabelKind(new Date(2025, 10, 30, 20).getTime(), new Date(2025, 11, 1, 8).getTime()),
    ).toBe('yesterday');
    expect(dayKey(at(5, 1))).toBe('2025-11-05');
  });

  it('puts a separator before each new day, and comments among the messages by time', () => {
    const rows = buildRows(
      [msg('a', at(1, 10)), msg('b', at(1, 12)), msg('c', at(2, 9))],
      [comment(7, at(1, 11)), comment(8, at(2, 10))],
    );
    expect(rows.map((r) => r.key)).toEqual([
      'd:2025-11-01',
      'a',
      'n:7',
      'b',
      'd:2025-11-02',
      'c',
      'n:8',
    ]);
  });
});

describe('reactions and quotes', () => {
  it('reads inbound and outbound reaction shapes', () => {
    const inbound = msg('r', at(1), {
      kind: 'reaction',
      content: { type: 'reaction', reaction: { message_id: 'w-a', emoji: '👍' } },
    });
    const outbound = msg('s', at(1), {
      kind: 'reaction',
      outgoing: true,
      content: { type: 'reaction', messageId: 'w-a', emoji: '❤️' },
    });
    expect(reactionOf(inbound)).toEqual({ target: 'w-a', emoji: '👍' });
    expect(reactionOf(outbound)).toEqual({ target: 'w-a', emoji: '❤️' });
    expect(reactionOf(msg('x', at(1), { kind: 'reaction', content: 'junk' }))).toBeNull();
    expect(reactionOf(msg('x', at(1)))).toBeNull();
  });

  it('attaches reactions under their message (latest per side; empty removes), never as rows', () => {
    const reaction = (key: string, emoji: string, outgoing = false, target = 'w-a') =>
      msg(key, at(1, 11), {
        kind: 'reaction',
        outgoing,
        content: { reaction: { message_id: target, emoji } },
      });
    const rows = buildRows(
      [
        msg('a', at(1, 10)),
        msg('b', at(1, 10, 5)),
        reaction('r1', '👍'),
        reaction('r2', '😂'),
        reaction('r3', '❤️', true),
        reaction('r4', '👍', false, 'w-b'),
        reaction('r5', '', false, 'w-b'),
        reaction('r6', '🔥', false, 'w-unknown'),
      ],
      [],
    );
    const messages = rows.filter((r) => r.kind === 'message');
    expect(messages.map((r) => r.key)).toEqual(['a', 'b']);
    expect(messages[0]!.kind === 'message' && messages[0]!.reactions).toEqual([
      { emoji: '😂', outgoing: false },
      { emoji: '❤️', outgoing: true },
    ]);
    expect(messages[1]!.kind === 'message' && messages[1]!.reactions).toEqual([]);
  });

  it('finds the quoted message by wamid, or says it is not loaded', () => {
    const rows = buildRows(
      [
        msg('a', at(1, 10)),
        msg('b', at(1, 11), { replyTo: 'w-a' }),
        msg('c', at(1, 12), { replyTo: 'w-gone' }),
      ],
      [],
    );
    const [, a, b, c] = rows;
    expect(a!.kind === 'message' && a!.quoted).toBeNull();
    expect(b!.kind === 'message' && b!.quoted?.message?.key).toBe('a');
    expect(c!.kind === 'message' && c!.quoted).toEqual({ wamid: 'w-gone', message: null });
  });

  it('makes a one-line snippet', () => {
    expect(snippetOf(msg('a', 0, { text: 'hola\n  qué tal' }))).toBe('hola qué tal');
    expect(snippetOf(msg('a', 0, { text: 'x'.repeat(200) }), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(snippetOf(msg('a', 0, { text: null }))).toBeNull();
  });
});
