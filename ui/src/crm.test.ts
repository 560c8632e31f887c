// The CRM parts of the UI against the in-memory fake.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it } from 'vitest';
import App from './App.svelte';
import { en } from './i18n/en';
import { es } from './i18n/es';
import { setLanguage } from './i18n/index.svelte';
import { FAKE_SALESFORCE_USER, FakePlatform, type FakeOptions } from './platform';

let clock = 0;

async function setup(options: FakeOptions = {}) {
  const fake = new FakePlatform({ now: () => clock, osLocale: 'es-CR', ...options });
  render(App, { props: { platform: fake } });
  await waitFor(() =>
    expect(screen.getByTestId('line-status').textContent).not.toContain(es['line.unknown']),
  );
  return fake;
}

const byId = (id: string) => screen.getByTestId(id);
const queryId = (id: string) => screen.queryByTestId(id);
const go = (panel: string) => fireEvent.click(byId(`nav-${panel}`));
const type = (id: string, value: string) => fireEvent.input(byId(id), { target: { value } });

/** An outgoing call to `number` that was answered and ended; returns its id. */
async function endedCall(fake: FakePlatform, number: string) {
  await fake.callDial(number);
  const id = (await fake.callsHistory())[0]!.id;
  clock += 2_000;
  fake.simulateAnswer(id);
  clock += 30_000;
  fake.simulateHangup(id);
  await tick();
  return id;
}

/** Attaches the only card's call to the first search result for `query`. */
async function attachBySearch(query: string) {
  await fireEvent.click(byId('call-search'));
  await type('search-input', query);
  await fireEvent.click(byId('search-submit'));
  const [first] = await screen.findAllByTestId('search-result');
  await fireEvent.click(first!);
  await waitFor(() => expect(queryId('search-dialog')).toBeNull());
}

beforeEach(() => {
  clock = new Date(2025, 10, 23, 9, 5, 7).getTime();
  setLanguage('es');
});

describe('Llamadas without a linked CRM', () => {
  it('disables the CRM buttons and says to link the CRM in Configuración', async () => {
    const fake = await setup();
    await endedCall(fake, '+50688887777');
    for (const id of [
      'call-search',
      'call-new-contact',
      'call-subject',
      'call-comment',
      'call-save',
    ])
      expect((byId(id) as HTMLButtonElement).disabled, id).toBe(true);
    const notice = byId('crm-not-linked');
    expect(notice.textContent).toContain(es['crm.notLinkedExplain']);
    expect(byId('call-search').getAttribute('aria-describedby')).toBe('crm-not-linked');
    await fireEvent.click(within(notice).getByRole('button'));
    expect(byId('panel-settings')).toBeTruthy();
  });
});

describe('Buscar', () => {
  it('finds records, attaches the picked one and enables Asunto / Comentario', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    const id = await endedCall(fake, '+50688887777');
    const search = byId('call-search');
    expect(search.classList).toContain('btn-primary');
    expect(search.querySelector('svg')).toBeTruthy();
    expect(search.textContent).toContain('Buscar');
    expect((byId('call-subject') as HTMLInputElement).disabled).toBe(true);

    await fireEvent.click(search);
    const dialog = byId('search-dialog');
    expect(dialog.getAttribute('role')).toBe('dialog');
    expect((byId('search-input') as HTMLInputElement).value).toBe('+50688887777');
    await fireEvent.click(byId('search-submit'));
    const results = await screen.findAllByTestId('search-result');
    expect(results.map((r) => r.dataset.recordId)).toEqual(['0035e00000AbCdEAA1']);
    expect(results[0]!.textContent).toContain('Ana Rodríguez');
    expect(results[0]!.textContent).toContain(es['kind.contact']);
    await fireEvent.click(results[0]!);

    await waitFor(() => expect(queryId('search-dialog')).toBeNull());
    expect(byId('call-record-name').textContent).toBe('Ana Rodríguez');
    expect(fake.call(id)?.record).toEqual({
      crm: 'salesforce',
      kind: 'contact',
      id: '0035e00000AbCdEAA1',
      name: 'Ana Rodríguez',
    });
    expect((byId('call-subject') as HTMLInputElement).disabled).toBe(false);
    expect((byId('call-comment') as HTMLTextAreaElement).disabled).toBe(false);
  });

  it('says "No se encontraron resultados", and asks for 2 characters', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    await endedCall(fake, '5551234');
    await fireEvent.click(byId('call-search'));
    await type('search-input', 'Nadie Conocido');
    await fireEvent.click(byId('search-submit'));
    expect((await screen.findByTestId('search-empty')).textContent).toBe(
      'No se encontraron resultados',
    );
    expect(queryId('search-result')).toBeNull();
    await type('search-input', 'a');
    await fireEvent.click(byId('search-submit'));
    const error = await screen.findByTestId('search-error');
    expect(error.dataset.code).toBe('search_too_short');
    expect(error.textContent).toContain(es['errors.search_too_short']);
    // Lead found by company-less name, in English.
    setLanguage('en');
    await type('search-input', 'lucia');
    await fireEvent.click(byId('search-submit'));
    const [lead] = await screen.findAllByTestId('search-result');
    expect(lead!.textContent).toContain('Lucía Fernández');
    expect(lead!.textContent).toContain(en['kind.lead']);
    await fireEvent.keyDown(byId('search-dialog'), { key: 'Escape' });
    expect(queryId('search-dialog')).toBeNull();
  });
});

describe('Nuevo contacto', () => {
  it('shows a missing Compañía of a Lead under Compañía, then creates the record', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    const id = await endedCall(fake, '+50622223333');
    const before = fake.crmContacts().length;
    const button = byId('call-new-contact');
    expect(button.classList).toContain('btn-dark');
    expect(button.textContent).toContain('Nuevo contacto');
    await fireEvent.click(button);
    expect(byId('new-contact-form')).toBeTruthy();
    expect(queryId('new-contact-company')).toBeNull();
    expect((byId('new-contact-phone') as HTMLInputElement).value).toBe('+50622223333');

    await fireEvent.change(byId('new-contact-kind'), { target: { value: 'lead' } });
    await type('new-contact-first-name', 'Sofía');
    await type('new-contact-last-name', 'Quesada');
    await type('new-contact-email', 'sofia@quesada.example');
    await fireEvent.click(byId('new-contact-save'));

    const error = await screen.findByTestId('new-contact-error-company');
    expect(error.dataset.code).toBe('crm_invalid_field');
    expect(error.textContent).toContain(es['errors.crm_invalid_field']);
    expect(error.closest('.field')?.contains(byId('new-contact-company'))).toBe(true);
    expect(error.closest('.field')?.textContent).toContain('Compañía');
    expect(byId('new-contact-company').getAttribute('aria-invalid')).toBe('true');
    await waitFor(() => expect(document.activeElement).toBe(byId('new-contact-company')));
    expect(queryId('new-contact-error-last_name')).toBeNull();
    expect(fake.crmContacts()).toHaveLength(before);

    await type('new-contact-company', 'Quesada y Asociados');
    expect(queryId('new-contact-error-company')).toBeNull();
    await fireEvent.click(byId('new-contact-save'));
    await waitFor(() => expect(queryId('new-contact-form')).toBeNull());
    expect(byId('call-record-name').textContent).toBe('Sofía Quesada');
    expect(byId('call-crm-state').dataset.state).toBe('pending');
    expect(byId('call-crm-state').textContent).toContain('Pendiente');

    fake.deliverCrmWrites();
    await tick();
    expect(byId('call-crm-state').dataset.state).toBe('delivered');
    const created = fake.crmContacts().find((c) => c.lastName === 'Quesada');
    expect(created).toMatchObject({ kind: 'lead', company: 'Quesada y Asociados' });
    expect(fake.call(id)?.record?.id).toBe(created?.id);
  });

  it('offers the existing record when the CRM refuses a duplicate, and attaches the call to it', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    const id = await endedCall(fake, '+50622224444');
    await fireEvent.click(byId('call-new-contact'));
    await type('new-contact-first-name', 'Ana');
    await type('new-contact-last-name', 'Rodríguez');
    await type('new-contact-email', 'ana@example.com');
    await fireEvent.click(byId('new-contact-save'));
    await waitFor(() => expect(queryId('new-contact-form')).toBeNull());
    const before = fake.crmContacts().length;

    const existing = { kind: 'lead' as const, id: '00Q5e00000JrRmzEAB' };
    fake.failNextCrmWrite('crm_duplicate', 'email', existing);
    fake.deliverCrmWrites();
    await tick();
    expect(byId('call-crm-state').dataset.state).toBe('needs_attention');
    expect(byId('call-crm-error').textContent).toContain(es['errors.crm_duplicate']);
    const attach = byId('call-crm-use-existing');
    expect(attach.textContent).toContain(es['crmWrite.useExistingLead']);
    expect(attach.dataset.recordId).toBe(existing.id);

    await fireEvent.click(attach);
    await waitFor(() => expect(byId('call-crm-state').dataset.state).toBe('delivered'));
    expect(queryId('call-crm-use-existing')).toBeNull();
    expect(fake.call(id)?.record).toMatchObject({ kind: 'lead', id: existing.id });
    expect(fake.crmContacts()).toHaveLength(before);
  });

  it('offers nothing to attach when the duplicate named no record', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    await endedCall(fake, '+50622225555');
    await fireEvent.click(byId('call-new-contact'));
    await type('new-contact-last-name', 'Mora');
    await fireEvent.click(byId('new-contact-save'));
    await waitFor(() => expect(queryId('new-contact-form')).toBeNull());
    fake.failNextCrmWrite('crm_duplicate', 'email');
    fake.deliverCrmWrites();
    await tick();
    expect(byId('call-crm-state').dataset.state).toBe('needs_attention');
    expect(queryId('call-crm-use-existing')).toBeNull();
    setLanguage('en');
    await tick();
    expect(byId('call-crm-error').textContent).toContain(en['errors.crm_duplicate']);
  });

  it('shows a missing Apellido under Apellido', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    await endedCall(fake, '2001');
    await fireEvent.click(byId('call-new-contact'));
    await fireEvent.click(byId('new-contact-save'));
    const error = await screen.findByTestId('new-contact-error-last_name');
    expect(error.closest('.field')?.contains(byId('new-contact-last-name'))).toBe(true);
  });
});

describe('Salvar (log the call)', () => {
  it('shows the write state: Pendiente → Enviando → Enviado', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    const id = await endedCall(fake, '+50688887777');
    await attachBySearch('+50688887777');
    expect(queryId('call-crm-state')).toBeNull();
    await type('call-subject', 'Seguimiento de pedido');
    await type('call-comment', 'Pide factura electrónica');
    await fireEvent.click(byId('call-save'));

    const state = await screen.findByTestId('call-crm-state');
    expect(state.dataset.state).toBe('pending');
    expect(state.textContent).toContain('Pendiente');
    expect(state.querySelector('svg')).toBeTruthy();
    expect(fake.call(id)).toMatchObject({
      logState: 'logged',
      subject: 'Seguimiento de pedido',
      comment: 'Pide factura electrónica',
    });
    // The logged card stays to show where the write is; it no longer counts as to do.
    expect(byId('call-card').dataset.callId).toBe(id);
    expect(queryId('calls-badge')).toBeNull();

    fake.advanceCrmWrites();
    await tick();
    expect(byId('call-crm-state').dataset.state).toBe('sending');
    expect(byId('call-crm-state').textContent).toContain('Enviando');
    fake.advanceCrmWrites();
    await tick();
    expect(byId('call-crm-state').dataset.state).toBe('delivered');
    expect(byId('call-crm-state').textContent).toContain('Enviado');
    expect(queryId('call-crm-retry')).toBeNull();
  });

  it('shows Requiere atención with the error, and Reintentar sends it again', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    await endedCall(fake, '+50688887777');
    await attachBySearch('Ana');
    await fireEvent.click(byId('call-save'));
    fake.failNextCrmWrite('crm_no_permission');
    fake.deliverCrmWrites();
    await tick();
    expect(byId('call-crm-state').dataset.state).toBe('needs_attention');
    expect(byId('call-crm-state').textContent).toContain('Requiere atención');
    expect(byId('call-crm-error').textContent).toContain(es['errors.crm_no_permission']);
    expect(byId('calls-badge').textContent).toBe('1');

    await fireEvent.click(byId('call-crm-retry'));
    await waitFor(() => expect(byId('call-crm-state').dataset.state).toBe('pending'));
    fake.deliverCrmWrites();
    await tick();
    expect(byId('call-crm-state').dataset.state).toBe('delivered');
    expect(queryId('call-crm-error')).toBeNull();
  });
});

describe('A log whose record was deleted', () => {
  it('offers to choose another record, then Reintentar sends the log there', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    const id = await endedCall(fake, '+50688887777');
    await attachBySearch('Ana');
    await fireEvent.click(byId('call-save'));
    fake.failNextCrmWrite('crm_record_deleted');
    fake.deliverCrmWrites();
    await tick();
    expect(byId('call-crm-error').textContent).toContain(es['errors.crm_record_deleted']);
    expect(queryId('call-crm-use-existing')).toBeNull();
    await fireEvent.click(byId('call-crm-choose'));
    await type('search-input', 'Jorge');
    await fireEvent.click(byId('search-submit'));
    const [jorge] = await screen.findAllByTestId('search-result');
    await fireEvent.click(jorge!);
    await waitFor(() => expect(queryId('search-dialog')).toBeNull());
    expect(fake.call(id)?.record?.id).toBe('00Q5e00000JrRmzEAB');
    await fireEvent.click(byId('call-crm-retry'));
    await waitFor(() => expect(byId('call-crm-state').dataset.state).toBe('pending'));
    fake.deliverCrmWrites();
    await tick();
    expect(byId('call-crm-state').dataset.state).toBe('delivered');
  });

  it('says an endpoint the CRM does not offer is a configuration problem, with no chooser', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    await endedCall(fake, '+50688887777');
    await attachBySearch('Ana');
    await fireEvent.click(byId('call-save'));
    fake.failNextCrmWrite('crm_endpoint_not_found');
    fake.deliverCrmWrites();
    await tick();
    expect(byId('call-crm-error').textContent).toContain(es['errors.crm_endpoint_not_found']);
    expect(queryId('call-crm-choose')).toBeNull();
  });
});

describe('Configuración: CRM', () => {
  it('shows "Credenciales correctas" in green (with an icon) for a linked CRM', async () => {
    await setup({ crmLinked: ['salesforce'] });
    await go('settings');
    const state = await screen.findByTestId('crm-state-salesforce');
    expect(state.dataset.state).toBe('ok');
    expect(state.textContent?.trim()).toBe('Credenciales correctas');
    expect(state.querySelector('svg')).toBeTruthy();
    expect(byId('crm-account-salesforce').textContent).toBe('agente@empresa.example');
    expect(byId('crm-state-zoho').dataset.state).toBe('not_linked');
    expect(queryId('crm-unlink-zoho')).toBeNull();
    expect(queryId('keyring-problem')).toBeNull();

    await fireEvent.click(byId('crm-unlink-salesforce'));
    await waitFor(() => expect(byId('crm-state-salesforce').dataset.state).toBe('not_linked'));
    expect(byId('crm-account-salesforce').textContent).toBe(es['crmLink.noAccount']);
  });

  it('saves the Zoho settings before the browser sign-in and shows the token expiry', async () => {
    const fake = await setup();
    await go('settings');
    await screen.findByTestId('crm-zoho');
    await fireEvent.change(byId('settings-zoho-accounts-server'), {
      target: { value: 'https://accounts.zoho.eu' },
    });
    await type('settings-zoho-client-id', '1000.ABCDEF');
    await type('settings-zoho-client-secret', 's3cret');
    expect((byId('settings-zoho-client-secret') as HTMLInputElement).type).toBe('password');
    await fireEvent.click(byId('crm-sign-in-zoho'));
    await waitFor(() => expect(byId('crm-state-zoho').dataset.state).toBe('ok'));
    expect(fake.signIns).toEqual(['zoho']);
    // The secret went to the host's keyring; the settings the UI gets back only say it is set.
    expect(fake.zohoClientSecret).toBe('s3cret');
    const zoho = (await fake.settingsGet()).zoho;
    expect(zoho).toEqual({
      accountsServer: 'https://accounts.zoho.eu',
      clientId: '1000.ABCDEF',
      clientSecretSet: true,
      redirectPort: 8765,
    });
    expect(JSON.stringify(zoho)).not.toContain('s3cret');
    expect((byId('settings-zoho-client-secret') as HTMLInputElement).value).toBe('');
    expect(document.getElementById('settings-zoho-client-secret-hint')?.textContent).toBe(
      es['settings.clientSecretStored'],
    );
    const expires = new Date(clock + 3_600_000);
    const hhmmss = [expires.getHours(), expires.getMinutes(), expires.getSeconds()]
      .map((n) => String(n).padStart(2, '0'))
      .join(':');
    expect(byId('crm-expiry-zoho').textContent).toContain(hhmmss);
  });

  it('keeps a stored Zoho client secret when other settings are saved, and forgets it on request', async () => {
    const fake = await setup();
    await fake.settingsSave(await fake.settingsGet(), 'stored-secret');
    await go('settings');
    await screen.findByTestId('settings-zoho-client-secret-forget');
    await type('settings-zoho-client-id', '1000.NEW');
    await fireEvent.click(byId('settings-save'));
    await screen.findByTestId('settings-saved');
    expect(fake.zohoClientSecret).toBe('stored-secret');
    expect((await fake.settingsGet()).zoho.clientId).toBe('1000.NEW');
    await fireEvent.click(byId('settings-zoho-client-secret-forget'));
    await waitFor(() => expect(fake.zohoClientSecret).toBe(''));
    expect((await fake.settingsGet()).zoho.clientSecretSet).toBe(false);
    await waitFor(() => expect(queryId('settings-zoho-client-secret-forget')).toBeNull());
  });

  it('says under the Zoho client secret that the keyring is unavailable', async () => {
    await setup({ keyringAvailable: false });
    await go('settings');
    await type('settings-zoho-client-secret', 's3cret');
    await fireEvent.click(await screen.findByTestId('settings-save'));
    const error = await screen.findByTestId('settings-zohoClientSecret-error');
    expect(error.dataset.code).toBe('keyring_unavailable');
  });

  it('names the Zoho setting the sign-in needs', async () => {
    await setup();
    await go('settings');
    await fireEvent.click(await screen.findByTestId('crm-sign-in-zoho'));
    const error = await screen.findByTestId('settings-zohoClientId-error');
    expect(error.closest('.field')?.contains(byId('settings-zoho-client-id'))).toBe(true);
    expect(byId('crm-state-zoho').dataset.state).toBe('not_linked');
  });

  it('links Salesforce with username + password + token, explaining a refusal', async () => {
    await setup();
    await go('settings');
    await type('crm-password-username', FAKE_SALESFORCE_USER.username);
    await type('crm-password-secret', 'wrong');
    await fireEvent.click(byId('crm-password-sign-in'));
    const error = await screen.findByTestId('crm-error-salesforce');
    expect(error.dataset.code).toBe('crm_auth_failed');
    expect(error.textContent).toContain('token de seguridad');
    expect(error.textContent).toContain('Iniciar sesión en el navegador');
    await type('crm-password-secret', FAKE_SALESFORCE_USER.passwordAndToken);
    await fireEvent.click(byId('crm-password-sign-in'));
    await waitFor(() => expect(byId('crm-state-salesforce').dataset.state).toBe('ok'));
    expect(queryId('crm-error-salesforce')).toBeNull();
    expect((byId('crm-password-secret') as HTMLInputElement).value).toBe('');
  });

  it('explains an unavailable keyring and how to fix it', async () => {
    await setup({ keyringAvailable: false });
    await go('settings');
    const problem = await screen.findByTestId('keyring-problem');
    expect(problem.textContent).toContain(es['errors.keyring_unavailable']);
    expect(byId('crm-state-salesforce').dataset.state).toBe('keyring_unavailable');
    await fireEvent.click(byId('crm-sign-in-salesforce'));
    expect((await screen.findByTestId('crm-error-salesforce')).dataset.code).toBe(
      'keyring_unavailable',
    );
  });

  it('shows a lost session and lets the agent sign in again', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    await go('settings');
    await screen.findByTestId('crm-state-salesforce');
    fake.simulateCrmReauth('salesforce');
    await tick();
    expect(byId('crm-state-salesforce').dataset.state).toBe('needs_reauth');
    expect(byId('crm-sign-in-salesforce').textContent).toContain(es['crmLink.signInAgain']);
    await fireEvent.click(byId('crm-sign-in-salesforce'));
    await waitFor(() => expect(byId('crm-state-salesforce').dataset.state).toBe('ok'));
  });
});

describe('Contactos', () => {
  it('searches the cache as you type and dials a number on click', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    await go('contacts');
    await type('contacts-search-input', 'rodri');
    const [ana] = await screen.findAllByTestId('contacts-result');
    expect(ana!.dataset.recordId).toBe('0035e00000AbCdEAA1');
    expect(ana!.textContent).toContain('Café Tarrazú S.A.');
    const numbers = within(ana!).getAllByTestId('contact-number');
    expect(numbers.map((n) => n.textContent?.trim())).toEqual([
      `${es['newContact.phone']} +50688887777`,
      `${es['newContact.mobile']} +50670001234`,
    ]);
    await fireEvent.click(numbers[1]!);
    await waitFor(() => expect(fake.dialed).toEqual(['+50670001234']));
    expect(await screen.findByTestId('active-call')).toBeTruthy();
  });

  it('finds records not cached yet with Buscar en el CRM', async () => {
    await setup({ crmLinked: ['salesforce'] });
    await go('contacts');
    await type('contacts-search-input', 'Jorge');
    await screen.findByTestId('contacts-empty');
    await fireEvent.click(byId('contacts-search-crm'));
    const [jorge] = await screen.findAllByTestId('contacts-result');
    expect(jorge!.dataset.recordId).toBe('00Q5e00000JrRmzEAB');
    expect(jorge!.textContent).toContain(es['kind.lead']);
  });

  it('without a linked CRM explains why and disables the CRM search', async () => {
    await setup();
    await go('contacts');
    expect(byId('crm-not-linked')).toBeTruthy();
    expect((byId('contacts-search-crm') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('Historial: Ver', () => {
  it('opens the attached record in the browser', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    await endedCall(fake, '+525512345678');
    const other = await endedCall(fake, '5559999');
    await attachBySearchFor(fake, 'Carlos');
    await go('history');
    const rows = screen.getAllByTestId('history-row');
    const withRecord = rows.find((r) => r.dataset.callId !== other)!;
    expect(
      within(rows.find((r) => r.dataset.callId === other)!).queryByTestId('history-view'),
    ).toBeNull();
    const view = within(withRecord).getByTestId('history-view');
    expect(view.textContent).toContain('Ver');
    await fireEvent.click(view);
    await waitFor(() =>
      expect(fake.openedRecords).toEqual([
        { crm: 'salesforce', kind: 'contact', id: '0035e00000FgHiJAA1' },
      ]),
    );
  });
});

/** Attaches the card of the first (oldest) call in the list through Buscar. */
async function attachBySearchFor(_fake: FakePlatform, query: string) {
  const cards = screen.getAllByTestId('call-card');
  const card = cards[cards.length - 1]!;
  await fireEvent.click(within(card).getByTestId('call-search'));
  await type('search-input', query);
  await fireEvent.click(byId('search-submit'));
  const [first] = await screen.findAllByTestId('search-result');
  await fireEvent.click(first!);
  await waitFor(() => expect(queryId('search-dialog')).toBeNull());
}

describe('Incoming call', () => {
  it('shows the CRM name of the only record with the number', async () => {
    const fake = await setup({ crmLinked: ['salesforce'] });
    fake.simulateIncoming('+506 8888 7777');
    await tick();
    expect(byId('incoming-name').textContent?.trim()).toBe('Ana Rodríguez');
    expect(queryId('incoming-chooser')).toBeNull();
  });

  it('offers a chooser when several records share the number', async () => {
    const fake = await setup({ crmLinked: ['salesforce', 'zoho'] });
    const call = fake.simulateIncoming('+50688887777');
    await tick();
    const choices = within(byId('incoming-chooser')).getAllByTestId('incoming-choice');
    expect(choices.map((c) => c.dataset.recordId)).toEqual([
      '0035e00000AbCdEAA1',
      '5725767000000412001',
    ]);
    await fireEvent.click(choices[1]!);
    await waitFor(() => expect(queryId('incoming-chooser')).toBeNull());
    expect(byId('incoming-name').textContent?.trim()).toBe('María José Vargas');
    expect(fake.call(call.id)?.record).toMatchObject({ crm: 'zoho', id: '5725767000000412001' });
  });
});
