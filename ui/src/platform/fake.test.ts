import { describe, expect, it } from 'vitest';
import { FakePlatform } from './fake';
import type { CallView, WireError } from './types';

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
