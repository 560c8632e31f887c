import { describe, expect, it } from 'vitest';
import { FakePlatform } from './fake';
import { FAKE_HUB_AGENTS, FAKE_HUB_SERVER, FAKE_THROTTLE } from './fake-hub';
import { retryAfterOf, toWireError } from './platform';
import type { AgentLiveView, AgentStateView, HubStatusView, WireError } from './types';

const AGENT = FAKE_HUB_AGENTS.agent;
const SUPERVISOR = FAKE_HUB_AGENTS.supervisor;

function fakeAt(start = 1_700_000_000_000) {
  const clock = { now: start };
  const fake = new FakePlatform({ now: () => clock.now, hubServer: FAKE_HUB_SERVER });
  return { fake, clock };
}

async function rejection(promise: Promise<unknown>): Promise<WireError> {
  try {
    await promise;
  } catch (error) {
    return toWireError(error);
  }
  throw new Error('expected a rejection');
}

describe('fake hub', () => {
  it('starts with no server configured unless asked', async () => {
    const status = await new FakePlatform().hubStatus();
    expect(status).toEqual({
      server: null,
      loggedIn: false,
      agent: null,
      state: null,
      streamOnline: false,
      detail: null,
      resyncedAt: null,
    });
    expect((await rejection(new FakePlatform().pauseReasons())).code).toBe('session_expired');
  });

  it('signs in both accounts and says who is a supervisor', async () => {
    const { fake } = fakeAt();
    const events: HubStatusView[] = [];
    fake.onHubStatus((s) => events.push(s));
    const agent = await fake.hubLogin(FAKE_HUB_SERVER, AGENT.user, AGENT.password);
    expect(agent.loggedIn).toBe(true);
    expect(agent.agent).toEqual({
      user: AGENT.user,
      name: AGENT.name,
      extension: AGENT.extension,
      supervisor: false,
    });
    expect(agent.state?.state).toBe('available');
    expect(events.at(-1)?.loggedIn).toBe(true);
    expect((await rejection(fake.agentsLive())).code).toBe('forbidden');
    const sup = await fake.hubLogin(FAKE_HUB_SERVER, SUPERVISOR.user, SUPERVISOR.password);
    expect(sup.agent?.supervisor).toBe(true);
    expect((await fake.agentsLive()).length).toBe(5);
  });

  it('checks formats with the field, like the host', async () => {
    const { fake } = fakeAt();
    expect(await rejection(fake.hubLogin('hub.example', AGENT.user, AGENT.password))).toMatchObject(
      { code: 'invalid_setting', field: 'server' },
    );
    expect(await rejection(fake.hubLogin(FAKE_HUB_SERVER, '123456', '123456'))).toMatchObject({
      code: 'invalid_setting',
      field: 'user',
    });
    expect(await rejection(fake.hubLogin(FAKE_HUB_SERVER, AGENT.user, '12345'))).toMatchObject({
      code: 'invalid_setting',
      field: 'password',
    });
  });

  it('throttles after five failures with a growing wait, even for the right password', async () => {
    const { fake, clock } = fakeAt();
    const wrong = () => rejection(fake.hubLogin(FAKE_HUB_SERVER, AGENT.user, '000000'));
    for (let i = 1; i < FAKE_THROTTLE.failures; i += 1) {
      expect((await wrong()).code).toBe('bad_credentials');
    }
    const fifth = await wrong();
    expect(fifth.code).toBe('throttled');
    expect(retryAfterOf(fifth)).toBe(60);
    clock.now += 20_000;
    const locked = await rejection(fake.hubLogin(FAKE_HUB_SERVER, AGENT.user, AGENT.password));
    expect(locked.code).toBe('throttled');
    expect(retryAfterOf(locked)).toBe(40);
    clock.now += 40_000;
    for (let i = 1; i < FAKE_THROTTLE.failures; i += 1) await wrong();
    expect(retryAfterOf(await wrong())).toBe(120);
    clock.now += 120_000;
    expect((await fake.hubLogin(FAKE_HUB_SERVER, AGENT.user, AGENT.password)).loggedIn).toBe(true);
  });

  it('pauses with budgets, refuses Salida as a pause, and sums the day', async () => {
    const { fake, clock } = fakeAt();
    await fake.hubLogin(FAKE_HUB_SERVER, AGENT.user, AGENT.password);
    const states: AgentStateView[] = [];
    fake.onAgentState((s) => states.push(s));
    const reasons = await fake.pauseReasons();
    expect(reasons.map((r) => [r.name, r.budgetSeconds, r.isExit])).toEqual([
      ['Baño', 900, false],
      ['Almuerzo', 3600, false],
      ['Capacitación', null, false],
      ['Salida', null, true],
    ]);
    const paused = await fake.agentPause(1);
    expect(paused).toMatchObject({ state: 'paused', reasonName: 'Baño', since: clock.now });
    clock.now += 901_000;
    expect((await fake.hubStatus()).state?.overBudget).toBe(true);
    expect((await fake.agentUnpause()).state).toBe('available');
    expect(states.map((s) => s.state)).toEqual(['paused', 'available']);
    expect((await rejection(fake.agentPause(4))).code).toBe('invalid_request');
    const day = await fake.agentDay();
    expect(day.pauses.find((p) => p.reasonName === 'Baño')?.seconds).toBe(540 + 901);
  });

  it('exit check counts calls to log and CRM writes; Salida signs out', async () => {
    const { fake } = fakeAt();
    await fake.hubLogin(FAKE_HUB_SERVER, SUPERVISOR.user, SUPERVISOR.password);
    const live: AgentLiveView[][] = [];
    fake.onAgentsLive((rows) => live.push(rows));
    await fake.callDial('+50640004000');
    const id = (await fake.callsHistory())[0]!.id;
    fake.simulateHangup(id);
    expect(await fake.agentExitCheck()).toEqual({ pendingCalls: 1, pendingWrites: 0, chats: [] });
    const status = await fake.agentExit();
    expect(status).toMatchObject({ server: FAKE_HUB_SERVER, loggedIn: false, state: null });
    expect(live.at(-1)?.find((r) => r.user === SUPERVISOR.user)?.state).toBe('logged_out');
    expect((await rejection(fake.agentDay())).code).toBe('session_expired');
  });
});

describe('toWireError', () => {
  it('keeps the wait of a throttled error when the host sends one', () => {
    const e = toWireError({ code: 'throttled', message: 'wait', retryAfterSeconds: 30 });
    expect(retryAfterOf(e)).toBe(30);
    expect(retryAfterOf(toWireError({ code: 'throttled', message: 'wait 30 s' }))).toBeNull();
  });
});
