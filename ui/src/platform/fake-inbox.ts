// The fake WhatsApp inbox behind FakePlatform (Omnicanalidad): conversations of the signed-in
// agent's queues, their timelines and comments, outbound statuses that advance one step at a
// time, the 24 h window, templates, business numbers, canned responses, and messages typed
// while the hub's stream is down kept `pending` until it is back. No timers unless `auto`:
// tests move it with `advance()` and the `simulate*` helpers, durations come from the clock.
import { Emitter, type FakeHub } from './fake-hub';
import { fakePeaks, toneWav, validPosition } from './fake-outgoing';
import type {
  BusinessNumberView,
  CannedResponseView,
  ChatCommentView,
  ChatErrorView,
  ChatMessageStatus,
  ChatMessageView,
  ChatPageView,
  ConversationView,
  ExitChatView,
  InboxCountsView,
  InboxFilter,
  InboxMessageEvent,
  OutgoingMessageInput,
  StagedFileView,
  TemplateView,
  UploadProgressEvent,
  WireError,
} from './types';

/** WhatsApp's customer-service window. */
export const WINDOW_MS = 24 * 60 * 60 * 1000;

const MINUTE = 60_000;

/** The agents the fake hub knows, with the ids and queues the inbox uses. */
export const FAKE_INBOX_AGENTS: readonly {
  user: string;
  id: number;
  name: string;
  queues: string[];
}[] = [
  { user: '1234567', id: 1, name: 'Ana Rodríguez', queues: ['ventas', 'soporte'] },
  { user: '7654321', id: 2, name: 'Carlos Méndez', queues: ['ventas', 'soporte', 'cobranza'] },
  { user: '2345678', id: 3, name: 'Lucía Fernández', queues: ['ventas'] },
  { user: '3456789', id: 4, name: 'Jorge Ramírez', queues: ['soporte'] },
  { user: '4567890', id: 5, name: 'María José Vargas', queues: ['cobranza'] },
];

/** The organization's WhatsApp numbers. */
export function fakeBusinessNumbers(): BusinessNumberView[] {
  return [
    {
      phoneNumberId: '110000000000001',
      displayNumber: '+52 55 1000 0001',
      name: 'Ventas',
      queue: 'ventas',
    },
    {
      phoneNumberId: '110000000000002',
      displayNumber: '+506 4000 0002',
      name: 'Soporte',
      queue: 'soporte',
    },
    {
      phoneNumberId: '110000000000003',
      displayNumber: '+57 601 300 0003',
      name: 'Cobranza',
      queue: 'cobranza',
    },
  ];
}

/** Approved templates (one without parameters, two with). */
export function fakeTemplates(): TemplateView[] {
  return [
    {
      name: 'seguimiento_llamada',
      language: 'es',
      category: 'UTILITY',
      header: null,
      body: 'Hola {{1}}, le escribimos después de su llamada con {{2}}. ¿Podemos ayudarle en algo más?',
      footer: 'Enlace',
      parameterCount: 2,
    },
    {
      name: 'recordatorio_cita',
      language: 'es',
      category: 'UTILITY',
      header: 'Recordatorio',
      body: 'Le recordamos su cita del {{1}}. Responda a este mensaje si necesita cambiarla.',
      footer: null,
      parameterCount: 1,
    },
    {
      name: 'retomar_conversacion',
      language: 'es',
      category: 'MARKETING',
      header: null,
      body: '¡Hola! Queremos retomar su consulta. Responda a este mensaje para continuar.',
      footer: null,
      parameterCount: 0,
    },
  ];
}

export function fakeCannedResponses(): CannedResponseView[] {
  return [
    { shortcut: 'hola', body: '¡Hola! Gracias por escribirnos. ¿En qué le puedo ayudar?' },
    { shortcut: 'horario', body: 'Nuestro horario es de lunes a viernes, de 8:00 a 18:00.' },
    { shortcut: 'gracias', body: 'Gracias por su tiempo. ¡Que tenga un buen día!' },
    { shortcut: 'espera', body: 'Un momento, por favor; estoy revisando su caso.' },
  ];
}

/** One message of a seed conversation. */
export interface FakeChatSeedMessage {
  /** Who wrote it. */
  from: 'customer' | 'agent';
  text?: string | null;
  /** How long ago it was written. */
  minutesAgo: number;
  /** Default `text` (`template` for an agent message with `template`). */
  kind?: string;
  /** Default: `received` for the customer, `read` for the agent. */
  status?: ChatMessageStatus;
  /** The raw WhatsApp object (defaults to a text message). */
  content?: unknown;
  mediaId?: string | null;
  replyTo?: string | null;
  error?: ChatErrorView | null;
}

/** A conversation present at start. */
export interface FakeChatSeed {
  customer: string;
  profileName?: string;
  /** Default: the first business number. */
  phoneNumberId?: string;
  /** A user of {@link FAKE_INBOX_AGENTS}, or null (waiting in its queue). Default: the agent
   * signed in at start (`1234567` when none is). */
  agent?: string | null;
  state?: 'open' | 'attended';
  unread?: number;
  messages: FakeChatSeedMessage[];
}

export interface FakeInboxOptions {
  /**
   * Conversations at start: `demo` (a believable mix), a list, or none (default: none, so
   * tests that do not care about chats see an empty inbox).
   */
  inbox?: 'demo' | FakeChatSeed[];
  /** The hub has WhatsApp configured (default true). */
  hubWhatsApp?: boolean;
  /**
   * `manual` (default): outbound statuses move only on {@link FakeInbox.advance}; `auto`:
   * every `autoInboxMs` (browser demo).
   */
  inboxDelivery?: 'manual' | 'auto';
  autoInboxMs?: number;
}

interface StoredMessage extends ChatMessageView {
  seq: number;
  /** How many times it was attempted again (retries). */
  retries: number;
}

interface StoredConversation {
  id: number;
  phoneNumberId: string;
  customer: string;
  profileName: string;
  queue: string;
  state: 'open' | 'attended';
  agentId: number | null;
  unread: number;
  /** Last customer message (ms), for the window. */
  lastInboundAt: number | null;
  messages: StoredMessage[];
  comments: ChatCommentView[];
}

const fail = (code: string, message: string, field: string | null = null): WireError => ({
  code,
  message,
  field,
});

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const digitsOf = (text: string) => text.replace(/\D/g, '');

/** The customer-number key: the last 8 digits (521/52, 549/54 and the ninth digit agree). */
const numberKey = (number: string) => digitsOf(number).slice(-8);

function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The order the statuses of an outbound message go through after the hub took it. */
const NEXT: Partial<Record<ChatMessageStatus, ChatMessageStatus>> = {
  queued: 'sending',
  sending: 'sent',
  accepted: 'sent',
  sent: 'delivered',
  delivered: 'read',
};

/** A grey placeholder picture for media ids (the fake has no files). */
function placeholderImage(label: string): string {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200">` +
    `<rect width="100%" height="100%" fill="#d7dde4"/>` +
    `<text x="50%" y="50%" font-family="sans-serif" font-size="16" fill="#445" ` +
    `text-anchor="middle">${label.replace(/[<>&"]/g, '')}</text></svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

export class FakeInbox {
  readonly changed = new Emitter<ConversationView>();
  readonly message = new Emitter<InboxMessageEvent>();
  readonly comment = new Emitter<ChatCommentView>();
  readonly counts = new Emitter<InboxCountsView>();
  readonly upload = new Emitter<UploadProgressEvent>();

  /** Every file whose upload started (`inboxSendStaged`), in order: what reached the "hub". */
  readonly uploads: {
    conversationId: number;
    key: string;
    name: string;
    mime: string;
    kind: string;
    size: number;
    voice: boolean;
    caption: string | null;
  }[] = [];

  /** Every media id opened with `mediaOpen`, in order. */
  readonly openedMedia: string[] = [];
  /** Every URL opened with `openExternal`, in order. */
  readonly openedUrls: string[] = [];
  /** Conversations marked attended while `chatLogToCrm` was on (their transcript "queued"). */
  readonly loggedToCrm: number[] = [];
  /** What `inboxViewing` last said (the chat on screen). */
  viewing: number | null = null;

  private conversations = new Map<number, StoredConversation>();
  private nextConversationId = 1;
  private nextHubId = 1000;
  private nextSeq = 1;
  private nextCommentId = 1;
  private readonly whatsApp: boolean;
  private readonly delivery: 'manual' | 'auto';
  private readonly autoMs: number;
  private autoTimer: ReturnType<typeof setTimeout> | null = null;
  private lastCounts = '';
  private wasOnline: boolean;
  private sendFailures: ChatErrorView[] = [];
  /** Files being uploaded, by message key: bytes handed over so far. */
  private uploading = new Map<string, { sent: number; total: number }>();
  private nextUpload = 1;
  private readonly numbers = fakeBusinessNumbers();
  private readonly templates = fakeTemplates();

  constructor(
    private readonly now: () => number,
    private readonly hub: FakeHub,
    options: FakeInboxOptions,
    /** The CRM name the contacts cache has for a number. */
    private readonly nameOf: (number: string) => string | null,
    /** Whether marking attended logs the transcript to the CRM (setting `chatLogToCrm`). */
    private readonly logToCrm: () => boolean,
  ) {
    this.whatsApp = options.hubWhatsApp ?? true;
    this.delivery = options.inboxDelivery ?? 'manual';
    this.autoMs = options.autoInboxMs ?? 1_200;
    const seeds = options.inbox === 'demo' ? demoChats() : (options.inbox ?? []);
    const startUser = hub.status().agent?.user ?? FAKE_INBOX_AGENTS[0]!.user;
    for (const seed of seeds) this.seed(seed, startUser);
    this.wasOnline = this.online();
    this.lastCounts = JSON.stringify(this.countsView());
    hub.hubStatusChanged.on(() => this.hubChanged());
  }

  // ---- commands -------------------------------------------------------------------------

  conversationsFor(filter: InboxFilter, search: string): ConversationView[] {
    const me = this.me();
    if (!me || !this.whatsApp) return [];
    const query = search.trim();
    const foldedQuery = fold(query);
    const digits = digitsOf(query);
    const matches = (c: StoredConversation): boolean => {
      if (query === '') return true;
      const view = this.view(c);
      const names = [view.customerName ?? '', view.profileName].map(fold);
      if (names.some((n) => n !== '' && n.includes(foldedQuery))) return true;
      return digits.length >= 3 && digitsOf(c.customer).includes(digits);
    };
    return [...this.conversations.values()]
      .filter((c) => (query === '' ? c.state === 'open' : true))
      .filter((c) => {
        if (filter === 'mine') return c.agentId === me.id;
        if (!me.queues.includes(c.queue)) return false;
        return filter === 'queues' || c.agentId === null;
      })
      .filter(matches)
      .map((c) => this.view(c))
      .sort((a, b) => b.lastMessageAt - a.lastMessageAt || b.id - a.id);
  }

  countsView(): InboxCountsView {
    const me = this.me();
    const available = me !== null && this.whatsApp;
    const mine = available
      ? [...this.conversations.values()].filter((c) => c.state === 'open' && c.agentId === me.id)
      : [];
    let pendingSends = 0;
    for (const c of this.conversations.values()) pendingSends += this.pendingOf(c);
    return {
      waiting: mine.length,
      unread: mine.filter((c) => c.unread > 0).length,
      pendingSends: available ? pendingSends : 0,
      online: available && this.online(),
      available,
    };
  }

  timeline(conversationId: number, before: number | null, limit: number): ChatPageView {
    this.requireAvailable();
    const c = this.get(conversationId);
    const size = Math.max(1, Math.min(500, Math.floor(limit) || 50));
    const older = before === null ? c.messages : c.messages.filter((m) => m.seq < before);
    const page = older.slice(Math.max(0, older.length - size));
    const hasOlder = older.length > page.length;
    const from = hasOlder && page.length > 0 ? page[0]!.at : -Infinity;
    const until =
      before === null ? Infinity : (c.messages.find((m) => m.seq === before)?.at ?? Infinity);
    return {
      messages: page.map((m) => this.messageView(m)),
      comments: c.comments.filter((x) => x.at >= from && x.at < until).map((x) => clone(x)),
      nextBefore: hasOlder && page.length > 0 ? page[0]!.seq : null,
      offline: !this.online(),
    };
  }

  setViewing(conversationId: number | null): void {
    this.viewing = conversationId;
    if (conversationId === null) return;
    const c = this.conversations.get(conversationId);
    if (c && c.unread > 0) {
      c.unread = 0;
      this.emitChanged(c);
    }
  }

  send(conversationId: number, clientId: string, message: OutgoingMessageInput): ChatMessageView {
    this.requireAvailable();
    const c = this.get(conversationId);
    const repeat = c.messages.find((m) => m.clientId === clientId);
    if (repeat) return this.messageView(repeat);
    this.checkSendable(c, message);
    const stored = this.queueOutbound(c, clientId, message);
    return this.messageView(stored);
  }

  /**
   * Enviar of a staged file: the message shows `pending` with its card while the file uploads
   * (`upload` events, one step per {@link advance}); then it goes out like any other.
   */
  sendStaged(
    conversationId: number,
    clientId: string,
    file: StagedFileView,
    caption: string | null,
  ): ChatMessageView {
    this.requireAvailable();
    const c = this.get(conversationId);
    const repeat = c.messages.find((m) => m.clientId === clientId);
    if (repeat) return this.messageView(repeat);
    if (!this.windowOpen(c)) {
      throw fail('window_closed', 'the customer has not written in the last 24 hours');
    }
    const text = file.kind === 'audio' || file.kind === 'sticker' ? null : caption?.trim() || null;
    const stored = this.store(c, {
      key: `c:${clientId}`,
      conversationId: c.id,
      hubId: null,
      clientId,
      wamid: null,
      outgoing: true,
      kind: file.kind,
      text,
      content: {
        type: 'media',
        kind: file.kind,
        mediaId: null,
        caption: text,
        filename: file.kind === 'document' ? file.name : null,
        // The app's extras on a pending file (crates/enlace-app/src/outgoing.rs).
        name: file.name,
        mime: file.mime,
        size: file.size,
        voice: file.voice,
        ...(file.durationMs !== null ? { durationMs: file.durationMs } : {}),
        ...(file.peaks.length > 0 ? { peaks: file.peaks } : {}),
      },
      mediaId: null,
      replyTo: null,
      status: 'pending',
      error: null,
      agentId: this.me()?.id ?? null,
      at: this.now(),
    });
    this.uploading.set(stored.key, { sent: 0, total: file.size });
    this.uploads.push({
      conversationId: c.id,
      key: stored.key,
      name: file.name,
      mime: file.mime,
      kind: file.kind,
      size: file.size,
      voice: file.voice,
      caption: text,
    });
    this.emitMessage(c, stored);
    this.upload.emit({ conversationId: c.id, key: stored.key, sent: 0, total: file.size });
    this.scheduleAuto();
    return this.messageView(stored);
  }

  /** Waveform of a voice note (bar heights 0–255), the same for the same media id. */
  waveform(mediaId: string, bars: number): number[] {
    this.requireAvailable();
    if (!this.knownMedia(mediaId)) throw fail('not_found', `no media ${mediaId}`);
    return fakePeaks(mediaId, Math.max(1, Math.min(512, Math.floor(bars) || 48)));
  }

  retry(conversationId: number, key: string): ChatMessageView {
    this.requireAvailable();
    const c = this.get(conversationId);
    const failed = c.messages.find((m) => m.key === key);
    if (!failed || !failed.outgoing) throw fail('not_found', `no message ${key}`);
    if (failed.status !== 'failed')
      throw fail('invalid_request', 'only a failed message is sent again');
    failed.retries += 1;
    const clientId = `${failed.clientId ?? failed.key}-r${failed.retries}`;
    if ((failed.content as { type?: unknown } | null)?.type === 'media') {
      if (!this.windowOpen(c)) {
        throw fail('window_closed', 'the customer has not written in the last 24 hours');
      }
      const again = this.store(c, {
        ...this.messageView(failed),
        key: `c:${clientId}`,
        hubId: null,
        clientId,
        wamid: null,
        status: 'pending',
        error: null,
        at: this.now(),
      });
      if (this.online()) this.taken(again);
      this.emitMessage(c, again);
      this.scheduleAuto();
      return this.messageView(again);
    }
    const input = this.inputOf(failed);
    this.checkSendable(c, input);
    return this.messageView(this.queueOutbound(c, clientId, input));
  }

  addComment(conversationId: number, body: string): ChatCommentView {
    this.requireAvailable();
    this.requireOnline();
    const me = this.me()!;
    const c = this.get(conversationId);
    const text = body.trim();
    if (text === '') throw fail('invalid_request', 'the comment is empty');
    const comment: ChatCommentView = {
      id: this.nextCommentId++,
      conversationId: c.id,
      agentId: me.id,
      agentName: me.name,
      body: text,
      at: this.now(),
    };
    c.comments.push(comment);
    this.comment.emit(clone(comment));
    return clone(comment);
  }

  attended(conversationId: number): ConversationView {
    this.requireAvailable();
    this.requireOnline();
    const me = this.me()!;
    const c = this.get(conversationId);
    if (c.state !== 'open') return this.view(c);
    // Like the hub: an agent acts only on their own conversations or unassigned ones.
    if (c.agentId !== me.id && c.agentId !== null) {
      throw fail('forbidden', 'the conversation is served by someone else');
    }
    c.state = 'attended';
    c.unread = 0;
    if (this.logToCrm()) this.loggedToCrm.push(c.id);
    return this.emitChanged(c);
  }

  take(conversationId: number): ConversationView {
    this.requireAvailable();
    this.requireOnline();
    const me = this.me()!;
    const c = this.get(conversationId);
    if (c.agentId === me.id) return this.view(c);
    if (!me.queues.includes(c.queue)) throw fail('forbidden', 'not one of your queues');
    if (c.agentId !== null) throw fail('forbidden', 'the conversation is served by someone else');
    c.agentId = me.id;
    c.state = 'open';
    return this.emitChanged(c);
  }

  release(conversationId: number): ConversationView {
    this.requireAvailable();
    this.requireOnline();
    const me = this.me()!;
    const c = this.get(conversationId);
    if (c.agentId !== me.id) throw fail('forbidden', 'the conversation is not yours');
    c.agentId = null;
    return this.emitChanged(c);
  }

  templateList(): TemplateView[] {
    this.requireAvailable();
    return clone(this.templates);
  }

  cannedResponses(): CannedResponseView[] {
    this.requireAvailable();
    return fakeCannedResponses();
  }

  numberList(): BusinessNumberView[] {
    this.requireAvailable();
    return clone(this.numbers);
  }

  start(
    businessNumber: string,
    customerNumber: string,
    clientId: string,
    message: OutgoingMessageInput,
  ): ConversationView {
    this.requireAvailable();
    this.requireOnline();
    const me = this.me()!;
    const number = this.numbers.find((n) => n.phoneNumberId === businessNumber);
    if (!number) throw fail('not_found', `no business number ${businessNumber}`);
    const typed = customerNumber.trim().replace(/[\s\-.()]/g, '');
    if (!/^\+?\d{8,15}$/.test(typed)) throw fail('not_a_phone_number', 'not a phone number');
    const e164 = typed.startsWith('+') ? typed : `+${typed}`;
    let c = [...this.conversations.values()].find(
      (x) => x.phoneNumberId === number.phoneNumberId && numberKey(x.customer) === numberKey(e164),
    );
    const repeat = c?.messages.find((m) => m.clientId === clientId);
    if (c && repeat) return this.view(c);
    if (message.type !== 'template' && !this.windowOpen(c ?? null)) {
      throw fail('window_closed', 'the customer has not written in the last 24 hours');
    }
    if (message.type === 'template') this.checkTemplate(message);
    if (!c) {
      c = {
        id: this.nextConversationId++,
        phoneNumberId: number.phoneNumberId,
        customer: e164,
        profileName: '',
        queue: number.queue,
        state: 'open',
        agentId: me.id,
        unread: 0,
        lastInboundAt: null,
        messages: [],
        comments: [],
      };
      this.conversations.set(c.id, c);
    }
    c.state = 'open';
    c.agentId = me.id;
    this.queueOutbound(c, clientId, message);
    return this.view(c);
  }

  exitChats(): ExitChatView[] {
    const me = this.me();
    if (!me) return [];
    return [...this.conversations.values()]
      .filter((c) => c.state === 'open' && c.agentId === me.id)
      .sort((a, b) => this.lastAt(b) - this.lastAt(a))
      .map((c) => ({
        id: c.id,
        customer: c.customer,
        customerName: this.nameOf(c.customer),
        unread: c.unread,
      }));
  }

  mediaUrl(mediaId: string): string {
    if (this.knownMedia(mediaId)?.kind === 'audio') {
      const wav = toneWav(4_000);
      let text = '';
      for (const b of wav) text += String.fromCharCode(b);
      return `data:audio/wav;base64,${btoa(text)}`;
    }
    return placeholderImage(mediaId);
  }

  mediaOpen(mediaId: string): void {
    this.requireAvailable();
    if (!this.knownMedia(mediaId)) throw fail('not_found', `no media ${mediaId}`);
    this.openedMedia.push(mediaId);
  }

  openExternal(url: string): void {
    if (!/^https?:\/\//i.test(url)) throw fail('invalid_request', 'only http(s) links open');
    this.openedUrls.push(url);
  }

  // ---- test helpers: the customers, WhatsApp and the other agents -----------------------

  /**
   * The customer writes (a new conversation when there is no open one for the number). A new
   * conversation goes to `agent` (a user, or null: waiting in its queue; default: the signed-in
   * agent); an open one keeps its agent. The chat on screen is marked read at once.
   */
  simulateCustomerMessage(
    customer: string,
    text: string | null,
    options: {
      phoneNumberId?: string;
      profileName?: string;
      agent?: string | null;
      kind?: string;
      content?: unknown;
      mediaId?: string | null;
      replyTo?: string | null;
    } = {},
  ): ChatMessageView {
    const phoneNumberId = options.phoneNumberId ?? this.numbers[0]!.phoneNumberId;
    const number = this.numbers.find((n) => n.phoneNumberId === phoneNumberId) ?? this.numbers[0]!;
    let c = [...this.conversations.values()].find(
      (x) =>
        x.phoneNumberId === number.phoneNumberId && numberKey(x.customer) === numberKey(customer),
    );
    const agentUser =
      options.agent === undefined ? (this.hub.status().agent?.user ?? null) : options.agent;
    const agentId = agentUser === null ? null : (agentOf(agentUser)?.id ?? null);
    if (!c) {
      c = {
        id: this.nextConversationId++,
        phoneNumberId: number.phoneNumberId,
        customer: customer.startsWith('+') ? customer : `+${digitsOf(customer)}`,
        profileName: options.profileName ?? '',
        queue: number.queue,
        state: 'open',
        agentId,
        unread: 0,
        lastInboundAt: null,
        messages: [],
        comments: [],
      };
      this.conversations.set(c.id, c);
    } else if (c.state === 'attended') {
      c.state = 'open';
      if (options.agent !== undefined) c.agentId = agentId;
    }
    if (options.profileName !== undefined) c.profileName = options.profileName;
    const kind = options.kind ?? 'text';
    const stored = this.store(c, {
      key: '',
      conversationId: c.id,
      hubId: null,
      clientId: null,
      wamid: `wamid.IN${this.nextHubId}`,
      outgoing: false,
      kind,
      text,
      content: options.content ?? { type: kind, text: { body: text ?? '' } },
      mediaId: options.mediaId ?? null,
      replyTo: options.replyTo ?? null,
      status: 'received',
      error: null,
      agentId: null,
      at: this.now(),
    });
    c.lastInboundAt = stored.at;
    if (this.viewing !== c.id) c.unread += 1;
    this.emitMessage(c, stored);
    return this.messageView(stored);
  }

  /** The customer reacts to a message (`emoji` null removes the reaction). */
  simulateCustomerReaction(conversationId: number, wamid: string, emoji: string | null): void {
    const c = this.get(conversationId);
    this.simulateCustomerMessage(c.customer, null, {
      phoneNumberId: c.phoneNumberId,
      kind: 'reaction',
      content: { type: 'reaction', reaction: { message_id: wamid, emoji: emoji ?? '' } },
    });
  }

  /** The hub (an administrator, routing, a supervisor) assigns a conversation to `user`. */
  simulateAssign(conversationId: number, user: string | null): ConversationView {
    const c = this.get(conversationId);
    c.agentId = user === null ? null : (agentOf(user)?.id ?? null);
    c.state = 'open';
    return this.emitChanged(c);
  }

  /** The next outbound message that reaches WhatsApp fails with this error. */
  failNextSend(
    kind = 'whatsapp_undeliverable',
    code: number | null = 131026,
    title: string | null = 'Message undeliverable',
  ): void {
    this.sendFailures.push({ code, kind, title, details: null });
  }

  /**
   * Moves every outbound message one step (pending → queued once the stream is up, queued →
   * sending → sent → delivered → read), like the hub and WhatsApp would. Emits `inbox:message`
   * for each; announces windows that closed. Returns whether anything moved.
   */
  advance(): boolean {
    let moved = false;
    const online = this.online();
    for (const c of this.conversations.values()) {
      for (const m of c.messages) {
        if (!m.outgoing) continue;
        if (m.status === 'pending') {
          if (!online) continue;
          const upload = this.uploading.get(m.key);
          if (upload) {
            this.uploadStep(c, m, upload);
            moved = true;
            continue;
          }
          this.taken(m);
        } else if (m.status === 'sending') {
          const failure = this.sendFailures.shift();
          if (failure) {
            m.status = 'failed';
            m.error = failure;
          } else {
            m.status = 'sent';
            m.wamid = `wamid.OUT${m.hubId}`;
          }
        } else {
          const next = NEXT[m.status];
          if (!next) continue;
          m.status = next;
        }
        moved = true;
        this.emitMessage(c, m);
      }
    }
    this.emitCounts();
    return moved;
  }

  /** Runs {@link advance} until nothing moves. */
  deliverAll(): void {
    for (let i = 0; i < 100 && this.advance(); i += 1);
  }

  /** A copy of a conversation as the panel would show it. */
  conversation(id: number): ConversationView | undefined {
    const c = this.conversations.get(id);
    return c ? this.view(c) : undefined;
  }

  /** Every message of a conversation, oldest first. */
  messages(id: number): ChatMessageView[] {
    return (this.conversations.get(id)?.messages ?? []).map((m) => this.messageView(m));
  }

  /** Windows that closed since they were last announced get an `inbox:changed`. */
  announceClosedWindows(): void {
    for (const c of this.conversations.values()) {
      if (c.state === 'open' && c.lastInboundAt !== null && !this.windowOpen(c)) {
        this.changed.emit(this.view(c));
      }
    }
  }

  // ---- internals ------------------------------------------------------------------------

  private knownMedia(mediaId: string): StoredMessage | undefined {
    for (const c of this.conversations.values()) {
      const m = c.messages.find((x) => x.mediaId === mediaId);
      if (m) return m;
    }
    return undefined;
  }

  /** A quarter of the file more reaches the hub; once whole, the hub takes the message. */
  private uploadStep(
    c: StoredConversation,
    m: StoredMessage,
    upload: { sent: number; total: number },
  ): void {
    upload.sent = Math.min(upload.total, upload.sent + Math.max(1, Math.ceil(upload.total / 4)));
    this.upload.emit({ conversationId: c.id, key: m.key, sent: upload.sent, total: upload.total });
    if (upload.sent < upload.total) return;
    this.uploading.delete(m.key);
    const mediaId = `upload-${this.nextUpload++}`;
    m.mediaId = mediaId;
    m.content = { ...(m.content as Record<string, unknown>), mediaId };
    this.taken(m);
    this.emitMessage(c, m);
  }

  private me(): { id: number; name: string; queues: string[] } | null {
    const agent = this.hub.status().agent;
    return agent ? (agentOf(agent.user) ?? null) : null;
  }

  private online(): boolean {
    return this.hub.status().streamOnline;
  }

  private requireAvailable(): void {
    if (!this.hub.status().loggedIn) throw fail('session_expired', 'not signed in to the hub');
    if (!this.whatsApp) throw fail('whatsapp_not_configured', 'the hub has no WhatsApp');
  }

  private requireOnline(): void {
    if (!this.online()) throw fail('hub_unreachable', 'the hub cannot be reached');
  }

  private get(id: number): StoredConversation {
    const c = this.conversations.get(id);
    if (!c) throw fail('not_found', `no conversation ${id}`);
    return c;
  }

  private windowOpen(c: StoredConversation | null): boolean {
    return !!c && c.lastInboundAt !== null && this.now() < c.lastInboundAt + WINDOW_MS;
  }

  private checkSendable(c: StoredConversation, message: OutgoingMessageInput): void {
    if (message.type === 'template') {
      this.checkTemplate(message);
      return;
    }
    if (message.type === 'text' && message.body.trim() === '') {
      throw fail('whatsapp_invalid_message', 'the message is empty');
    }
    if (
      message.type === 'location' &&
      !validPosition(message.latitude ?? null, message.longitude ?? null)
    ) {
      throw fail('invalid_location', 'latitude -90..90 and longitude -180..180');
    }
    if (!this.windowOpen(c)) {
      throw fail('window_closed', 'the customer has not written in the last 24 hours');
    }
  }

  private checkTemplate(message: Extract<OutgoingMessageInput, { type: 'template' }>): void {
    const template = this.templates.find(
      (t) => t.name === message.name && t.language === message.language,
    );
    if (!template) throw fail('not_found', `no template ${message.name}`);
    if (
      message.parameters.length !== template.parameterCount ||
      message.parameters.some((p) => p.trim() === '')
    ) {
      throw fail('whatsapp_invalid_message', 'fill every parameter of the template');
    }
  }

  /** The text a template shows once filled. */
  private templateText(message: Extract<OutgoingMessageInput, { type: 'template' }>): string {
    const body = this.templates.find((t) => t.name === message.name)?.body ?? message.name;
    return body.replace(
      /\{\{(\d+)\}\}/g,
      (all, n: string) => message.parameters[Number(n) - 1] ?? all,
    );
  }

  /** Keeps an outbound message (pending while the stream is down, queued once the hub took it). */
  private queueOutbound(
    c: StoredConversation,
    clientId: string,
    message: OutgoingMessageInput,
  ): StoredMessage {
    const me = this.me();
    const text =
      message.type === 'text'
        ? message.body
        : message.type === 'template'
          ? this.templateText(message)
          : message.type === 'location'
            ? null
            : message.emoji;
    const content =
      message.type === 'location'
        ? {
            type: 'location',
            location: {
              latitude: message.latitude,
              longitude: message.longitude,
              name: message.name,
              address: message.address,
            },
          }
        : message.type === 'text'
          ? { type: 'text', text: { body: message.body } }
          : message.type === 'template'
            ? {
                type: 'template',
                template: {
                  name: message.name,
                  language: { code: message.language },
                  components: [
                    {
                      type: 'body',
                      parameters: message.parameters.map((p) => ({ type: 'text', text: p })),
                    },
                  ],
                },
              }
            : {
                type: 'reaction',
                reaction: { message_id: message.messageId, emoji: message.emoji ?? '' },
              };
    const stored = this.store(c, {
      key: `c:${clientId}`,
      conversationId: c.id,
      hubId: null,
      clientId,
      wamid: null,
      outgoing: true,
      kind: message.type,
      text,
      content,
      mediaId: null,
      replyTo: null,
      status: 'pending',
      error: null,
      agentId: me?.id ?? null,
      at: this.now(),
    });
    if (this.online()) this.taken(stored);
    this.emitMessage(c, stored);
    this.scheduleAuto();
    return stored;
  }

  /** The hub took a pending message. */
  private taken(m: StoredMessage): void {
    m.hubId = this.nextHubId++;
    m.status = 'queued';
  }

  /** The input that sends `m` again. */
  private inputOf(m: StoredMessage): OutgoingMessageInput {
    const content = m.content as {
      template?: {
        name: string;
        language: { code: string };
        components: { parameters: { text: string }[] }[];
      };
      reaction?: { message_id: string; emoji: string };
      location?: {
        latitude: number;
        longitude: number;
        name: string | null;
        address: string | null;
      };
    };
    if (m.kind === 'location' && content.location) {
      return { type: 'location', ...content.location };
    }
    if (m.kind === 'template' && content.template) {
      return {
        type: 'template',
        name: content.template.name,
        language: content.template.language.code,
        parameters: content.template.components[0]?.parameters.map((p) => p.text) ?? [],
      };
    }
    if (m.kind === 'reaction' && content.reaction) {
      return {
        type: 'reaction',
        messageId: content.reaction.message_id,
        emoji: content.reaction.emoji === '' ? null : content.reaction.emoji,
      };
    }
    return { type: 'text', body: m.text ?? '' };
  }

  private store(c: StoredConversation, message: ChatMessageView): StoredMessage {
    const seq = this.nextSeq++;
    const stored: StoredMessage = { ...message, seq, retries: 0 };
    if (!stored.outgoing) {
      stored.hubId = this.nextHubId++;
      stored.key = `h:${stored.hubId}`;
    }
    c.messages.push(stored);
    return stored;
  }

  private pendingOf(c: StoredConversation): number {
    return c.messages.filter((m) => m.outgoing && m.status === 'pending').length;
  }

  private lastAt(c: StoredConversation): number {
    return c.messages.at(-1)?.at ?? 0;
  }

  private view(c: StoredConversation): ConversationView {
    const me = this.me();
    const agent = AGENT_BY_ID.get(c.agentId ?? -1);
    const last = c.messages.at(-1);
    const number = this.numbers.find((n) => n.phoneNumberId === c.phoneNumberId);
    return {
      id: c.id,
      phoneNumberId: c.phoneNumberId,
      businessNumber: number?.displayNumber ?? '',
      customer: c.customer,
      customerName: this.nameOf(c.customer),
      profileName: c.profileName,
      queue: c.queue,
      state: c.state,
      agentId: c.agentId,
      agentName: agent?.name ?? null,
      mine: me !== null && c.agentId === me.id,
      unread: c.unread,
      lastMessageAt: last?.at ?? 0,
      preview: last ? (last.text ?? '') : '',
      previewKind: last?.kind ?? 'text',
      previewOutgoing: last?.outgoing ?? false,
      windowEndsAt: c.lastInboundAt === null ? null : c.lastInboundAt + WINDOW_MS,
      windowOpen: this.windowOpen(c),
      pendingSends: this.pendingOf(c),
    };
  }

  private messageView(m: StoredMessage): ChatMessageView {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { seq, retries, ...view } = m;
    return clone(view);
  }

  private emitChanged(c: StoredConversation): ConversationView {
    const view = this.view(c);
    this.changed.emit(clone(view));
    this.emitCounts();
    return view;
  }

  private emitMessage(c: StoredConversation, m: StoredMessage): void {
    this.message.emit({ conversation: this.view(c), message: this.messageView(m) });
    this.emitCounts();
  }

  private emitCounts(): void {
    const counts = this.countsView();
    const text = JSON.stringify(counts);
    if (text === this.lastCounts) return;
    this.lastCounts = text;
    this.counts.emit(counts);
  }

  /** Sign-in, sign-out and the stream going down or up: counts, and pending sends go out. */
  private hubChanged(): void {
    const online = this.online();
    if (online && !this.wasOnline) {
      for (const c of this.conversations.values()) {
        for (const m of c.messages) {
          if (m.outgoing && m.status === 'pending' && !this.uploading.has(m.key)) {
            this.taken(m);
            this.emitMessage(c, m);
          }
        }
      }
      this.scheduleAuto();
    }
    this.wasOnline = online;
    this.emitCounts();
  }

  private scheduleAuto(): void {
    if (this.delivery !== 'auto' || this.autoTimer !== null) return;
    this.autoTimer = setTimeout(() => {
      this.autoTimer = null;
      if (this.advance()) this.scheduleAuto();
    }, this.autoMs);
  }

  private seed(seed: FakeChatSeed, startUser: string): void {
    const now = this.now();
    const phoneNumberId = seed.phoneNumberId ?? this.numbers[0]!.phoneNumberId;
    const number = this.numbers.find((n) => n.phoneNumberId === phoneNumberId) ?? this.numbers[0]!;
    const user = seed.agent === undefined ? startUser : seed.agent;
    const c: StoredConversation = {
      id: this.nextConversationId++,
      phoneNumberId: number.phoneNumberId,
      customer: seed.customer,
      profileName: seed.profileName ?? '',
      queue: number.queue,
      state: seed.state ?? 'open',
      agentId: user === null ? null : (agentOf(user)?.id ?? null),
      unread: seed.unread ?? 0,
      lastInboundAt: null,
      messages: [],
      comments: [],
    };
    const messages = [...seed.messages].sort((a, b) => b.minutesAgo - a.minutesAgo);
    for (const m of messages) {
      const at = now - m.minutesAgo * MINUTE;
      const outgoing = m.from === 'agent';
      const kind = m.kind ?? 'text';
      const hubId = this.nextHubId;
      const stored = this.store(c, {
        key: '',
        conversationId: c.id,
        hubId: null,
        clientId: null,
        wamid: `wamid.${outgoing ? 'OUT' : 'IN'}${hubId}`,
        outgoing,
        kind,
        text: m.text ?? null,
        content: m.content ?? { type: kind, text: { body: m.text ?? '' } },
        mediaId: m.mediaId ?? null,
        replyTo: m.replyTo ?? null,
        status: m.status ?? (outgoing ? 'read' : 'received'),
        error: m.error ?? null,
        agentId: outgoing ? c.agentId : null,
        at,
      });
      if (outgoing) {
        stored.hubId = this.nextHubId++;
        stored.key = `h:${stored.hubId}`;
      } else {
        c.lastInboundAt = at;
      }
    }
    this.conversations.set(c.id, c);
  }
}

const AGENT_BY_ID = new Map(FAKE_INBOX_AGENTS.map((a) => [a.id, a]));

function agentOf(user: string) {
  return FAKE_INBOX_AGENTS.find((a) => a.user === user);
}

/**
 * A believable inbox for the signed-in agent (`1234567`): a Mexican customer with unread
 * messages of every kind, an Argentine lead whose window closes within the hour, a Costa Rican
 * number waiting in Soporte, a Colombian customer served by a colleague, a Peruvian customer
 * whose window closed, and one attended yesterday.
 */
export function demoChats(): FakeChatSeed[] {
  return [
    {
      customer: '+5215512345678',
      profileName: 'Carlos M.',
      messages: [
        { from: 'customer', text: 'Buenos días, tengo una duda con mi factura', minutesAgo: 42 },
        {
          from: 'agent',
          text: 'Con gusto le ayudo. ¿Me comparte el número de factura?',
          minutesAgo: 40,
        },
        {
          from: 'customer',
          text: 'Esta es la factura',
          kind: 'image',
          minutesAgo: 12,
          mediaId: 'media-factura',
          content: {
            type: 'image',
            image: { id: 'media-factura', mime_type: 'image/jpeg', caption: 'Esta es la factura' },
          },
        },
        {
          from: 'customer',
          text: null,
          kind: 'document',
          minutesAgo: 11,
          mediaId: 'media-contrato',
          content: {
            type: 'document',
            document: {
              id: 'media-contrato',
              filename: 'contrato-2025.pdf',
              mime_type: 'application/pdf',
            },
          },
        },
        {
          from: 'customer',
          text: null,
          kind: 'audio',
          minutesAgo: 8,
          mediaId: 'media-nota-voz',
          content: {
            type: 'audio',
            audio: { id: 'media-nota-voz', mime_type: 'audio/ogg; codecs=opus', voice: true },
          },
        },
        {
          from: 'customer',
          text: null,
          kind: 'location',
          minutesAgo: 6,
          content: {
            type: 'location',
            location: {
              latitude: 19.4326,
              longitude: -99.1332,
              name: 'Oficina Centro',
              address: 'Av. Juárez 10, Ciudad de México',
            },
          },
        },
        {
          from: 'customer',
          text: '¿Me pueden llamar a este número?',
          minutesAgo: 5,
        },
      ],
      unread: 3,
    },
    {
      customer: '+5491145678901',
      profileName: 'Lucía',
      messages: [
        {
          from: 'customer',
          text: 'Hola, ¿tienen disponibilidad el jueves?',
          minutesAgo: 23 * 60 + 20,
        },
        { from: 'agent', text: 'Sí, a las 10:00 o a las 15:00.', minutesAgo: 23 * 60 + 10 },
      ],
    },
    {
      customer: '+50688887777',
      profileName: 'Ana',
      phoneNumberId: '110000000000002',
      agent: null,
      unread: 1,
      messages: [
        { from: 'customer', text: 'No me funciona el internet desde ayer', minutesAgo: 3 },
      ],
    },
    {
      customer: '+573001234567',
      profileName: 'Jorge R.',
      agent: '2345678',
      messages: [
        { from: 'customer', text: '¿Cuál es el precio del plan empresarial?', minutesAgo: 30 },
        {
          from: 'agent',
          text: 'Le envío la cotización en un momento.',
          minutesAgo: 28,
          status: 'delivered',
        },
      ],
    },
    {
      customer: '+51987654321',
      profileName: 'Pedro',
      messages: [
        { from: 'customer', text: 'Gracias, lo reviso y les aviso', minutesAgo: 30 * 60 },
        {
          from: 'agent',
          text: 'Quedamos atentos.',
          minutesAgo: 29 * 60,
          status: 'failed',
          error: {
            code: 131047,
            kind: 'whatsapp_window_closed',
            title: 'Re-engagement message',
            details: null,
          },
        },
      ],
    },
    {
      customer: '+5215598765432',
      profileName: 'Sofía',
      state: 'attended',
      messages: [
        { from: 'customer', text: 'Ya quedó, muchas gracias', minutesAgo: 20 * 60 },
        { from: 'agent', text: '¡Con gusto!', minutesAgo: 20 * 60 - 1 },
      ],
    },
  ];
}
