import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import App from './App.svelte';
import { es } from './i18n/es';
import { en } from './i18n/en';
import { setLanguage } from './i18n/index.svelte';
import { FakePlatform, type CallView, type FakeOptions } from './platform';

let clock = 0;

/** The CRM fields of a call that has none. */
const NO_CRM = { record: null, subject: null, comment: null, crmWrites: [], callerMatches: [] };

async function setup(options: FakeOptions = {}) {
  const fake = new FakePlatform({ now: () => clock, osLocale: 'es-CR', ...options });
  render(App, { props: { platform: fake } });
  // Loaded once the line status from the fake is shown.
  await waitFor(() =>
    expect(screen.getByTestId('line-status').textContent).not.toContain(es['line.unknown']),
  );
  return fake;
}

const byId = (id: string) => screen.getByTestId(id);
const queryId = (id: string) => screen.queryByTestId(id);

async function go(panel: string) {
  await fireEvent.click(byId(`nav-${panel}`));
  // Pausas and Gestión load on first use (a dynamic import).
  await waitFor(() => expect(byId(`panel-${panel}`)).toBeTruthy());
}

/** Ends an outgoing call to `number` that lasted `seconds` after being answered. */
async function finishedOutgoing(fake: FakePlatform, number: string, seconds: number) {
  await fake.callDial(number);
  const id = (await fake.callsHistory())[0]!.id;
  clock += 3_000;
  fake.simulateAnswer(id);
  clock += seconds * 1000;
  fake.simulateHangup(id);
  await tick();
  return id;
}

beforeEach(() => {
  clock = new Date(2025, 10, 23, 9, 5, 7).getTime();
  setLanguage('es');
});

describe('App shell', () => {
  it('shows every panel of the side bar, each with an icon and a text label', async () => {
    await setup();
    const panels = [
      'calls',
      'dialer',
      'omnichannel',
      'contacts',
      'history',
      'management',
      'pauses',
      'settings',
    ];
    for (const panel of panels) {
      await go(panel);
      expect(byId(`panel-${panel}`)).toBeTruthy();
      expect(byId(`nav-${panel}`).getAttribute('aria-current')).toBe('page');
      expect(byId(`nav-${panel}`).querySelector('svg')).toBeTruthy();
      expect(byId(`nav-${panel}`).textContent?.trim()).not.toBe('');
      const others = panels.filter((p) => p !== panel);
      for (const other of others) expect(queryId(`panel-${other}`)).toBeNull();
    }
    expect(byId('nav-calls').textContent).toContain('Llamadas');
    expect(byId('nav-history').textContent).toContain('Historial');
  });

  it('says plainly which panels are not connected yet', async () => {
    await setup();
    await go('omnichannel');
    const inbox = within(byId('panel-omnichannel')).getByTestId('inbox-unavailable');
    expect(inbox.textContent).toContain(es['inbox.signedOut']);
    // Without a hub, Pausas and Gestión say they need the organization's server.
    for (const panel of ['management', 'pauses']) {
      await go(panel);
      const notice = within(byId(`panel-${panel}`)).getByTestId('not-connected');
      expect(notice.textContent).toContain(es['hub.needsServer']);
    }
    await go('calls');
    expect(queryId('not-connected')).toBeNull();
  });

  it('marks fake data with a visible ribbon', async () => {
    await setup();
    expect(byId('demo-ribbon').textContent).toBe(es['app.demoRibbon']);
  });

  it('shows the phone line state and follows line:status events', async () => {
    const fake = await setup();
    const line = byId('line-status');
    expect(line.dataset.state).toBe('online');
    expect(line.textContent).toContain('Línea telefónica conectada');
    fake.simulateLineStatus({ kind: 'baresip', state: 'offline', detail: 'connection refused' });
    await tick();
    expect(line.dataset.state).toBe('offline');
    expect(line.textContent).toContain('Línea telefónica sin conexión (reintentando)');
    fake.simulateLineStatus({ kind: 'baresip', state: 'connecting', detail: null });
    await tick();
    expect(line.dataset.state).toBe('connecting');
  });

  it('opens the panel asked for by app:navigate', async () => {
    const fake = await setup();
    await go('settings');
    fake.simulateNavigate('history');
    await tick();
    expect(byId('panel-history')).toBeTruthy();
    fake.simulateNavigate('no-such-panel');
    await tick();
    expect(byId('panel-history')).toBeTruthy();
  });
});

describe('Realizar una llamada', () => {
  it('dials what was typed on the pad', async () => {
    const fake = await setup();
    await go('dialer');
    for (const key of ['5', '5', '5', '1', '2', '3', '4'])
      await fireEvent.click(byId(`dial-key-${key}`));
    await fireEvent.click(byId('dial-key-star'));
    await fireEvent.click(byId('dial-key-hash'));
    expect((byId('dial-input') as HTMLInputElement).value).toBe('5551234*#');
    await fireEvent.click(byId('dial-button'));
    await waitFor(() => expect(fake.dialed).toEqual(['5551234*#']));
    expect(queryId('dial-error')).toBeNull();
    // The outgoing call is up: the active call bar shows it with a hang-up button.
    const bar = await screen.findByTestId('active-call');
    expect(bar.textContent).toContain('5551234*#');
    expect(bar.textContent).toContain(es['active.ringing']);
    await fireEvent.click(byId('active-hangup'));
    await waitFor(() => expect(queryId('active-call')).toBeNull());
  });

  it('shows the translated error for input that is not a number', async () => {
    const fake = await setup();
    await go('dialer');
    await fireEvent.input(byId('dial-input'), { target: { value: 'llamar a Ana' } });
    await fireEvent.click(byId('dial-button'));
    const error = await screen.findByTestId('dial-error');
    expect(error.dataset.code).toBe('not_a_phone_number');
    expect(error.textContent).toContain(es['errors.not_a_phone_number']);
    expect(byId('dial-input').getAttribute('aria-invalid')).toBe('true');
    expect(fake.dialed).toEqual(['llamar a Ana']);
    setLanguage('en');
    await tick();
    expect(byId('dial-error').textContent).toContain(en['errors.not_a_phone_number']);
  });

  it('shows the translated error for empty input and for an offline line', async () => {
    const fake = await setup();
    await go('dialer');
    await fireEvent.click(byId('dial-button'));
    expect((await screen.findByTestId('dial-error')).dataset.code).toBe('empty');
    fake.simulateLineStatus({ kind: 'baresip', state: 'offline', detail: null });
    await fireEvent.input(byId('dial-input'), { target: { value: '+50640004000' } });
    await fireEvent.click(byId('dial-button'));
    await waitFor(() => expect(byId('dial-error').dataset.code).toBe('line_offline'));
    expect(byId('dial-error').textContent).toContain(es['errors.line_offline']);
  });

  it('shows a tel: link that failed in another program (dial:failed)', async () => {
    const fake = await setup();
    fake.simulateDialFailed('unsupported_scheme');
    await tick();
    expect(byId('panel-dialer')).toBeTruthy();
    const error = byId('dial-error');
    expect(error.dataset.code).toBe('unsupported_scheme');
    expect(error.textContent).toContain(es['dialer.linkFailed']);
    expect(error.textContent).toContain(es['errors.unsupported_scheme']);
  });

  it('shows a generic text for an error code it does not know', async () => {
    const fake = await setup();
    await go('dialer');
    fake.failNext('callDial', 'brand_new_code');
    await fireEvent.input(byId('dial-input'), { target: { value: '2001' } });
    await fireEvent.click(byId('dial-button'));
    const error = await screen.findByTestId('dial-error');
    expect(error.textContent).toContain('Ocurrió un error inesperado (brand_new_code).');
  });
});

describe('incoming call', () => {
  it('shows the card while ringing; answering shows the active call, hanging up lists it', async () => {
    const fake = await setup();
    expect(queryId('incoming-card')).toBeNull();
    const call = fake.simulateIncoming('+50688887777', 'Ana Rodríguez');
    await tick();
    const card = byId('incoming-card');
    expect(card.dataset.callId).toBe(call.id);
    expect(byId('incoming-number').textContent).toBe('+50688887777');
    expect(byId('incoming-name').textContent?.trim()).toBe('Ana Rodríguez');

    clock += 2_000;
    await fireEvent.click(byId('incoming-answer'));
    await waitFor(() => expect(queryId('incoming-card')).toBeNull());
    expect(fake.call(call.id)?.status).toBe('answered');
    const bar = byId('active-call');
    expect(bar.textContent).toContain('+50688887777');
    expect(bar.textContent).toContain(es['active.connected']);

    clock += 45_000;
    await fireEvent.click(byId('active-hangup'));
    await waitFor(() => expect(queryId('active-call')).toBeNull());
    const cards = screen.getAllByTestId('call-card');
    expect(cards).toHaveLength(1);
    expect(cards[0]!.dataset.direction).toBe('incoming');
    expect(cards[0]!.dataset.duration).toBe('45');
    expect(within(cards[0]!).getByTestId('call-direction').textContent).toContain('Entrante');
    expect(within(cards[0]!).getByTestId('call-name').textContent).toBe('Ana Rodríguez');
  });

  it('rejecting removes the card without answering', async () => {
    const fake = await setup();
    const call = fake.simulateIncoming('2001');
    await tick();
    expect(byId('incoming-name').textContent?.trim()).toBe(es['incoming.unknownName']);
    await fireEvent.click(byId('incoming-reject'));
    await waitFor(() => expect(queryId('incoming-card')).toBeNull());
    expect(fake.call(call.id)).toMatchObject({ status: 'ended', endReason: 'rejected' });
    expect(queryId('active-call')).toBeNull();
  });

  it('shows the translated error when answering fails', async () => {
    const fake = await setup();
    fake.simulateIncoming('2001');
    await tick();
    fake.failNext('callAnswer', 'line_timeout');
    await fireEvent.click(byId('incoming-answer'));
    const error = await screen.findByTestId('incoming-error');
    expect(error.textContent).toContain(es['errors.line_timeout']);
    expect(byId('incoming-card')).toBeTruthy();
  });
});

describe('Llamadas', () => {
  it('lists an ended outgoing call as Saliente with date, time and duration', async () => {
    const fake = await setup();
    expect(byId('calls-empty').textContent).toBe(es['calls.empty']);
    const started = clock;
    const id = await finishedOutgoing(fake, '+50640004000', 62);
    const card = byId('call-card');
    expect(card.dataset.callId).toBe(id);
    expect(card.dataset.direction).toBe('outgoing');
    expect(card.dataset.duration).toBe('62');
    const inCard = within(card);
    expect(inCard.getByTestId('call-direction').textContent).toContain('Saliente');
    expect(inCard.getByTestId('call-direction').querySelector('svg')).toBeTruthy();
    expect(inCard.getByTestId('call-duration').textContent).toBe('62 s');
    expect(inCard.getByTestId('call-number').textContent?.trim()).toBe('+50640004000');
    expect(inCard.getByTestId('call-time').textContent).toBe('09:05:07');
    const d = new Date(started);
    const dd = String(d.getDate()).padStart(2, '0');
    const mm = String(d.getMonth() + 1).padStart(2, '0');
    expect(inCard.getByTestId('call-date').textContent).toBe(`${dd}/${mm}/${d.getFullYear()}`);
    expect(queryId('calls-empty')).toBeNull();
  });

  it('shows the newest call first', async () => {
    const fake = await setup();
    const first = await finishedOutgoing(fake, '1001', 1);
    clock += 60_000;
    const second = await finishedOutgoing(fake, '1002', 2);
    const ids = screen.getAllByTestId('call-card').map((c) => c.dataset.callId);
    expect(ids).toEqual([second, first]);
  });

  it('dials the number when it is clicked', async () => {
    const fake = await setup();
    await finishedOutgoing(fake, '+50640004000', 10);
    await fireEvent.click(byId('call-number'));
    await waitFor(() => expect(fake.dialed).toEqual(['+50640004000', '+50640004000']));
    expect(await screen.findByTestId('active-call')).toBeTruthy();
  });

  it('Ignorar removes the call from Llamadas but keeps it in Historial', async () => {
    const fake = await setup();
    const id = await finishedOutgoing(fake, '+50640004000', 62);
    const ignore = byId('call-ignore');
    expect(ignore.getAttribute('aria-label')).toContain('Ignorar');
    expect(ignore.textContent).toContain('Ignorar');
    await fireEvent.click(ignore);
    await waitFor(() => expect(queryId('call-card')).toBeNull());
    expect(fake.call(id)?.logState).toBe('ignored');
    expect(byId('calls-empty')).toBeTruthy();

    await go('history');
    const row = byId('history-row');
    expect(row.dataset.callId).toBe(id);
    expect(row.dataset.direction).toBe('outgoing');
    expect(row.dataset.duration).toBe('62');
    expect(within(row).getByTestId('history-to').textContent?.trim()).toBe('+50640004000');
    // No CRM record attached: nothing to open.
    expect(within(row).queryByTestId('history-view')).toBeNull();
  });

  it('shows calls that existed before the window opened', async () => {
    const started = clock - 3_600_000;
    await setup({
      calls: [
        {
          id: 'old-1',
          direction: 'incoming',
          peerNumber: '2001',
          peerDisplayName: null,
          fromNumber: '2001',
          toNumber: '2002',
          status: 'ended',
          startedAt: started,
          answeredAt: started + 1000,
          endedAt: started + 31_000,
          durationSeconds: 30,
          endReason: 'completed',
          endDetail: null,
          logState: 'pending',
          ...NO_CRM,
        },
      ],
    });
    await waitFor(() => expect(byId('call-card').dataset.callId).toBe('old-1'));
    await go('history');
    expect(within(byId('history-row')).getByTestId('history-from').textContent?.trim()).toBe(
      '2001',
    );
    expect(within(byId('history-row')).getByTestId('history-to').textContent?.trim()).toBe('2002');
  });
});

describe('Configuración', () => {
  it('switching the language flips the labels and <html lang>, and is stored', async () => {
    const fake = await setup();
    expect(document.documentElement.lang).toBe('es');
    await go('settings');
    const select = (await screen.findByTestId('settings-language')) as HTMLSelectElement;
    await fireEvent.change(select, { target: { value: 'en' } });
    await waitFor(() => expect(byId('nav-calls').textContent).toContain('Calls'));
    expect(byId('nav-history').textContent).toContain('History');
    expect(document.documentElement.lang).toBe('en');
    expect((await fake.settingsGet()).language).toBe('en');
    await fireEvent.change(select, { target: { value: 'es' } });
    await waitFor(() => expect(byId('nav-calls').textContent).toContain('Llamadas'));
    expect(document.documentElement.lang).toBe('es');
  });

  it('auto follows the OS locale', async () => {
    await setup({ osLocale: 'en-US', settings: { language: 'auto' } });
    await waitFor(() => expect(document.documentElement.lang).toBe('en'));
    expect(byId('nav-settings').textContent).toContain('Settings');
  });

  it('saves the phone line settings', async () => {
    const fake = await setup();
    await go('settings');
    await screen.findByTestId('settings-line-kind');
    await fireEvent.change(byId('settings-line-kind'), { target: { value: 'hand_off' } });
    await fireEvent.change(byId('settings-handoff-mode'), { target: { value: 'program' } });
    await fireEvent.input(byId('settings-handoff-program'), {
      target: { value: '/usr/bin/linphone' },
    });
    await fireEvent.input(byId('settings-ctrl-address'), { target: { value: '127.0.0.1:5555' } });
    await fireEvent.input(byId('settings-country'), { target: { value: 'mx' } });
    await fireEvent.click(byId('settings-save'));
    await screen.findByTestId('settings-saved');
    expect(await fake.settingsGet()).toMatchObject({
      lineKind: 'hand_off',
      handOff: { mode: 'program', program: '/usr/bin/linphone' },
      baresip: { ctrlAddress: '127.0.0.1:5555' },
      defaultCountry: 'MX',
    });
    expect((byId('settings-country') as HTMLInputElement).value).toBe('MX');
  });

  it('shows an inline error for a country that is not two letters, and does not save', async () => {
    const fake = await setup();
    await go('settings');
    await screen.findByTestId('settings-country');
    await fireEvent.input(byId('settings-country'), { target: { value: 'C1' } });
    await fireEvent.click(byId('settings-save'));
    const error = await screen.findByTestId('settings-country-error');
    expect(error.textContent).toContain(es['settings.countryInvalid']);
    expect(byId('settings-country').getAttribute('aria-invalid')).toBe('true');
    expect((await fake.settingsGet()).defaultCountry).toBe('CR');
  });

  it('shows the translated invalid_setting error from the app', async () => {
    const fake = await setup();
    await go('settings');
    await screen.findByTestId('settings-save');
    fake.failNext('settingsSave', 'invalid_setting');
    await fireEvent.click(byId('settings-save'));
    const error = await screen.findByTestId('settings-error');
    expect(error.dataset.code).toBe('invalid_setting');
    expect(error.textContent).toContain(es['errors.invalid_setting']);
  });

  it('shows an invalid_setting from the app under the field it names, and focuses it', async () => {
    const fake = await setup();
    await go('settings');
    await screen.findByTestId('settings-ctrl-address');
    await fireEvent.input(byId('settings-ctrl-address'), { target: { value: 'localhost' } });
    await fireEvent.click(byId('settings-save'));
    const error = await screen.findByTestId('settings-baresipCtrlAddress-error');
    expect(error.dataset.code).toBe('invalid_setting');
    expect(error.textContent).toContain(es['errors.invalid_setting']);
    expect(error.textContent).toContain(es['settings.invalid.baresipCtrlAddress']);
    // Under its own input, not in the general error slot.
    expect(error.closest('.field')?.contains(byId('settings-ctrl-address'))).toBe(true);
    expect(queryId('settings-error')).toBeNull();
    const input = byId('settings-ctrl-address');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(input.getAttribute('aria-describedby')).toBe('settings-baresipCtrlAddress-error');
    await waitFor(() => expect(document.activeElement).toBe(input));
    expect((await fake.settingsGet()).baresip.ctrlAddress).toBe('127.0.0.1:4444');

    setLanguage('en');
    await tick();
    expect(byId('settings-baresipCtrlAddress-error').textContent).toContain(
      en['errors.invalid_setting'],
    );

    // Editing the field clears its error; a valid value saves.
    await fireEvent.input(input, { target: { value: '127.0.0.1:4445' } });
    expect(queryId('settings-baresipCtrlAddress-error')).toBeNull();
    expect(input.getAttribute('aria-invalid')).toBeNull();
    await fireEvent.click(byId('settings-save'));
    await screen.findByTestId('settings-saved');
    expect((await fake.settingsGet()).baresip.ctrlAddress).toBe('127.0.0.1:4445');
  });

  it.each([
    ['defaultCountry', 'settings-country'],
    ['baresipCtrlAddress', 'settings-ctrl-address'],
    ['baresipSipDomain', 'settings-sip-domain'],
    ['handOffUriTemplate', 'settings-handoff-uri'],
    ['handOffProgram', 'settings-handoff-program'],
  ] as const)('puts an invalid_setting about %s under %s', async (field, input) => {
    const fake = await setup();
    await go('settings');
    await screen.findByTestId('settings-save');
    fake.failNext('settingsSave', 'invalid_setting', field);
    await fireEvent.click(byId('settings-save'));
    const error = await screen.findByTestId(`settings-${field}-error`);
    expect(error.dataset.code).toBe('invalid_setting');
    expect(error.textContent).toContain(es['errors.invalid_setting']);
    expect(error.textContent).toContain(es[`settings.invalid.${field}`]);
    expect(error.closest('.field')?.contains(byId(input))).toBe(true);
    expect(byId(input).getAttribute('aria-invalid')).toBe('true');
    expect(queryId('settings-error')).toBeNull();
    expect(screen.getAllByRole('alert').filter((e) => e.dataset.code)).toHaveLength(1);
  });

  it('keeps the literal {number} in the link template hint', async () => {
    const fake = await setup();
    await go('settings');
    await screen.findByTestId('settings-save');
    fake.failNext('settingsSave', 'invalid_setting', 'handOffUriTemplate');
    await fireEvent.click(byId('settings-save'));
    const error = await screen.findByTestId('settings-handOffUriTemplate-error');
    expect(error.textContent).toContain('{number}');
    expect(error.textContent).toContain('sip:{number}');
  });

  it('shows an error about a field it does not know below Salvar', async () => {
    const fake = await setup();
    await go('settings');
    await screen.findByTestId('settings-save');
    fake.failNext('settingsSave', 'invalid_setting', 'somethingNew');
    await fireEvent.click(byId('settings-save'));
    const error = await screen.findByTestId('settings-error');
    expect(error.dataset.code).toBe('invalid_setting');
    expect(error.textContent).toContain(es['errors.invalid_setting']);
    expect(queryId('settings-somethingNew-error')).toBeNull();
  });

  it('checks and registers the tel:/callto: handler', async () => {
    await setup({ handlerRegistered: false });
    await go('settings');
    const status = await screen.findByTestId('handler-status');
    expect(status.dataset.registered).toBe('false');
    expect(status.textContent).toContain('tel:');
    expect(status.textContent).toContain('callto:');
    const register = byId('handler-register');
    expect(register.textContent).toContain('Registrar Enlace como aplicación para tel: y callto:');
    await fireEvent.click(register);
    await waitFor(() => expect(byId('handler-status').dataset.registered).toBe('true'));
    expect(byId('handler-status').textContent).toContain(es['settings.handlerRegistered']);
  });
});

describe('the first-run offer to handle tel: links', () => {
  beforeEach(() => localStorage.removeItem('enlace.handlerOffer.dismissed'));

  it('offers to become the tel:/callto: app and goes away once it is', async () => {
    const fake = await setup({ handlerRegistered: false });
    const offer = await screen.findByTestId('handler-offer');
    expect(offer.textContent).toContain(es['handlerOffer.text']);
    await fireEvent.click(byId('handler-offer-register'));
    await waitFor(() => expect(queryId('handler-offer')).toBeNull());
    const status = await fake.handlerStatus();
    expect(status.schemes.every((s) => s.registered)).toBe(true);
  });

  it('is not shown when Enlace already handles the links', async () => {
    await setup({ handlerRegistered: true });
    await tick();
    await new Promise((r) => setTimeout(r, 0));
    expect(queryId('handler-offer')).toBeNull();
  });

  it('remembers "Ahora no" on this computer', async () => {
    await setup({ handlerRegistered: false });
    await screen.findByTestId('handler-offer');
    await fireEvent.click(byId('handler-offer-not-now'));
    expect(queryId('handler-offer')).toBeNull();
    expect(localStorage.getItem('enlace.handlerOffer.dismissed')).toBe('1');
  });
});

describe('start-up problems', () => {
  const problems = [
    'The local database could not be opened (disk full); running from memory: calls will not be kept after Enlace closes.',
    'settings: the settings file could not be read; defaults are in use.',
  ];

  it('shows no banner when the app started cleanly', async () => {
    await setup();
    expect(queryId('startup-problems')).toBeNull();
  });

  it('shows the problems at the top of the main area under a translated heading', async () => {
    await setup({ problems });
    const banner = await screen.findByTestId('startup-problems');
    expect(banner.closest('main')).toBe(document.getElementById('main'));
    expect(document.getElementById('main')?.firstElementChild).toBe(banner);
    expect(banner.textContent).toContain(es['app.startupProblems']);
    expect(es['app.startupProblems']).toBe('Enlace arrancó con problemas');
    const lines = within(banner).getAllByTestId('startup-problem');
    expect(lines.map((l) => l.textContent)).toEqual(problems);
    setLanguage('en');
    await tick();
    expect(banner.textContent).toContain('Enlace started with problems');
    // The lines are shown as the app gave them, whatever the language.
    expect(within(banner).getAllByTestId('startup-problem')[1]!.textContent).toBe(problems[1]);
  });

  it('can be dismissed and stays dismissed across panels', async () => {
    await setup({ problems });
    await screen.findByTestId('startup-problems');
    const dismiss = byId('startup-problems-dismiss');
    expect(dismiss.getAttribute('aria-label')).toBe(es['app.startupProblemsDismiss']);
    await fireEvent.click(dismiss);
    expect(queryId('startup-problems')).toBeNull();
    await go('history');
    await go('calls');
    expect(queryId('startup-problems')).toBeNull();
  });
});

describe('window opened mid-call', () => {
  /** Like the real app: the log holds ended calls only; live calls come from `calls_open`. */
  class StoreOnlyFake extends FakePlatform {
    override async callsHistory(): Promise<CallView[]> {
      return (await super.callsHistory()).filter((c) => c.status === 'ended');
    }
  }

  function liveCall(id: string, direction: CallView['direction'], status: CallView['status']) {
    return {
      id,
      direction,
      peerNumber: '+50688887777',
      peerDisplayName: 'Ana Rodríguez',
      fromNumber: direction === 'incoming' ? '+50688887777' : null,
      toNumber: direction === 'outgoing' ? '+50688887777' : null,
      status,
      startedAt: clock - 5_000,
      answeredAt: status === 'answered' ? clock - 3_000 : null,
      endedAt: null,
      durationSeconds: 0,
      endReason: null,
      endDetail: null,
      logState: 'pending',
      ...NO_CRM,
    } satisfies CallView;
  }

  async function open(call: CallView) {
    const fake = new StoreOnlyFake({ now: () => clock, osLocale: 'es-CR', calls: [call] });
    expect(await fake.callsHistory()).toEqual([]);
    render(App, { props: { platform: fake } });
    return fake;
  }

  it('shows the incoming card for a call that is already ringing', async () => {
    await open(liveCall('live-1', 'incoming', 'ringing'));
    const card = await screen.findByTestId('incoming-card');
    expect(card.dataset.callId).toBe('live-1');
    expect(byId('incoming-number').textContent).toBe('+50688887777');
  });

  it('shows the active-call bar for a call that is already up', async () => {
    const fake = await open(liveCall('live-2', 'incoming', 'answered'));
    const bar = await screen.findByTestId('active-call');
    expect(bar.textContent).toContain(es['active.connected']);
    await fireEvent.click(byId('active-hangup'));
    await waitFor(() => expect(queryId('active-call')).toBeNull());
    expect(fake.call('live-2')?.status).toBe('ended');
  });
});
