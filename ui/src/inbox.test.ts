// Omnicanalidad in the UI: the panel (order, filters, search, live updates, Tomar, Marcar
// atendido), the side-bar badge, app:navigate to a chat, offline and unavailable states.
// Everything runs against the fake inbox of FakePlatform (platform/fake-inbox.ts).
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { en } from './i18n/en';
import { es } from './i18n/es';
import { setLanguage } from './i18n/index.svelte';
import { FAKE_HUB_AGENTS, FAKE_HUB_SERVER, FakePlatform, type FakeOptions } from './platform';

const byId = (id: string) => screen.getByTestId(id);
const queryId = (id: string) => screen.queryByTestId(id);
const rows = () => screen.queryAllByTestId('inbox-row');
const rowOf = (id: number) => rows().find((r) => r.dataset.conversationId === String(id))!;

// Omnicanalidad, the chat and the WhatsApp composer load on first use (dynamic imports): warm
// the module cache so they appear within a macrotask.
await Promise.all([
  import('./panels/InboxPanel.svelte'),
  import('./components/WhatsAppDialog.svelte'),
  import('./chat/ChatView.svelte'),
  import('./panels/PausesPanel.svelte'),
  import('./components/LoginScreen.svelte'),
]);

async function settle() {
  for (let i = 0; i < 4; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    await tick();
  }
}

async function setup(options: FakeOptions = {}) {
  const fake = new FakePlatform({
    now: () => Date.now(),
    osLocale: 'es-CR',
    hubServer: FAKE_HUB_SERVER,
    hubLoggedInAs: FAKE_HUB_AGENTS.agent.user,
    crmLinked: ['salesforce'],
    inbox: 'demo',
    ...options,
  });
  render(App, { props: { platform: fake } });
  await settle();
  return fake;
}

async function openInbox() {
  await fireEvent.click(byId('nav-omnichannel'));
  await settle();
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'Date'] });
  vi.setSystemTime(new Date(2025, 10, 23, 15, 0, 0));
  setLanguage('es');
});
afterEach(() => vi.useRealTimers());

describe('Omnicanalidad panel', () => {
  it('lists my open conversations, latest first, with name, preview, unread, window and agent', async () => {
    await setup();
    await openInbox();
    const names = rows().map((r) => within(r).getByTestId('inbox-name').textContent?.trim());
    expect(names).toEqual(['Carlos Méndez', 'Lucía Fernández', 'Pedro']);
    const [first, second, third] = rows();
    expect(within(first!).getByTestId('inbox-number').textContent).toBe('+5215512345678');
    expect(within(first!).getByTestId('inbox-preview').textContent).toContain(
      '¿Me pueden llamar a este número?',
    );
    const unread = within(first!).getByTestId('inbox-unread');
    expect(unread.textContent?.trim()).toBe('3');
    expect(unread.getAttribute('aria-label')).toBe('3 sin leer');
    // 24 h from the customer's last message 5 minutes ago.
    expect(within(first!).getByTestId('inbox-window').textContent).toContain('23:55:00');
    expect(within(first!).getByTestId('inbox-window').dataset.window).toBe('open');
    // The last hour is a warning; a closed window says so.
    expect(within(second!).getByTestId('inbox-window').dataset.window).toBe('warning');
    expect(within(second!).getByTestId('inbox-window').textContent).toContain('00:40:00');
    expect(within(second!).getByTestId('inbox-preview').textContent).toContain(es['inbox.you']);
    expect(within(third!).getByTestId('inbox-window').textContent).toContain('Cerrada');
    expect(within(first!).getByTestId('inbox-assignee').textContent).toContain('Asignado a ti');
    const attend = within(first!).getByTestId('inbox-attend');
    expect(attend.classList.contains('btn-red')).toBe(true);
    expect(attend.querySelector('svg')).toBeTruthy();
    expect(attend.textContent).toContain('Marcar atendido');
    expect(within(first!).getByTestId('inbox-view').textContent).toContain('Ver');
    // One shared clock: a second later every countdown moved.
    vi.advanceTimersByTime(1000);
    await tick();
    expect(within(first!).getByTestId('inbox-window').textContent).toContain('23:54:59');
  });

  it('filters mine / my queues / unassigned, and searches (also attended ones)', async () => {
    await setup();
    await openInbox();
    expect(byId('inbox-filter-mine').getAttribute('aria-checked')).toBe('true');
    await fireEvent.click(byId('inbox-filter-queues'));
    await settle();
    expect(rows()).toHaveLength(5);
    const colleague = rows().find((r) =>
      within(r).getByTestId('inbox-assignee').textContent?.includes('Atiende: Lucía Fernández'),
    );
    expect(colleague).toBeTruthy();
    await fireEvent.click(byId('inbox-filter-unassigned'));
    await settle();
    expect(rows()).toHaveLength(1);
    expect(within(rows()[0]!).getByTestId('inbox-assignee').textContent).toContain('Sin asignar');
    expect(within(rows()[0]!).getByTestId('inbox-take').textContent).toContain('Tomar');
    await fireEvent.click(byId('inbox-filter-mine'));
    await fireEvent.input(byId('inbox-search'), { target: { value: 'pedro' } });
    await settle();
    expect(rows().map((r) => within(r).getByTestId('inbox-name').textContent?.trim())).toEqual([
      'Pedro',
    ]);
    await fireEvent.input(byId('inbox-search'), { target: { value: '5598765432' } });
    await settle();
    expect(rows()).toHaveLength(1);
    expect(rows()[0]!.dataset.state).toBe('attended');
    expect(within(rows()[0]!).queryByTestId('inbox-attend')).toBeNull();
    await fireEvent.input(byId('inbox-search'), { target: { value: 'nadie' } });
    await settle();
    expect(byId('inbox-empty').textContent).toBe(es['inbox.noMatches']);
  });

  it('moves a conversation to the top when the customer writes, and adds new ones', async () => {
    const fake = await setup();
    await openInbox();
    fake.inbox.simulateCustomerMessage('+51987654321', 'Ya lo revisé');
    await settle();
    expect(within(rows()[0]!).getByTestId('inbox-name').textContent).toBe('Pedro');
    expect(within(rows()[0]!).getByTestId('inbox-window').dataset.window).toBe('open');
    fake.inbox.simulateCustomerMessage('+5215500001111', 'Hola, buenas tardes', {
      profileName: 'Rosa',
    });
    await settle();
    expect(within(rows()[0]!).getByTestId('inbox-name').textContent).toBe('Rosa');
    expect(rows()).toHaveLength(4);
  });

  it('badges the side-bar button with the chats waiting; it follows takes and clears when attended', async () => {
    const fake = await setup();
    const badge = () => queryId('inbox-badge');
    expect(badge()?.textContent?.trim()).toBe('3');
    expect(badge()?.classList.contains('badge')).toBe(true);
    expect(byId('nav-omnichannel').textContent).toContain('3 chats pendientes');
    fake.inbox.simulateCustomerMessage('+5215500001111', 'Hola');
    await settle();
    expect(badge()?.textContent?.trim()).toBe('4');
    await openInbox();
    await fireEvent.click(byId('inbox-filter-unassigned'));
    await settle();
    await fireEvent.click(within(rows()[0]!).getByTestId('inbox-take'));
    await settle();
    expect(badge()?.textContent?.trim()).toBe('5');
    expect(rows()).toHaveLength(0);
    await fireEvent.click(byId('inbox-filter-mine'));
    await settle();
    for (let left = 5; left > 0; left -= 1) {
      await fireEvent.click(within(rows()[0]!).getByTestId('inbox-attend'));
      await settle();
      expect(rows()).toHaveLength(left - 1);
      if (left === 2) expect(byId('nav-omnichannel').textContent).toContain('1 chat pendiente');
    }
    expect(badge()).toBeNull();
    expect(byId('inbox-empty').textContent).toBe(es['inbox.empty']);
  });

  it('Ver opens the chat and Volver comes back to the list', async () => {
    const fake = await setup();
    await openInbox();
    const id = Number(rows()[0]!.dataset.conversationId);
    await fireEvent.click(within(rows()[0]!).getByTestId('inbox-view'));
    await settle();
    expect(byId('chat-view')).toBeTruthy();
    expect(fake.inbox.viewing).toBe(id);
    await fireEvent.click(byId('chat-back'));
    await settle();
    expect(queryId('chat-view')).toBeNull();
    expect(rowOf(id)).toBeTruthy();
    expect(within(rowOf(id)).queryByTestId('inbox-unread')).toBeNull();
  });

  it('opens the chat an app:navigate asks for (a notification click)', async () => {
    const fake = await setup();
    const waiting = (await fake.inboxConversations('unassigned', ''))[0]!;
    fake.simulateNavigate('inbox', waiting.id);
    await settle();
    expect(byId('nav-omnichannel').getAttribute('aria-current')).toBe('page');
    expect(byId('chat-view')).toBeTruthy();
    expect(fake.inbox.viewing).toBe(waiting.id);
  });

  it('says it shows cached data while the hub cannot be reached', async () => {
    const fake = await setup();
    await openInbox();
    expect(queryId('inbox-offline')).toBeNull();
    fake.hub.setStreamOnline(false);
    await settle();
    expect(byId('inbox-offline').textContent).toContain(es['inbox.offline']);
    expect(rows()).toHaveLength(3);
    await fireEvent.click(within(rows()[0]!).getByTestId('inbox-attend'));
    await settle();
    expect(byId('inbox-error').dataset.code).toBe('hub_unreachable');
    fake.hub.setStreamOnline(true);
    await settle();
    expect(queryId('inbox-offline')).toBeNull();
  });

  it('lists 500 conversations with one shared clock, no timer per row', async () => {
    const inbox = Array.from({ length: 500 }, (_, i) => ({
      customer: `+52155${String(10_000_000 + i)}`,
      profileName: `Cliente ${i}`,
      messages: [{ from: 'customer' as const, text: `consulta ${i}`, minutesAgo: i + 1 }],
    }));
    const fake = await setup({ inbox });
    const timersBefore = vi.getTimerCount();
    await openInbox();
    expect(rows()).toHaveLength(500);
    expect(new Set(rows().map((r) => r.dataset.conversationId)).size).toBe(500);
    // The panel adds at most the one shared clock (none if another panel already runs it).
    expect(vi.getTimerCount() - timersBefore).toBeLessThanOrEqual(1);
    // The oldest writes again: it moves to the top, the others keep their rows.
    const last = rows()[499]!;
    fake.inbox.simulateCustomerMessage('+5215510000499', 'de nuevo');
    await settle();
    expect(rows()[0]).toBe(last);
    expect(within(rows()[0]!).getByTestId('inbox-preview').textContent).toContain('de nuevo');
  });

  it('says plainly when chats are not available, in both languages', async () => {
    await setup({ hubWhatsApp: false });
    await openInbox();
    expect(byId('inbox-unavailable').dataset.reason).toBe('no_whatsapp');
    expect(byId('inbox-unavailable').textContent).toContain(es['inbox.noWhatsApp']);
    expect(queryId('inbox-badge')).toBeNull();
    setLanguage('en');
    await tick();
    expect(byId('inbox-unavailable').textContent).toContain(en['inbox.noWhatsApp']);
  });
});

function endedCall(id: string, number: string) {
  const at = Date.now() - 120_000;
  return {
    id,
    direction: 'incoming' as const,
    peerNumber: number,
    peerDisplayName: null,
    fromNumber: number,
    toNumber: null,
    status: 'ended' as const,
    startedAt: at,
    answeredAt: at + 3_000,
    endedAt: at + 60_000,
    durationSeconds: 57,
    endReason: 'completed' as const,
    endDetail: null,
    logState: 'pending' as const,
    record: null,
    subject: null,
    comment: null,
    crmWrites: [],
    callerMatches: [],
  };
}

describe('Salida with open chats', () => {
  it('lists the open chats beside calls and CRM writes, and hands them back to the queue', async () => {
    const fake = await setup();
    await fireEvent.click(byId('nav-pauses'));
    await settle();
    const salida = screen.getAllByTestId('pause-reason').find((b) => b.dataset.exit === 'true')!;
    await fireEvent.click(salida);
    await settle();
    const dialog = byId('exit-confirm');
    const chats = within(dialog).getByTestId('exit-open-chats');
    expect(chats.dataset.count).toBe('3');
    expect(chats.textContent).toContain('Chats abiertos asignados a ti: 3');
    expect(within(dialog).getByTestId('exit-pending-calls')).toBeTruthy();
    expect(within(dialog).getByTestId('exit-pending-writes')).toBeTruthy();
    const listed = within(dialog).getAllByTestId('exit-chat');
    expect(listed.map((li) => li.textContent)).toEqual([
      expect.stringContaining('Carlos Méndez'),
      expect.stringContaining('Lucía Fernández'),
      expect.stringContaining('+51987654321'),
    ]);
    expect(listed[0]!.textContent).toContain('3 sin leer');
    await fireEvent.click(within(dialog).getByTestId('exit-hand-back'));
    await settle();
    expect(within(dialog).getByTestId('exit-open-chats').dataset.count).toBe('0');
    expect(within(dialog).getByTestId('exit-handed-back').textContent).toContain(
      es['inbox.exit.handedBack'],
    );
    expect(await fake.inboxConversations('mine', '')).toEqual([]);
    expect(queryId('inbox-badge')).toBeNull();
    expect(fake.inbox.conversation(listed.length)?.agentId ?? null).toBeNull();
  });
});

describe('WhatsApp from a call card', () => {
  async function openComposer(fake: FakePlatform) {
    await settle();
    const card = screen
      .getAllByTestId('call-card')
      .find((c) => c.textContent?.includes(fake.call('c-1')!.peerNumber))!;
    const button = within(card).getByTestId('call-whatsapp');
    expect(button.textContent).toContain('WhatsApp');
    await fireEvent.click(button);
    await settle();
    return byId('wa-composer');
  }

  it('sends text to a customer whose window is open and opens that chat', async () => {
    const fake = await setup({ calls: [endedCall('c-1', '+5215512345678')] });
    const dialog = await openComposer(fake);
    const number = within(dialog).getByTestId('wa-number') as HTMLSelectElement;
    expect(number.value).toBe('110000000000001');
    expect(number.options).toHaveLength(3);
    const customer = within(dialog).getByTestId('wa-customer') as HTMLInputElement;
    expect(customer.value).toBe('+5215512345678');
    const send = within(dialog).getByTestId('wa-send');
    expect(send.classList.contains('btn-green')).toBe(true);
    expect(send.querySelector('svg')).toBeTruthy();
    expect(send.hasAttribute('disabled')).toBe(true);
    await fireEvent.input(within(dialog).getByTestId('wa-message'), {
      target: { value: 'Le envío la cotización por aquí' },
    });
    await fireEvent.click(send);
    await settle();
    expect(queryId('wa-composer')).toBeNull();
    const sent = fake.inbox.messages(1).filter((m) => m.outgoing);
    expect(sent.at(-1)).toMatchObject({ text: 'Le envío la cotización por aquí', kind: 'text' });
    expect(byId('nav-omnichannel').getAttribute('aria-current')).toBe('page');
    expect(byId('chat-view')).toBeTruthy();
    expect(fake.inbox.viewing).toBe(1);
    // The side bar's Omnicanalidad goes back to the list.
    await fireEvent.click(byId('nav-omnichannel'));
    await settle();
    expect(queryId('chat-view')).toBeNull();
    expect(rows().length).toBeGreaterThan(0);
  });

  it('falls back to a template when the window is closed (no conversation yet)', async () => {
    const fake = await setup({ calls: [endedCall('c-1', '+50670001234')] });
    const dialog = await openComposer(fake);
    await fireEvent.input(within(dialog).getByTestId('wa-customer'), {
      target: { value: '+506 7000 1234' },
    });
    await fireEvent.change(within(dialog).getByTestId('wa-number'), {
      target: { value: '110000000000002' },
    });
    await fireEvent.input(within(dialog).getByTestId('wa-message'), {
      target: { value: 'Hola' },
    });
    await fireEvent.click(within(dialog).getByTestId('wa-send'));
    await settle();
    expect(byId('wa-window-closed').textContent).toContain(es['inbox.compose.windowClosed']);
    expect(queryId('wa-message')).toBeNull();
    const picker = byId('template-picker');
    await fireEvent.change(within(picker).getByTestId('template-select'), {
      target: { value: 'recordatorio_cita|es' },
    });
    await settle();
    const [param] = within(picker).getAllByTestId('template-param');
    await fireEvent.input(param!, { target: { value: 'lunes 1 a las 10:00' } });
    await settle();
    expect(within(picker).getByTestId('template-preview').textContent).toContain(
      'lunes 1 a las 10:00',
    );
    await fireEvent.click(within(picker).getByTestId('template-send'));
    await settle();
    expect(queryId('wa-composer')).toBeNull();
    const started = (await fake.inboxConversations('mine', '70001234'))[0]!;
    expect(started).toMatchObject({ phoneNumberId: '110000000000002', customer: '+50670001234' });
    const [message] = fake.inbox.messages(started.id);
    expect(message).toMatchObject({ kind: 'template', text: expect.stringContaining('lunes 1') });
    expect(byId('chat-view')).toBeTruthy();
  });

  it('is disabled, saying why, without a hub session with WhatsApp', async () => {
    await setup({ hubWhatsApp: false, calls: [endedCall('c-1', '+5215512345678')] });
    const button = byId('call-whatsapp');
    expect(button.hasAttribute('disabled')).toBe(true);
    expect(button.getAttribute('title')).toBe(es['inbox.compose.unavailable']);
  });
});

describe('Configuración: chat settings', () => {
  it('saves "notify while paused" and "log to the CRM"', async () => {
    const fake = await setup();
    await fireEvent.click(byId('nav-settings'));
    await settle();
    const notify = byId('settings-chat-notify-paused') as HTMLInputElement;
    const log = byId('settings-chat-log-crm') as HTMLInputElement;
    expect(notify.checked).toBe(false);
    expect(log.checked).toBe(false);
    await fireEvent.click(notify);
    await fireEvent.click(log);
    await fireEvent.click(byId('settings-save'));
    await settle();
    expect(await fake.settingsGet()).toMatchObject({
      chatNotifyWhilePaused: true,
      chatLogToCrm: true,
    });
    const [first] = await fake.inboxConversations('mine', '');
    await fake.inboxAttended(first!.id);
    expect(fake.inbox.loggedToCrm).toEqual([first!.id]);
  });
});
