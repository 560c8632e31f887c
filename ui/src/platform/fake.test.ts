import { describe, expect, it, vi } from 'vitest';
import { FAKE_SALESFORCE_USER, FakePlatform } from './fake';
import { FAKE_HUB_AGENTS, FAKE_HUB_SERVER } from './fake-hub';
import type { CallView, InboxCountsView, InboxMessageEvent, WireError } from './types';

function setup() {
  let clock = Date.UTC(2025, 10, 23, 15, 0, 0);
  const fake = new FakePlatform({ now: () => clock });
  const events: CallView[] = [];
  fake.onCallUpdated((call) => events.push(call));
  return { fake, events, advance: (ms: number) => (clock += ms) };
}

async function rejection(promise: Promise<unknown>): Promise<WireError> {
  try {
    await promise;
  } catch (error) {
    return error as WireError;
  }
  throw new Error('expected a rejection');
}

describe('FakePlatform', () => {
  it('dials digits and + as an outgoing ringing call', async () => {
    const { fake, events } = setup();
    const view = await fake.callDial('+506 8888-7777');
    expect(view).toEqual({
      kind: 'number',
      e164: '+50688887777',
      extension: null,
      dial: '+50688887777',
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      direction: 'outgoing',
      status: 'ringing',
      peerNumber: '+50688887777',
    });
    expect(await fake.callsHistory()).toHaveLength(1);
    expect(await fake.callsPending()).toEqual([]);
    expect((await fake.callDial('2001')).kind).toBe('extension');
  });

  it('rejects anything else with a code, not a message', async () => {
    const { fake, events } = setup();
    expect((await rejection(fake.callDial('call mom'))).code).toBe('not_a_phone_number');
    expect((await rejection(fake.callDial('   '))).code).toBe('empty');
    expect(events).toEqual([]);
    expect(fake.dialed).toEqual(['call mom', '   ']);
  });

  it('refuses to dial when the line is offline', async () => {
    const { fake } = setup();
    fake.simulateLineStatus({ kind: 'baresip', state: 'offline', detail: null });
    expect((await rejection(fake.callDial('5551234'))).code).toBe('line_offline');
  });

  it('measures the duration from answer to hang-up and lists the call as pending', async () => {
    const { fake, advance } = setup();
    await fake.callDial('5551234');
    const id = (await fake.callsHistory())[0]!.id;
    advance(5_000);
    fake.simulateAnswer(id);
    advance(62_400);
    fake.simulateHangup(id);
    const [pending] = await fake.callsPending();
    expect(pending).toMatchObject({
      id,
      status: 'ended',
      durationSeconds: 62,
      endReason: 'completed',
    });
  });

  it('answers and rejects only ringing incoming calls', async () => {
    const { fake } = setup();
    const a = fake.simulateIncoming('+50640004000', 'Ana');
    await fake.callAnswer(a.id);
    expect(fake.call(a.id)?.status).toBe('answered');
    expect((await rejection(fake.callAnswer(a.id))).code).toBe('no_active_call');
    const b = fake.simulateIncoming('2001');
    await fake.callReject(b.id);
    expect(fake.call(b.id)).toMatchObject({
      status: 'ended',
      endReason: 'rejected',
      durationSeconds: 0,
    });
    expect((await rejection(fake.callHangup(b.id))).code).toBe('no_active_call');
    expect((await rejection(fake.callIgnore('nope'))).code).toBe('not_found');
  });

  it('ignored calls leave the pending list but stay in the history', async () => {
    const { fake } = setup();
    const call = fake.simulateIncoming('2001');
    fake.simulateHangup(call.id);
    expect(await fake.callsPending()).toHaveLength(1);
    await fake.callIgnore(call.id);
    expect(await fake.callsPending()).toEqual([]);
    expect((await fake.callsHistory())[0]).toMatchObject({ id: call.id, logState: 'ignored' });
  });

  it('validates and stores settings', async () => {
    const { fake } = setup();
    const settings = await fake.settingsGet();
    expect((await rejection(fake.settingsSave({ ...settings, defaultCountry: 'C1' }))).code).toBe(
      'invalid_setting',
    );
    const saved = await fake.settingsSave({ ...settings, defaultCountry: 'mx', language: 'en' });
    expect(saved).toMatchObject({ defaultCountry: 'MX', language: 'en' });
    expect(await fake.settingsGet()).toEqual(saved);
  });

  it('names the field of an invalid setting, like the app', async () => {
    const { fake } = setup();
    const settings = await fake.settingsGet();
    const field = async (patch: Partial<typeof settings>) =>
      (await rejection(fake.settingsSave({ ...settings, ...patch }))).field;
    expect(await field({ defaultCountry: 'C1' })).toBe('defaultCountry');
    expect(
      await field({ baresip: { ctrlAddress: 'localhost', sipDomain: 'pbx.example.com' } }),
    ).toBe('baresipCtrlAddress');
    expect(await field({ baresip: { ctrlAddress: '127.0.0.1:4444', sipDomain: 'a b' } })).toBe(
      'baresipSipDomain',
    );
    const handOff = { mode: 'uri' as const, uriTemplate: 'sip:', program: '' };
    expect(await field({ lineKind: 'hand_off', handOff })).toBe('handOffUriTemplate');
    expect(
      await field({ lineKind: 'hand_off', handOff: { ...handOff, mode: 'program', program: 'x' } }),
    ).toBe('handOffProgram');
    // Only the line in use is checked.
    await fake.settingsSave({ ...settings, lineKind: 'none', handOff });
    expect((await fake.settingsGet()).lineKind).toBe('none');
  });

  it('lists only calls still ringing or up as open', async () => {
    const { fake } = setup();
    const ringing = fake.simulateIncoming('2001');
    const up = fake.simulateIncoming('2002');
    fake.simulateAnswer(up.id);
    const gone = fake.simulateIncoming('2003');
    fake.simulateHangup(gone.id);
    const open = await fake.callsOpen();
    expect(open.map((c) => c.id).sort()).toEqual([ringing.id, up.id].sort());
    expect(open.find((c) => c.id === up.id)?.status).toBe('answered');
  });

  it('reports start-up problems and counts uiReady calls', async () => {
    const fake = new FakePlatform({ problems: ['storage: running from memory'] });
    expect((await fake.appInfo()).problems).toEqual(['storage: running from memory']);
    expect((await new FakePlatform().appInfo()).problems).toEqual([]);
    expect(fake.uiReadyCalls).toBe(0);
    await fake.uiReady();
    expect(fake.uiReadyCalls).toBe(1);
    fake.failNext('callsOpen', 'internal');
    expect((await rejection(fake.callsOpen())).code).toBe('internal');
  });

  it('can make the next command fail', async () => {
    const { fake } = setup();
    fake.failNext('handlerRegister', 'internal');
    expect((await rejection(fake.handlerRegister())).code).toBe('internal');
    expect((await fake.handlerRegister()).schemes.every((s) => s.registered)).toBe(true);
  });
});

describe('FakePlatform CRM', () => {
  const lead = {
    kind: 'lead' as const,
    firstName: 'Sofía',
    lastName: 'Quesada',
    email: '',
    phone: '+50622223333',
    mobile: '',
    company: '',
  };

  async function endedCall(fake: FakePlatform) {
    const before = new Set((await fake.callsHistory()).map((c) => c.id));
    await fake.callDial('+50622223333');
    const id = (await fake.callsHistory()).find((c) => !before.has(c.id))!.id;
    fake.simulateHangup(id);
    return id;
  }

  it('refuses CRM work until a CRM is linked, and reports the links', async () => {
    const fake = new FakePlatform();
    const id = await endedCall(fake);
    expect((await rejection(fake.contactsSearch('ana'))).code).toBe('crm_not_linked');
    expect((await rejection(fake.callCreateContact(id, lead))).code).toBe('crm_not_linked');
    expect(await fake.contactsCached('ana')).toEqual([]);
    const statuses: string[] = [];
    fake.onCrmStatus((s) => statuses.push(s.links.map((l) => l.state).join(',')));
    const status = await fake.crmSignIn('salesforce');
    expect(status.links.map((l) => [l.crm, l.linked, l.state])).toEqual([
      ['salesforce', true, 'ok'],
      ['zoho', false, 'not_linked'],
    ]);
    expect(statuses).toEqual(['ok,not_linked']);
    expect((await fake.contactsCached('ana'))[0]?.name).toBe('Ana Rodríguez');
  });

  it('searches by name without accents, e-mail and digits, cache first then the CRM', async () => {
    const fake = new FakePlatform({ crmLinked: ['salesforce'] });
    expect((await fake.contactsSearch('lucia')).map((c) => c.name)).toEqual(['Lucía Fernández']);
    expect((await fake.contactsSearch('88887777')).map((c) => c.id)).toEqual([
      '0035e00000AbCdEAA1',
    ]);
    expect((await fake.contactsSearch('gruponorte')).map((c) => c.name)).toEqual(['Carlos Méndez']);
    expect(await fake.contactsCached('Jorge')).toEqual([]);
    expect((await fake.contactsSearch('Jorge')).map((c) => c.kind)).toEqual(['lead']);
    // Found in the CRM once: now cached too.
    expect((await fake.contactsCached('Jorge')).length).toBe(1);
    expect((await rejection(fake.contactsSearch(' a '))).code).toBe('search_too_short');
  });

  it('names the field of a bad new record, and delivers a good one in order', async () => {
    const fake = new FakePlatform({ crmLinked: ['zoho'] });
    const id = await endedCall(fake);
    const field = async (patch: object) =>
      (await rejection(fake.callCreateContact(id, { ...lead, ...patch }))).field;
    expect(await field({})).toBe('company');
    expect(await field({ lastName: ' ' })).toBe('last_name');
    expect(await field({ company: 'Q', email: 'no-at' })).toBe('email');
    const queued = await fake.callCreateContact(id, { ...lead, company: 'Quesada S.A.' });
    expect(queued.record).toEqual({ crm: 'zoho', kind: 'lead', id: null, name: 'Sofía Quesada' });
    const logged = await fake.callLog(id, 'Cotización', '');
    expect(logged.logState).toBe('logged');
    expect(logged.crmWrites.map((w) => [w.kind, w.state])).toEqual([
      ['create_contact', 'pending'],
      ['log_call', 'pending'],
    ]);
    expect((await fake.crmStatus()).pendingWrites).toBe(2);
    fake.advanceCrmWrites();
    expect(fake.call(id)?.crmWrites.map((w) => w.state)).toEqual(['sending', 'pending']);
    fake.deliverCrmWrites();
    const done = fake.call(id)!;
    expect(done.crmWrites.map((w) => w.state)).toEqual(['delivered', 'delivered']);
    expect(done.record?.id).toMatch(/^\d{19}$/);
    expect((await fake.crmStatus()).pendingWrites).toBe(0);
  });

  it('holds later writes behind one that needs attention, until it is retried', async () => {
    const fake = new FakePlatform({ crmLinked: ['salesforce'] });
    const first = await endedCall(fake);
    const second = await endedCall(fake);
    await fake.callAttach(first, 'salesforce', 'contact', '0035e00000AbCdEAA1');
    await fake.callAttach(second, 'salesforce', 'contact', '0035e00000AbCdEAA1');
    await fake.callLog(first, 'a', '');
    await fake.callLog(second, 'b', '');
    fake.failNextCrmWrite('crm_invalid_field', 'phone');
    fake.deliverCrmWrites();
    expect(fake.call(first)?.crmWrites[0]).toMatchObject({
      state: 'needs_attention',
      errorCode: 'crm_invalid_field',
      errorField: 'phone',
      attempts: 1,
    });
    expect(fake.call(second)?.crmWrites[0]?.state).toBe('pending');
    expect((await fake.crmStatus()).needsAttention).toBe(1);
    const retried = await fake.crmWriteRetry(fake.call(first)!.crmWrites[0]!.id);
    expect(retried.crmWrites[0]?.state).toBe('pending');
    fake.deliverCrmWrites();
    expect(fake.call(first)?.crmWrites[0]).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(fake.call(second)?.crmWrites[0]?.state).toBe('delivered');
  });

  it('accepts only the known password + token, and never with the flow blocked', async () => {
    const { username, passwordAndToken } = FAKE_SALESFORCE_USER;
    const fake = new FakePlatform();
    expect((await rejection(fake.crmPasswordSignIn(username, 'nope'))).code).toBe(
      'crm_auth_failed',
    );
    expect((await fake.crmPasswordSignIn(username, passwordAndToken)).links[0]?.account).toBe(
      username,
    );
    const blocked = new FakePlatform({ passwordFlowBlocked: true });
    expect((await rejection(blocked.crmPasswordSignIn(username, passwordAndToken))).code).toBe(
      'crm_auth_failed',
    );
    const noKeyring = new FakePlatform({ keyringAvailable: false });
    expect((await rejection(noKeyring.crmSignIn('salesforce'))).code).toBe('keyring_unavailable');
    expect(
      (await noKeyring.crmStatus()).links.every((l) => l.state === 'keyring_unavailable'),
    ).toBe(true);
  });

  it('screen-pops from the cache and records which record was opened', async () => {
    const fake = new FakePlatform({ crmLinked: ['salesforce', 'zoho'] });
    expect(fake.simulateIncoming('+50688887777').callerMatches.map((c) => c.crm)).toEqual([
      'salesforce',
      'zoho',
    ]);
    expect(fake.simulateIncoming('+525512345678').record?.name).toBe('Carlos Méndez');
    expect(fake.simulateIncoming('+50640004000').callerMatches).toEqual([]);
    await fake.recordOpen('zoho', 'contact', '5725767000000412001');
    expect(fake.openedRecords).toEqual([
      { crm: 'zoho', kind: 'contact', id: '5725767000000412001' },
    ]);
  });

  it('validates the CRM settings with the field named', async () => {
    const fake = new FakePlatform();
    const settings = await fake.settingsGet();
    const field = async (patch: Partial<typeof settings>) =>
      (await rejection(fake.settingsSave({ ...settings, ...patch }))).field;
    expect(await field({ salesforce: { ...settings.salesforce, loginHost: 'login' } })).toBe(
      'salesforceLoginHost',
    );
    expect(await field({ zoho: { ...settings.zoho, redirectPort: 80 } })).toBe('zohoRedirectPort');
    const saved = await fake.settingsSave({
      ...settings,
      zoho: { ...settings.zoho, accountsServer: 'https://accounts.zoho.eu' },
    });
    expect(saved.zoho.accountsServer).toBe('https://accounts.zoho.eu');
  });
});

describe('FakePlatform inbox (Omnicanalidad)', () => {
  function inboxSetup(options: ConstructorParameters<typeof FakePlatform>[0] = {}) {
    let clock = Date.UTC(2025, 10, 23, 15, 0, 0);
    const fake = new FakePlatform({
      now: () => clock,
      hubServer: FAKE_HUB_SERVER,
      hubLoggedInAs: FAKE_HUB_AGENTS.agent.user,
      crmLinked: ['salesforce'],
      inbox: 'demo',
      ...options,
    });
    const counts: InboxCountsView[] = [];
    const messages: InboxMessageEvent[] = [];
    fake.onInboxCounts((c) => counts.push(c));
    fake.onInboxMessage((m) => messages.push(m));
    return { fake, counts, messages, advance: (ms: number) => (clock += ms) };
  }

  it('lists the open conversations of each filter, latest activity first, with CRM names', async () => {
    const { fake } = inboxSetup();
    const mine = await fake.inboxConversations('mine', '');
    expect(mine.map((c) => c.customer)).toEqual([
      '+5215512345678',
      '+5491145678901',
      '+51987654321',
    ]);
    expect(mine[0]).toMatchObject({ customerName: 'Carlos Méndez', unread: 3, mine: true });
    expect(mine[1]!.windowOpen).toBe(true);
    expect(mine[2]!.windowOpen).toBe(false);
    const unassigned = await fake.inboxConversations('unassigned', '');
    expect(unassigned.map((c) => c.customer)).toEqual(['+50688887777']);
    const queues = await fake.inboxConversations('queues', '');
    expect(queues).toHaveLength(5);
    expect(queues.find((c) => c.customer === '+573001234567')?.agentName).toBe('Lucía Fernández');
    // Search also finds attended conversations, by number or name.
    const found = await fake.inboxConversations('mine', '55 9876 5432');
    expect(found.map((c) => c.state)).toEqual(['attended']);
    expect((await fake.inboxConversations('mine', 'carlos')).map((c) => c.id)).toEqual([
      mine[0]!.id,
    ]);
    expect(await fake.inboxCounts()).toEqual({
      waiting: 3,
      unread: 1,
      pendingSends: 0,
      online: true,
      available: true,
    });
  });

  it('sends text whose status advances to read, and refuses free text once the window closed', async () => {
    const { fake, messages } = inboxSetup();
    const [first, , closed] = await fake.inboxConversations('mine', '');
    const sent = await fake.inboxSend(first!.id, 'client-1', { type: 'text', body: 'Hola' });
    expect(sent).toMatchObject({ key: 'c:client-1', status: 'queued', outgoing: true });
    expect(await fake.inboxSend(first!.id, 'client-1', { type: 'text', body: 'Hola' })).toEqual(
      sent,
    );
    fake.inbox.deliverAll();
    const statuses = messages.filter((m) => m.message.key === 'c:client-1');
    expect(statuses.map((m) => m.message.status)).toEqual([
      'queued',
      'sending',
      'sent',
      'delivered',
      'read',
    ]);
    const refused = await rejection(
      fake.inboxSend(closed!.id, 'client-2', { type: 'text', body: 'Hola' }),
    );
    expect(refused.code).toBe('window_closed');
    const template = await fake.inboxSend(closed!.id, 'client-3', {
      type: 'template',
      name: 'recordatorio_cita',
      language: 'es',
      parameters: ['lunes 1'],
    });
    expect(template.text).toContain('lunes 1');
  });

  it('keeps messages typed offline pending and sends them once when the stream is back', async () => {
    const { fake, counts, messages } = inboxSetup();
    const [first] = await fake.inboxConversations('mine', '');
    fake.hub.setStreamOnline(false);
    const pending = await fake.inboxSend(first!.id, 'offline-1', { type: 'text', body: 'Ya voy' });
    expect(pending.status).toBe('pending');
    expect(counts.at(-1)).toMatchObject({ pendingSends: 1, online: false });
    fake.inbox.advance();
    expect(fake.inbox.messages(first!.id).at(-1)?.status).toBe('pending');
    fake.hub.setStreamOnline(true);
    const taken = messages.filter((m) => m.message.key === 'c:offline-1');
    expect(taken.map((m) => m.message.status)).toEqual(['pending', 'queued']);
    expect(counts.at(-1)).toMatchObject({ pendingSends: 0, online: true });
  });

  it('marks attended, takes, releases and lists open chats at Salida', async () => {
    const { fake, counts } = inboxSetup();
    const [first] = await fake.inboxConversations('mine', '');
    expect((await fake.agentExitCheck()).chats.map((c) => c.id)).toContain(first!.id);
    await fake.inboxAttended(first!.id);
    expect(counts.at(-1)?.waiting).toBe(2);
    expect((await fake.inboxConversations('mine', '')).map((c) => c.id)).not.toContain(first!.id);
    const [waiting] = await fake.inboxConversations('unassigned', '');
    expect((await fake.inboxTake(waiting!.id)).mine).toBe(true);
    expect(counts.at(-1)?.waiting).toBe(3);
    expect((await fake.inboxRelease(waiting!.id)).agentId).toBeNull();
    const other = (await fake.inboxConversations('queues', '')).find((c) => !c.mine && c.agentId);
    expect((await rejection(fake.inboxTake(other!.id))).code).toBe('forbidden');
  });

  it('counts a customer message as unread unless the chat is on screen', async () => {
    const { fake, counts } = inboxSetup({ inbox: [] });
    expect(await fake.inboxCounts()).toMatchObject({ waiting: 0, unread: 0 });
    const message = fake.inbox.simulateCustomerMessage('+5215511112222', 'Hola');
    expect(counts.at(-1)).toMatchObject({ waiting: 1, unread: 1 });
    await fake.inboxViewing(message.conversationId);
    expect(counts.at(-1)).toMatchObject({ waiting: 1, unread: 0 });
    fake.inbox.simulateCustomerMessage('+5215511112222', '¿Sigue ahí?');
    expect(fake.inbox.conversation(message.conversationId)?.unread).toBe(0);
  });

  it('starts a conversation from a call: templates only without an open window', async () => {
    const { fake } = inboxSetup({ inbox: [] });
    const [number] = await fake.inboxNumbers();
    const text = { type: 'text', body: 'Hola' } as const;
    const closed = await rejection(
      fake.inboxStart(number!.phoneNumberId, '+50670001234', 'a', text),
    );
    expect(closed.code).toBe('window_closed');
    const started = await fake.inboxStart(number!.phoneNumberId, '+506 7000 1234', 'b', {
      type: 'template',
      name: 'retomar_conversacion',
      language: 'es',
      parameters: [],
    });
    expect(started).toMatchObject({ customer: '+50670001234', mine: true, windowOpen: false });
    expect(started.customerName).toBe('Ana Rodríguez');
    expect((await rejection(fake.inboxStart(number!.phoneNumberId, 'hola', 'c', text))).code).toBe(
      'not_a_phone_number',
    );
  });

  it('pages the timeline oldest first and says when the hub could not be asked', async () => {
    const { fake } = inboxSetup({ inbox: [] });
    for (let i = 0; i < 7; i += 1) fake.inbox.simulateCustomerMessage('+5215511112222', `m${i}`);
    const id = fake.inbox.messages(1)[0]!.conversationId;
    const newest = await fake.inboxTimeline(id, null, 3);
    expect(newest.messages.map((m) => m.text)).toEqual(['m4', 'm5', 'm6']);
    const older = await fake.inboxTimeline(id, newest.nextBefore, 5);
    expect(older.messages.map((m) => m.text)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(older.nextBefore).toBeNull();
    fake.hub.setStreamOnline(false);
    expect((await fake.inboxTimeline(id, null, 3)).offline).toBe(true);
  });

  it('says chats are unavailable without a hub session or without WhatsApp', async () => {
    expect(await new FakePlatform({ inbox: 'demo' }).inboxCounts()).toMatchObject({
      available: false,
      waiting: 0,
    });
    const { fake } = inboxSetup({ hubWhatsApp: false });
    expect((await fake.inboxCounts()).available).toBe(false);
    expect((await rejection(fake.inboxTemplates())).code).toBe('whatsapp_not_configured');
  });

  it("refuses to mark attended or take a colleague's conversation, like the hub", async () => {
    const { fake } = inboxSetup();
    const colleague = (await fake.inboxConversations('queues', '')).find(
      (c) => c.agentName === 'Lucía Fernández',
    )!;
    expect((await rejection(fake.inboxAttended(colleague.id))).code).toBe('forbidden');
    expect((await rejection(fake.inboxTake(colleague.id))).code).toBe('forbidden');
    expect((await rejection(fake.inboxRelease(colleague.id))).code).toBe('forbidden');
    expect((await rejection(fake.inboxAttended(999))).code).toBe('not_found');
  });

  it('moves statuses on its own in auto mode (browser demo)', async () => {
    vi.useFakeTimers();
    try {
      const { fake } = inboxSetup({ inboxDelivery: 'auto', autoInboxMs: 100 });
      const [first] = await fake.inboxConversations('mine', '');
      await fake.inboxSend(first!.id, 'auto-1', { type: 'text', body: 'Hola' });
      vi.advanceTimersByTime(1_000);
      expect(fake.inbox.messages(first!.id).at(-1)?.status).toBe('read');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('fails a send with the reason and sends it again on retry', async () => {
    const { fake } = inboxSetup();
    const [first] = await fake.inboxConversations('mine', '');
    fake.inbox.failNextSend();
    await fake.inboxSend(first!.id, 'x', { type: 'text', body: 'Hola' });
    fake.inbox.deliverAll();
    const failed = fake.inbox.messages(first!.id).find((m) => m.key === 'c:x');
    expect(failed).toMatchObject({ status: 'failed', error: { kind: 'whatsapp_undeliverable' } });
    const again = await fake.inboxRetry(first!.id, 'c:x');
    expect(again).toMatchObject({ text: 'Hola', status: 'queued' });
    expect(again.key).not.toBe('c:x');
  });
});
