import { describe, expect, it } from 'vitest';
import type { ConversationView } from '../platform';
import {
  applyChange,
  belongs,
  byActivity,
  conversationToOpen,
  customerLabel,
  matchesSearch,
  newClientId,
  windowOf,
} from './inbox';

const NOW = Date.UTC(2025, 10, 23, 15, 0, 0);

function conversation(id: number, over: Partial<ConversationView> = {}): ConversationView {
  return {
    id,
    phoneNumberId: '110000000000001',
    businessNumber: '+52 55 1000 0001',
    customer: '+5215512345678',
    customerName: null,
    profileName: '',
    queue: 'ventas',
    state: 'open',
    agentId: 1,
    agentName: 'Ana Rodríguez',
    mine: true,
    unread: 0,
    lastMessageAt: NOW - id * 60_000,
    preview: 'Hola',
    previewKind: 'text',
    previewOutgoing: false,
    windowEndsAt: NOW + 3_600_000,
    windowOpen: true,
    pendingSends: 0,
    ...over,
  };
}

describe('inbox list rules', () => {
  it('searches names without accents and numbers by digits', () => {
    const c = conversation(1, { customerName: 'María José Vargas', profileName: 'Majo' });
    expect(matchesSearch(c, '')).toBe(true);
    expect(matchesSearch(c, 'maria jose')).toBe(true);
    expect(matchesSearch(c, 'MAJO')).toBe(true);
    expect(matchesSearch(c, '55 1234')).toBe(true);
    expect(matchesSearch(c, '+52 1 55')).toBe(true);
    expect(matchesSearch(c, '12')).toBe(false);
    expect(matchesSearch(c, 'pedro')).toBe(false);
  });

  it('keeps open conversations per filter; a search also finds attended ones', () => {
    const mine = conversation(1);
    const other = conversation(2, { mine: false, agentId: 3, agentName: 'Lucía' });
    const waiting = conversation(3, { mine: false, agentId: null, agentName: null });
    const attended = conversation(4, { state: 'attended', customerName: 'Pedro' });
    expect([mine, other, waiting, attended].filter((c) => belongs(c, 'mine', ''))).toEqual([mine]);
    expect([mine, other, waiting, attended].filter((c) => belongs(c, 'queues', ''))).toEqual([
      mine,
      other,
      waiting,
    ]);
    expect([mine, other, waiting].filter((c) => belongs(c, 'unassigned', ''))).toEqual([waiting]);
    expect(belongs(attended, 'mine', 'pedro')).toBe(true);
  });

  it('orders by latest activity and applies pushed changes', () => {
    const list = [conversation(1), conversation(2), conversation(3)].sort(byActivity);
    expect(list.map((c) => c.id)).toEqual([1, 2, 3]);
    // A customer writes in 3: it moves to the top.
    const moved = applyChange(list, conversation(3, { lastMessageAt: NOW, unread: 1 }), 'mine', '');
    expect(moved.map((c) => c.id)).toEqual([3, 1, 2]);
    // 1 is marked attended: it leaves the list.
    const attended = applyChange(moved, conversation(1, { state: 'attended' }), 'mine', '');
    expect(attended.map((c) => c.id)).toEqual([3, 2]);
    // A new conversation assigned to someone else does not enter "mine".
    const foreign = conversation(9, { mine: false, agentId: 3 });
    expect(applyChange(attended, foreign, 'mine', '')).toBe(attended);
    expect(applyChange(attended, foreign, 'queues', '').map((c) => c.id)).toEqual([3, 2, 9]);
  });

  it('counts the window down as hh:mm:ss, warns in the last hour, says when it closed', () => {
    expect(windowOf({ windowEndsAt: NOW + 24 * 3_600_000 }, NOW)).toEqual({
      state: 'open',
      text: '24:00:00',
    });
    expect(windowOf({ windowEndsAt: NOW + 3_600_000 + 1_000 }, NOW)).toEqual({
      state: 'open',
      text: '01:00:01',
    });
    expect(windowOf({ windowEndsAt: NOW + 3_599_000 }, NOW)).toEqual({
      state: 'warning',
      text: '00:59:59',
    });
    expect(windowOf({ windowEndsAt: NOW }, NOW).state).toBe('closed');
    expect(windowOf({ windowEndsAt: null }, NOW).state).toBe('closed');
  });

  it('names the customer from the CRM first, then WhatsApp', () => {
    expect(customerLabel(conversation(1, { customerName: 'Ana', profileName: 'A' }))).toBe('Ana');
    expect(customerLabel(conversation(1, { profileName: 'Anita' }))).toBe('Anita');
    expect(customerLabel(conversation(1, { profileName: '  ' }))).toBeNull();
  });

  it('reads the conversation an app:navigate asks for, and nothing else', () => {
    expect(conversationToOpen({ panel: 'inbox', conversationId: 7 })).toBe(7);
    expect(conversationToOpen({ panel: 'inbox' })).toBeNull();
    expect(conversationToOpen({ panel: 'calls', conversationId: 7 })).toBeNull();
    expect(conversationToOpen({ panel: 'inbox', conversationId: -1 })).toBeNull();
    expect(conversationToOpen({ panel: 'inbox', conversationId: 1.5 })).toBeNull();
  });

  it('makes a new client id each time', () => {
    expect(newClientId()).not.toBe(newClientId());
  });
});
