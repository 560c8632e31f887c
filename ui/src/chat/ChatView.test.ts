import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { es } from '../i18n/es';
import { setLanguage } from '../i18n/index.svelte';
import type { AppState } from '../lib/app-state.svelte';
import { FAKE_HUB_SERVER, FakePlatform, type FakeOptions } from '../platform';
import type { FakeChatSeed } from '../platform/fake-inbox';
import ChatHarness from '../test/ChatHarness.svelte';
import { RECENT_KEY } from './emoji';

const CUSTOMER = '+5215512345678';

function seed(messages: FakeChatSeed['messages'], extra: Partial<FakeChatSeed> = {}): FakeChatSeed {
  return { customer: CUSTOMER, profileName: 'Laura Gómez', messages, ...extra };
}

async function open(inbox: FakeChatSeed[], options: FakeOptions = {}) {
  const fake = new FakePlatform({
    hubServer: FAKE_HUB_SERVER,
    hubLoggedInAs: '1234567',
    inbox,
    ...options,
  });
  const [conversation] = await fake.inboxConversations('mine', '');
  const onBack = vi.fn();
  let app: AppState | null = null;
  const view = render(ChatHarness, {
    props: {
      platform: fake,
      conversation: conversation!,
      onBack,
      onApp: (a: AppState) => (app = a),
    },
  });
  await waitFor(() => expect(screen.getByTestId('chat-timeline').dataset.loaded).toBe('true'));
  return { fake, conversation: conversation!, onBack, view, app: app! as AppState };
}

const byId = (id: string) => screen.getByTestId(id);
const messages = () => screen.queryAllByTestId('chat-message');
const lastMessage = () => messages().at(-1)!;

async function type(text: string) {
  const box = byId('chat-input') as HTMLTextAreaElement;
  await fireEvent.input(box, { target: { value: text } });
  return box;
}

beforeEach(() => {
  setLanguage('es');
  localStorage.clear();
  // A fixed midday, so "Hoy"/"Ayer" and the countdown do not depend on when the test runs.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(2025, 10, 23, 12, 0, 0));
});

afterEach(() => vi.useRealTimers());

describe('ChatView', () => {
  it('shows the conversation with day separators, the agent on the right, and says it is viewed', async () => {
    const { fake, conversation } = await open([
      seed([
        { from: 'customer', text: 'Hola, buenas', minutesAgo: 60 * 30 },
        { from: 'agent', text: 'Buenas, ¿en qué le ayudo?', minutesAgo: 60 * 29 },
        { from: 'customer', text: '¿Tienen envío?', minutesAgo: 5 },
      ]),
    ]);
    expect(byId('chat-title').textContent).toBe('Laura Gómez');
    expect(byId('chat-agent').textContent).toContain('Ana Rodríguez');
    expect(fake.inbox.viewing).toBe(conversation.id);
    const days = screen.getAllByTestId('chat-day').map((d) => d.textContent);
    expect(days.at(-1)).toBe(es['chat.today']);
    expect(days.length).toBeGreaterThanOrEqual(2);
    const [first, second, third] = messages();
    expect(first!.classList.contains('out')).toBe(false);
    expect(second!.classList.contains('out')).toBe(true);
    expect(within(second!).getByTestId('chat-tick').dataset.tick).toBe('read');
    expect(third!.textContent).toContain('¿Tienen envío?');
    expect(byId('chat-countdown').textContent).toMatch(/^23:5\d:\d\d$/);
  });

  it('sends text with an emoji: pending, then sent, delivered and read', async () => {
    const { fake, conversation } = await open([
      seed([{ from: 'customer', text: 'Hola', minutesAgo: 2 }]),
    ]);
    fake.hub.setStreamOnline(false);
    const box = await type('Con gusto ');
    box.setSelectionRange(10, 10);
    await fireEvent.click(byId('chat-emoji'));
    await fireEvent.input(byId('emoji-search'), { target: { value: 'pulgar' } });
    const thumbs = screen.getAllByTestId('emoji-option').find((b) => b.dataset.emoji === '👍')!;
    await fireEvent.click(thumbs);
    expect(box.value).toBe('Con gusto 👍');
    expect(JSON.parse(localStorage.getItem(RECENT_KEY)!)).toEqual(['👍']);

    await fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() => expect(lastMessage().textContent).toContain('Con gusto 👍'));
    expect(box.value).toBe('');
    expect(lastMessage().dataset.status).toBe('pending');
    expect(within(lastMessage()).getByTestId('chat-tick').dataset.tick).toBe('clock');

    fake.hub.setStreamOnline(true);
    fake.inbox.deliverAll();
    await waitFor(() => expect(lastMessage().dataset.status).toBe('read'));
    expect(within(lastMessage()).getByTestId('chat-tick').dataset.tick).toBe('read');
    const sent = fake.inbox.messages(conversation.id).filter((m) => m.outgoing);
    expect(sent.map((m) => m.text)).toEqual(['Con gusto 👍']);
  });

  it('Shift+Enter breaks the line instead of sending', async () => {
    const { fake, conversation } = await open([
      seed([{ from: 'customer', text: 'Hola', minutesAgo: 2 }]),
    ]);
    const box = await type('línea 1');
    const shift = await fireEvent.keyDown(box, { key: 'Enter', shiftKey: true });
    expect(shift).toBe(true); // not prevented: the textarea adds the line break itself
    expect(fake.inbox.messages(conversation.id).filter((m) => m.outgoing)).toHaveLength(0);
    await fireEvent.click(byId('chat-send'));
    await waitFor(() =>
      expect(fake.inbox.messages(conversation.id).filter((m) => m.outgoing)).toHaveLength(1),
    );
  });

  it('shows a failed send with the reason in words and Meta’s title; Reintentar sends it again', async () => {
    const { fake, conversation } = await open([
      seed([{ from: 'customer', text: 'Hola', minutesAgo: 2 }]),
    ]);
    fake.inbox.failNextSend('whatsapp_undeliverable', 131026, 'Message undeliverable');
    await type('¿Sigue ahí?');
    await fireEvent.click(byId('chat-send'));
    fake.inbox.deliverAll();
    await waitFor(() => expect(byId('chat-failure')).toBeTruthy());
    const failure = byId('chat-failure');
    expect(failure.textContent).toContain(es['errors.whatsapp_undeliverable']);
    expect(byId('chat-failure-meta').textContent).toContain('(#131026) Message undeliverable');

    await fireEvent.click(byId('chat-retry'));
    await waitFor(() => expect(messages()).toHaveLength(3));
    expect(screen.queryByTestId('chat-retry')).toBeNull();
    expect(failure.textContent).toContain(es['chat.retried']);
    fake.inbox.deliverAll();
    await waitFor(() => expect(lastMessage().dataset.status).toBe('read'));
    const sent = fake.inbox.messages(conversation.id).filter((m) => m.outgoing);
    expect(sent.map((m) => [m.text, m.status])).toEqual([
      ['¿Sigue ahí?', 'failed'],
      ['¿Sigue ahí?', 'read'],
    ]);
  });

  it('switches to templates when the window is closed, and sends a filled template', async () => {
    const { fake, conversation } = await open([
      seed([
        { from: 'customer', text: 'Hola', minutesAgo: 25 * 60 },
        {
          from: 'agent',
          text: 'Quedamos atentos',
          minutesAgo: 60,
          status: 'failed',
          error: {
            code: 131047,
            kind: 'whatsapp_window_closed',
            title: 'Re-engagement message',
            details: null,
          },
        },
      ]),
    ]);
    expect(byId('chat-window').dataset.state).toBe('closed');
    expect(byId('chat-countdown').textContent).toBe('00:00:00');
    expect(screen.queryByTestId('chat-input')).toBeNull();
    // The failed text says why, and offers no Reintentar (it would be refused): templates do.
    expect(byId('chat-failure').textContent).toContain(es['errors.whatsapp_window_closed']);
    expect(screen.queryByTestId('chat-retry')).toBeNull();
    await waitFor(() => expect(byId('template-select')).toBeTruthy());
    await fireEvent.change(byId('template-select'), {
      target: { value: 'seguimiento_llamada|es' },
    });
    const params = screen.getAllByTestId('template-param');
    expect(params).toHaveLength(2);
    expect((byId('template-send') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(params[0]!, { target: { value: 'Laura' } });
    await fireEvent.input(params[1]!, { target: { value: 'Ana' } });
    expect(byId('template-preview').textContent).toContain(
      'Hola Laura, le escribimos después de su llamada con Ana.',
    );
    await fireEvent.click(byId('template-send'));
    await waitFor(() => expect(lastMessage().dataset.kind).toBe('template'));
    const sent = fake.inbox.messages(conversation.id).filter((m) => m.outgoing);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.text).toContain('Hola Laura');
  });

  it('switches to templates when the hub refuses the text as window_closed', async () => {
    const { fake } = await open([seed([{ from: 'customer', text: 'Hola', minutesAgo: 2 }])]);
    fake.failNext('inboxSend', 'window_closed');
    await type('Hola de nuevo');
    await fireEvent.click(byId('chat-send'));
    await waitFor(() => expect(byId('template-picker')).toBeTruthy());
    expect(byId('chat-window-closed').textContent).toContain(es['chat.windowClosed']);
  });

  it('restarts the countdown when the customer writes, and warns in the last hour', async () => {
    const { fake } = await open([
      seed([{ from: 'customer', text: 'Hola', minutesAgo: 23 * 60 + 30 }]),
    ]);
    expect(byId('chat-window').dataset.state).toBe('warning');
    expect(byId('chat-window-warning')).toBeTruthy();
    fake.inbox.simulateCustomerMessage(CUSTOMER, '¿Siguen ahí?');
    await waitFor(() => expect(byId('chat-window').dataset.state).toBe('open'));
    expect(byId('chat-countdown').textContent).toMatch(/^2[34]:\d\d:\d\d$/);
    expect(lastMessage().textContent).toContain('¿Siguen ahí?');
  });

  it('adds an internal comment inline, in the yellow style', async () => {
    const { fake, conversation } = await open([
      seed([{ from: 'customer', text: 'Hola', minutesAgo: 2 }]),
    ]);
    await fireEvent.click(byId('chat-comment-open'));
    await fireEvent.input(byId('chat-comment-input'), { target: { value: 'Cliente VIP' } });
    await fireEvent.click(byId('chat-comment-add'));
    await waitFor(() => expect(screen.getAllByTestId('chat-comment')).toHaveLength(1));
    const note = screen.getByTestId('chat-comment');
    expect(note.textContent).toContain('Cliente VIP');
    expect(note.textContent).toContain('Comentario interno de Ana Rodríguez');
    // Never sent to the customer.
    expect(fake.inbox.messages(conversation.id).filter((m) => m.outgoing)).toHaveLength(0);
  });

  it('inserts a canned response typed as /shortcut', async () => {
    await open([seed([{ from: 'customer', text: 'Hola', minutesAgo: 2 }])]);
    const box = await type('/hor');
    await waitFor(() => expect(screen.getAllByTestId('chat-canned-item')).toHaveLength(1));
    await fireEvent.keyDown(box, { key: 'Tab' });
    expect(box.value).toBe('Nuestro horario es de lunes a viernes, de 8:00 a 18:00.');
    expect(screen.queryByTestId('chat-canned')).toBeNull();
  });

  it('attaches reactions under their message and shows quoted replies', async () => {
    const { fake, conversation } = await open([
      seed([
        { from: 'agent', text: 'Su pedido salió hoy', minutesAgo: 10 },
        { from: 'customer', text: '¡Gracias!', minutesAgo: 5, replyTo: 'wamid.OUT1000' },
      ]),
    ]);
    expect(within(lastMessage()).getByTestId('chat-quoted').textContent).toContain(
      'Su pedido salió hoy',
    );
    fake.inbox.simulateCustomerReaction(conversation.id, 'wamid.OUT1000', '❤️');
    await waitFor(() =>
      expect(within(messages()[0]!).getByTestId('chat-reactions').textContent).toContain('❤️'),
    );
    expect(messages()).toHaveLength(2);
  });

  it('shows media: image (enlarges), audio, document (opens), location (map), contacts, unsupported', async () => {
    const { fake, app } = await open([
      seed([
        {
          from: 'customer',
          kind: 'image',
          mediaId: 'img1',
          minutesAgo: 9,
          content: { image: { caption: 'Foto' } },
        },
        {
          from: 'customer',
          kind: 'audio',
          mediaId: 'aud1',
          minutesAgo: 8,
          content: { audio: { voice: true } },
        },
        {
          from: 'customer',
          kind: 'document',
          mediaId: 'doc1',
          minutesAgo: 7,
          content: { document: { filename: 'factura.pdf', mime_type: 'application/pdf' } },
        },
        {
          from: 'customer',
          kind: 'location',
          minutesAgo: 6,
          content: { location: { latitude: 19.4326, longitude: -99.1332, name: 'Zócalo' } },
        },
        {
          from: 'customer',
          kind: 'contacts',
          minutesAgo: 5,
          content: {
            contacts: [
              { name: { formatted_name: 'Luis Pérez' }, phones: [{ phone: '+5215599998888' }] },
            ],
          },
        },
        {
          from: 'customer',
          kind: 'unsupported',
          minutesAgo: 4,
          content: { errors: [{ code: 131051, title: 'Message type unknown' }] },
        },
      ]),
    ]);
    await fireEvent.click(byId('chat-image'));
    expect(byId('chat-image-modal')).toBeTruthy();
    // A voice note gets its own player (waveform, speed); see media.test.ts.
    const note = byId('voice-note');
    expect(note.querySelector('audio')!.getAttribute('src')).toBe(fake.mediaUrl('aud1'));
    expect(note.textContent).toContain(es['chat.kind.voice']);
    expect(byId('chat-document').textContent).toContain('factura.pdf');
    await fireEvent.click(byId('chat-document-open'));
    await waitFor(() => expect(fake.inbox.openedMedia).toEqual(['doc1']));
    expect(byId('chat-location').textContent).toContain('Zócalo');
    await fireEvent.click(byId('chat-location-map'));
    await waitFor(() =>
      expect(fake.inbox.openedUrls).toEqual([
        'https://www.openstreetmap.org/?mlat=19.432600&mlon=-99.133200#map=16/19.432600/-99.133200',
      ]),
    );
    expect(byId('chat-unsupported').textContent).toContain('Message type unknown');
    await fireEvent.click(byId('chat-contact-dial'));
    await waitFor(async () =>
      expect((await fake.callsHistory())[0]?.peerNumber).toBe('+5215599998888'),
    );
    await fireEvent.click(byId('chat-contact-crm'));
    expect(app.panel).toBe('contacts');
    expect(app.contactsQuery).toBe('+5215599998888');
  });

  it('opens a conversation of 5,000 messages rendering only a window of rows, and loads older ones on scroll-up', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({
      from: (i % 3 === 0 ? 'agent' : 'customer') as 'agent' | 'customer',
      text: `Mensaje ${i}`,
      minutesAgo: 5000 - i,
    }));
    const { fake } = await open([seed(many)]);
    const timeline = byId('chat-timeline');
    const rows = screen.getAllByTestId('chat-row');
    expect(Number(timeline.dataset.totalRows)).toBeGreaterThan(50);
    expect(rows.length).toBeLessThan(40);
    expect(lastMessage().textContent).toContain('Mensaje 4999');
    expect(timeline.textContent).not.toContain('Mensaje 4950');

    // Scroll to the top: the previous page arrives above, what was on screen stays put.
    const before = Number(timeline.dataset.totalRows);
    const spy = vi.spyOn(fake, 'inboxTimeline');
    timeline.scrollTop = 0;
    await fireEvent.scroll(timeline);
    await waitFor(() => expect(Number(timeline.dataset.totalRows)).toBeGreaterThan(before));
    expect(spy).toHaveBeenCalledWith(expect.any(Number), expect.any(Number), 50);
    expect(screen.getAllByTestId('chat-row').length).toBeLessThan(40);
    expect(timeline.scrollTop).toBeGreaterThan(1000);
  });

  it('follows new messages while at the bottom', async () => {
    const many = Array.from({ length: 200 }, (_, i) => ({
      from: 'customer' as const,
      text: `Mensaje ${i}`,
      minutesAgo: 300 - i,
    }));
    const { fake } = await open([seed(many)]);
    const timeline = byId('chat-timeline');
    const bottom = timeline.scrollTop;
    // More than the overscan below: only following the bottom brings the newest into view.
    for (let i = 0; i < 20; i += 1) fake.inbox.simulateCustomerMessage(CUSTOMER, `Nuevo ${i}`);
    await waitFor(() => expect(lastMessage().textContent).toContain('Nuevo 19'));
    expect(timeline.scrollTop).toBeGreaterThan(bottom + 20 * 40);
  });

  it('does not move the timeline when messages arrive while the agent reads further up', async () => {
    const many = Array.from({ length: 200 }, (_, i) => ({
      from: 'customer' as const,
      text: `Mensaje ${i}`,
      minutesAgo: 300 - i,
    }));
    const { fake } = await open([seed(many)]);
    const timeline = byId('chat-timeline');
    timeline.scrollTop = 1000;
    await fireEvent.scroll(timeline);
    const shown = messages().map((m) => m.dataset.key);
    for (let i = 0; i < 20; i += 1) fake.inbox.simulateCustomerMessage(CUSTOMER, `Nuevo ${i}`);
    await waitFor(() => expect(Number(timeline.dataset.totalRows)).toBeGreaterThan(70));
    expect(timeline.scrollTop).toBe(1000);
    expect(messages().map((m) => m.dataset.key)).toEqual(shown);
    expect(timeline.textContent).not.toContain('Nuevo 19');
  });

  it('Marcar atendido marks it (the chat stays until Volver); leaving stops viewing', async () => {
    const first = await open([seed([{ from: 'customer', text: 'Hola', minutesAgo: 2 }])]);
    await fireEvent.click(byId('chat-attended'));
    await waitFor(() => expect(byId('chat-is-attended')).toBeTruthy());
    expect(screen.queryByTestId('chat-attended')).toBeNull();
    expect(first.fake.inbox.conversation(first.conversation.id)?.state).toBe('attended');
    expect(first.onBack).not.toHaveBeenCalled();
    await fireEvent.click(byId('chat-back'));
    expect(first.onBack).toHaveBeenCalledOnce();
    first.view.unmount();
    await tick();
    expect(first.fake.inbox.viewing).toBeNull();
  });
});
