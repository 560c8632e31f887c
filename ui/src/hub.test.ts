// The hub in the UI: Login screen, Pausas, Salida, Gestión, no-hub state.
// Everything runs against the in-memory fake hub of FakePlatform.
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { en } from './i18n/en';
import { es } from './i18n/es';
import { setLanguage } from './i18n/index.svelte';
import {
  FAKE_HUB_AGENTS,
  FAKE_HUB_SERVER,
  FakePlatform,
  type CallView,
  type FakeOptions,
} from './platform';

const AGENT = FAKE_HUB_AGENTS.agent;
const SUPERVISOR = FAKE_HUB_AGENTS.supervisor;

const byId = (id: string) => screen.getByTestId(id);
const queryId = (id: string) => screen.queryByTestId(id);
const allById = (id: string) => screen.queryAllByTestId(id);

// The hub's screens are loaded on first use (dynamic imports): warm the module cache so they
// appear within a macrotask.
await Promise.all([
  import('./components/LoginScreen.svelte'),
  import('./panels/PausesPanel.svelte'),
  import('./panels/ManagementPanel.svelte'),
]);

/**
 * Lets the fake's promises, the lazy screens and Svelte's updates settle. `setTimeout` stays
 * real (only setInterval and Date are faked), so this works with the faked clock too.
 */
async function settle() {
  for (let i = 0; i < 3; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    await tick();
  }
}

async function setup(options: FakeOptions = {}) {
  const fake = new FakePlatform({ now: () => Date.now(), osLocale: 'es-CR', ...options });
  render(App, { props: { platform: fake } });
  await settle();
  return fake;
}

async function type(testid: string, value: string) {
  await fireEvent.input(byId(testid), { target: { value } });
}

async function login(user: string, password: string, server?: string) {
  if (server !== undefined) await type('login-server', server);
  await type('login-user', user);
  await type('login-password', password);
  await fireEvent.click(byId('login-submit'));
  await settle();
}

async function go(panel: string) {
  await fireEvent.click(byId(`nav-${panel}`));
  await settle();
}

/** Advances the faked clock (Date and setInterval) by `ms` and lets the UI update. */
async function advance(ms: number) {
  vi.advanceTimersByTime(ms);
  await settle();
}

const reasonButton = (name: string) =>
  allById('pause-reason').find((b) => b.textContent?.includes(name)) ??
  (() => {
    throw new Error(`no pause reason ${name}`);
  })();

beforeEach(() => {
  setLanguage('es');
  vi.useFakeTimers({
    toFake: ['setInterval', 'clearInterval', 'Date'],
    now: new Date(2025, 10, 24, 8, 0, 0),
  });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('without a hub configured', () => {
  it('never forces the Login screen and explains Pausas and Gestión', async () => {
    await setup();
    expect(queryId('login-screen')).toBeNull();
    expect(byId('panel-calls')).toBeTruthy();
    expect(queryId('agent-state-chip')).toBeNull();
    for (const panel of ['pauses', 'management']) {
      await go(panel);
      const notice = within(byId(`panel-${panel}`)).getByTestId('not-connected');
      expect(notice.textContent).toContain(es['hub.needsServer']);
      expect(notice.dataset.hubConfigured).toBe('false');
      expect(within(byId(`panel-${panel}`)).queryByTestId('pause-reason')).toBeNull();
    }
    expect(byId('panel-management').textContent).toContain(es['hub.managementNeedsServer']);
  });

  it('connects from Pausas: the server is asked the first time, then the panel works', async () => {
    const fake = await setup();
    await go('pauses');
    await fireEvent.click(byId('hub-connect'));
    await settle();
    expect(byId('login-screen')).toBeTruthy();
    expect((byId('login-server') as HTMLInputElement).value).toBe('');
    await login(AGENT.user, AGENT.password, FAKE_HUB_SERVER);
    expect(queryId('login-screen')).toBeNull();
    expect(fake.hub.loginAttempts).toEqual([{ server: FAKE_HUB_SERVER, user: AGENT.user }]);
    expect(byId('panel-pauses')).toBeTruthy();
    expect(allById('pause-reason').map((b) => b.dataset.reasonId)).toEqual(['1', '2', '3', '4']);
    expect(byId('agent-state-chip').dataset.state).toBe('available');
    expect(byId('agent-state-chip').textContent).toContain(es['agentState.available']);
  });

  it('lets the agent go back without connecting, and Configuración opens the Login too', async () => {
    await setup();
    await go('settings');
    expect(byId('hub-server').textContent).toBe(es['hub.none']);
    await fireEvent.click(byId('hub-connect'));
    await settle();
    expect(byId('login-screen')).toBeTruthy();
    await fireEvent.click(byId('login-skip'));
    expect(queryId('login-screen')).toBeNull();
    expect(byId('panel-settings')).toBeTruthy();
  });
});

describe('Login screen', () => {
  it('is shown at start when a server is configured, without asking for the server', async () => {
    await setup({ hubServer: FAKE_HUB_SERVER });
    expect(byId('login-screen')).toBeTruthy();
    expect(queryId('login-server')).toBeNull();
    expect(byId('login-screen').textContent).toContain(FAKE_HUB_SERVER);
    expect(byId('login-submit').textContent).toContain('Ingresar');
  });

  it('checks the formats before asking the server (7-digit user, 6-digit password)', async () => {
    const fake = await setup({ hubServer: FAKE_HUB_SERVER });
    await login('12345', '123456');
    expect(byId('login-error').dataset.code).toBe('invalid_setting');
    expect(byId('login-error').textContent).toContain(es['login.invalid.user']);
    expect(byId('login-user').getAttribute('aria-invalid')).toBe('true');
    await login('12345678', '123456');
    expect(byId('login-error').textContent).toContain(es['login.invalid.user']);
    await login(AGENT.user, '12a456');
    expect(byId('login-error').textContent).toContain(es['login.invalid.password']);
    expect(byId('login-password').getAttribute('aria-invalid')).toBe('true');
    expect(fake.hub.loginAttempts).toEqual([]);
  });

  it('says the password is wrong, then throttles after five failures with the wait', async () => {
    const fake = await setup({ hubServer: FAKE_HUB_SERVER });
    await login(AGENT.user, '000000');
    expect(byId('login-error').dataset.code).toBe('bad_credentials');
    expect(byId('login-error').textContent).toContain(es['errors.bad_credentials']);
    expect((byId('login-password') as HTMLInputElement).value).toBe('');
    for (let i = 0; i < 4; i += 1) await login(AGENT.user, '000000');
    expect(byId('login-error').dataset.code).toBe('throttled');
    expect(byId('login-error').textContent).toContain(
      es['login.throttledWait'].replace('{wait}', '01:00'),
    );
    expect((byId('login-submit') as HTMLButtonElement).disabled).toBe(true);
    await advance(15_000);
    expect(byId('login-error').textContent).toContain('00:45');
    await advance(45_000);
    expect(byId('login-error').textContent).toContain(es['login.canRetry']);
    expect((byId('login-submit') as HTMLButtonElement).disabled).toBe(false);
    await login(AGENT.user, AGENT.password);
    expect(queryId('login-screen')).toBeNull();
    expect(fake.hub.loginAttempts).toHaveLength(6);
  });

  it('explains an unreachable server and a disabled agent', async () => {
    const fake = await setup({ hubServer: FAKE_HUB_SERVER });
    fake.hub.setReachable(false);
    await login(AGENT.user, AGENT.password);
    expect(byId('login-error').dataset.code).toBe('hub_unreachable');
    expect(byId('login-error').textContent).toContain(es['errors.hub_unreachable']);
    fake.hub.setReachable(true);
    fake.hub.setAgentDisabled(AGENT.user, true);
    await login(AGENT.user, AGENT.password);
    expect(byId('login-error').dataset.code).toBe('agent_disabled');
    expect(byId('login-error').textContent).toContain(es['errors.agent_disabled']);
  });

  it("shows the server's field error for a malformed server address", async () => {
    await setup();
    await fireEvent.click(byId('nav-settings'));
    await fireEvent.click(byId('hub-connect'));
    await settle();
    await login(AGENT.user, AGENT.password, 'hub.example.com');
    expect(byId('login-error').dataset.code).toBe('invalid_setting');
    expect(byId('login-error').textContent).toContain(es['login.invalid.server']);
    expect(byId('login-server').getAttribute('aria-invalid')).toBe('true');
  });

  it('says why a server on another computer needs https://', async () => {
    const fake = await setup();
    await fireEvent.click(byId('nav-settings'));
    await fireEvent.click(byId('hub-connect'));
    await settle();
    // The host refuses plain http:// unless the server is this computer.
    fake.failNext('hubLogin', 'insecure_hub_address');
    await login(AGENT.user, AGENT.password, 'http://hub.example.com');
    expect(byId('login-error').dataset.code).toBe('insecure_hub_address');
    expect(byId('login-error').textContent).toContain(es['errors.insecure_hub_address']);
    expect(byId('login-server').getAttribute('aria-invalid')).toBe('true');
  });

  it('comes back with a notice when the server ends the session', async () => {
    const fake = await setup({ hubServer: FAKE_HUB_SERVER, hubLoggedInAs: AGENT.user });
    expect(queryId('login-screen')).toBeNull();
    fake.hub.expireSession();
    await settle();
    expect(byId('login-error').dataset.code).toBe('session_expired');
    expect(byId('login-error').textContent).toContain(es['errors.session_expired']);
  });

  it('speaks English too', async () => {
    setLanguage('en');
    await setup({ hubServer: FAKE_HUB_SERVER, settings: { language: 'en' } });
    expect(byId('login-screen').textContent).toContain(en['login.title']);
    await login(AGENT.user, '999999');
    expect(byId('login-error').textContent).toContain(en['errors.bad_credentials']);
  });
});

describe('Pausas', () => {
  const signedIn = (extra: FakeOptions = {}) =>
    setup({ hubServer: FAKE_HUB_SERVER, hubLoggedInAs: AGENT.user, ...extra });

  it('pauses with a reason, runs the timer every second, and unpauses', async () => {
    await signedIn();
    await go('pauses');
    expect(queryId('pause-current')).toBeNull();
    const start = Date.now();
    await fireEvent.click(reasonButton('Almuerzo'));
    await settle();
    expect(byId('pause-current').textContent).toBe('Almuerzo');
    expect(byId('pause-timer').textContent?.trim()).toBe('00:00');
    expect(Number(byId('pause-timer').dataset.since)).toBe(start);
    expect(reasonButton('Almuerzo').getAttribute('aria-pressed')).toBe('true');
    expect(byId('agent-state-chip').dataset.state).toBe('paused');
    expect(byId('agent-state-chip').textContent).toContain('En pausa: Almuerzo');
    await advance(1_000);
    expect(byId('pause-timer').textContent?.trim()).toBe('00:01');
    await advance(64_000);
    expect(byId('pause-timer').textContent?.trim()).toBe('01:05');
    await advance(3_600_000);
    expect(byId('pause-timer').textContent?.trim()).toBe('1:01:05');
    await fireEvent.click(byId('unpause'));
    await settle();
    expect(queryId('pause-current')).toBeNull();
    expect(queryId('pause-timer')).toBeNull();
    expect(byId('agent-state-chip').dataset.state).toBe('available');
  });

  it('follows a pause made from another session (agent:state)', async () => {
    const fake = await signedIn();
    await go('pauses');
    expect(byId('agent-state-chip').dataset.state).toBe('available');
    fake.hub.setStateElsewhere('Almuerzo');
    await settle();
    expect(byId('pause-current').textContent).toBe('Almuerzo');
    expect(byId('agent-state-chip').dataset.state).toBe('paused');
    expect(reasonButton('Almuerzo').getAttribute('aria-pressed')).toBe('true');
    fake.hub.setStateElsewhere(null);
    await settle();
    expect(queryId('pause-current')).toBeNull();
    expect(byId('agent-state-chip').dataset.state).toBe('available');
  });

  it('warns when the pause goes over its budget (Baño, 15 min)', async () => {
    await signedIn();
    await go('pauses');
    await fireEvent.click(reasonButton('Baño'));
    await settle();
    await advance(15 * 60_000);
    expect(byId('pause-timer').textContent?.trim()).toBe('15:00');
    expect(queryId('pause-budget-warning')).toBeNull();
    await advance(1_000);
    expect(byId('pause-budget-warning').textContent).toContain('Baño');
    expect(byId('pause-budget-warning').textContent).toContain('15 min');
    // Capacitación has no budget: no warning however long it lasts.
    await fireEvent.click(reasonButton('Capacitación'));
    await settle();
    await advance(5 * 3_600_000);
    expect(queryId('pause-budget-warning')).toBeNull();
  });

  it('shows the error of a refused pause', async () => {
    const fake = await signedIn();
    await go('pauses');
    fake.failNext('agentPause', 'pbx_offline');
    await fireEvent.click(reasonButton('Baño'));
    await settle();
    expect(byId('pause-error').dataset.code).toBe('pbx_offline');
    expect(byId('pause-error').textContent).toContain(es['errors.pbx_offline']);
    expect(queryId('pause-current')).toBeNull();
  });

  it('Salida is yellow with an icon, confirms with what is pending, then logs out', async () => {
    const pending: CallView = {
      id: 'c-pending',
      direction: 'incoming',
      peerNumber: '+50688887777',
      peerDisplayName: null,
      fromNumber: '+50688887777',
      toNumber: null,
      status: 'ended',
      startedAt: Date.now() - 60_000,
      answeredAt: Date.now() - 55_000,
      endedAt: Date.now() - 30_000,
      durationSeconds: 25,
      endReason: 'completed',
      endDetail: null,
      logState: 'pending',
      record: null,
      subject: null,
      comment: null,
      crmWrites: [],
      callerMatches: [],
    };
    const fake = await signedIn({ calls: [pending, { ...pending, id: 'c-2' }] });
    await fake.crmSignIn('salesforce');
    await fake.callAttach('c-2', 'salesforce', 'contact', '0035e00000AbCdEAA1');
    await fake.callLog('c-2', 'Asunto', 'Comentario');
    await go('pauses');
    const salida = reasonButton('Salida');
    expect(salida.dataset.exit).toBe('true');
    expect(salida.classList.contains('exit')).toBe(true);
    expect(salida.querySelector('svg')).toBeTruthy();
    expect(salida.textContent).toContain(es['pauses.exitHint']);
    await fireEvent.click(salida);
    await settle();
    const dialog = byId('exit-confirm');
    expect(within(dialog).getByTestId('exit-pending-calls').textContent).toContain(
      es['exit.pendingCalls'].replace('{count}', '1'),
    );
    expect(within(dialog).getByTestId('exit-pending-writes').dataset.count).toBe('1');
    // Cancel keeps the session.
    await fireEvent.click(within(dialog).getByText(es['dialog.cancel']));
    expect(queryId('exit-confirm')).toBeNull();
    expect((await fake.hubStatus()).loggedIn).toBe(true);

    await fireEvent.click(reasonButton('Salida'));
    await settle();
    await fireEvent.click(byId('exit-logout'));
    await settle();
    expect(byId('login-screen')).toBeTruthy();
    expect(queryId('login-error')).toBeNull();
    const status = await fake.hubStatus();
    expect(status.loggedIn).toBe(false);
    expect(status.server).toBe(FAKE_HUB_SERVER);
  });

  it('shows when the stream to the server is down', async () => {
    const fake = await signedIn();
    await go('pauses');
    expect(queryId('hub-stream-offline')).toBeNull();
    fake.hub.setStreamOnline(false);
    await settle();
    expect(byId('hub-stream-offline').textContent).toContain(es['hub.streamOffline']);
    expect(byId('agent-state-chip').dataset.stream).toBe('offline');
  });
});

describe('Gestión', () => {
  it("shows the agent's day with a bar per pause reason, and no live table", async () => {
    await setup({ hubServer: FAKE_HUB_SERVER, hubLoggedInAs: AGENT.user });
    await go('management');
    expect(byId('day-calls-in').textContent).toBe('14');
    expect(byId('day-calls-out').textContent).toBe('9');
    expect(byId('day-talk').textContent?.trim()).toBe('1 h 13 min');
    const bars = allById('day-pause-bar');
    expect(bars.map((b) => b.dataset.reason)).toEqual(['Baño', 'Almuerzo']);
    const widths = bars.map((b) => Number(b.querySelector('rect')?.getAttribute('width')));
    expect(widths[1]).toBeGreaterThan(widths[0]! * 5);
    expect(byId('day-pauses').textContent).toContain('9 min 00 s');
    expect(queryId('agents-live')).toBeNull();
  });

  it('counts a pause taken now in the day', async () => {
    await setup({ hubServer: FAKE_HUB_SERVER, hubLoggedInAs: AGENT.user });
    await go('pauses');
    await fireEvent.click(reasonButton('Capacitación'));
    await settle();
    await advance(10 * 60_000);
    await fireEvent.click(byId('unpause'));
    await settle();
    await go('management');
    const bar = allById('day-pause-bar').find((b) => b.dataset.reason === 'Capacitación');
    expect(bar?.dataset.seconds).toBe('600');
  });

  it('reads the day and the calls again after a gap in the server stream, and says so', async () => {
    const fake = await setup({ hubServer: FAKE_HUB_SERVER, hubLoggedInAs: AGENT.user });
    await go('management');
    const day = vi.spyOn(fake, 'agentDay');
    const pending = vi.spyOn(fake, 'callsPending');
    expect(queryId('hub-resynced')).toBeNull();
    fake.hub.simulateTruncatedStream();
    await settle();
    expect(byId('hub-resynced').textContent).toContain(es['hub.resynced']);
    expect(day).toHaveBeenCalled();
    expect(pending).toHaveBeenCalled();
    await fireEvent.click(within(byId('hub-resynced')).getByRole('button'));
    await settle();
    expect(queryId('hub-resynced')).toBeNull();
  });

  it('gives supervisors the live table, updated by agents:live', async () => {
    const fake = await setup({ hubServer: FAKE_HUB_SERVER, hubLoggedInAs: SUPERVISOR.user });
    await go('management');
    const rows = () => allById('agent-live-row');
    expect(rows().map((r) => [r.dataset.user, r.dataset.state])).toEqual([
      [AGENT.user, 'logged_out'],
      [SUPERVISOR.user, 'available'],
      ['2345678', 'on_call'],
      ['3456789', 'paused'],
      ['4567890', 'available'],
    ]);
    const jorge = rows()[3]!;
    expect(within(jorge).getByTestId('agent-live-reason').textContent).toBe('Almuerzo');
    expect(within(jorge).getByTestId('agent-live-state').textContent).toContain('En pausa');
    fake.hub.setOtherAgent('4567890', 'paused', 'Baño');
    await settle();
    const maria = rows().find((r) => r.dataset.user === '4567890')!;
    expect(maria.dataset.state).toBe('paused');
    expect(within(maria).getByTestId('agent-live-reason').textContent).toBe('Baño');
  });

  it("keeps the live table in step with the supervisor's own pause, without asking again", async () => {
    const fake = await setup({ hubServer: FAKE_HUB_SERVER, hubLoggedInAs: SUPERVISOR.user });
    await go('management');
    const asked = vi.spyOn(fake, 'agentsLive');
    const mine = () => allById('agent-live-row').find((r) => r.dataset.user === SUPERVISOR.user)!;
    expect(mine().dataset.state).toBe('available');
    fake.hub.setStateElsewhere('Capacitación');
    await settle();
    expect(mine().dataset.state).toBe('paused');
    expect(within(mine()).getByTestId('agent-live-reason').textContent).toBe('Capacitación');
    fake.hub.setOtherAgent('2345678', 'available');
    await settle();
    const luis = allById('agent-live-row').find((r) => r.dataset.user === '2345678')!;
    expect(luis.dataset.state).toBe('available');
    expect(asked).not.toHaveBeenCalled();
  });
});
