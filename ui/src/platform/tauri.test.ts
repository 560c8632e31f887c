import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const listen = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: (...args: unknown[]) => listen(...args) }));

const { createTauriPlatform } = await import('./tauri');
const { DEFAULT_SETTINGS } = await import('./fake');

beforeEach(() => {
  invoke.mockReset();
  invoke.mockResolvedValue(null);
  listen.mockReset();
  listen.mockResolvedValue(() => {});
});

describe('Tauri platform: CRM commands', () => {
  it('invokes each command by its name with camelCase arguments', async () => {
    const p = createTauriPlatform();
    const contact = {
      kind: 'lead' as const,
      firstName: 'Ana',
      lastName: 'Rodríguez',
      email: '',
      phone: '+50688887777',
      mobile: '',
      company: 'Café',
    };
    await p.crmStatus();
    await p.crmSignIn('zoho');
    await p.crmPasswordSignIn('ana@example.com', 'pwTOKEN');
    await p.crmUnlink('salesforce');
    await p.contactsSearch('ana');
    await p.contactsCached('an');
    await p.callAttach('c1', 'salesforce', 'contact', '003xx');
    await p.callCreateContact('c1', contact);
    await p.callLog('c1', 'Asunto', 'Comentario');
    await p.crmWriteRetry(7);
    await p.crmWriteUseExisting(8);
    await p.recordOpen('zoho', 'lead', '572');
    expect(invoke.mock.calls).toEqual([
      ['crm_status', undefined],
      ['crm_sign_in', { crm: 'zoho' }],
      ['crm_password_sign_in', { username: 'ana@example.com', passwordAndToken: 'pwTOKEN' }],
      ['crm_unlink', { crm: 'salesforce' }],
      ['contacts_search', { query: 'ana' }],
      ['contacts_cached', { query: 'an' }],
      ['call_attach', { id: 'c1', crm: 'salesforce', kind: 'contact', recordId: '003xx' }],
      ['call_create_contact', { id: 'c1', contact }],
      ['call_log', { id: 'c1', subject: 'Asunto', comment: 'Comentario' }],
      ['crm_write_retry', { id: 7 }],
      ['crm_write_use_existing', { id: 8 }],
      ['record_open', { crm: 'zoho', kind: 'lead', id: '572' }],
    ]);
  });

  it('sends a new Zoho client secret beside the settings, or null to keep the stored one', async () => {
    const p = createTauriPlatform();
    const settings = DEFAULT_SETTINGS;
    await p.settingsSave(settings, 's3cret');
    await p.settingsSave(settings);
    expect(invoke.mock.calls).toEqual([
      ['settings_save', { settings, zohoClientSecret: 's3cret' }],
      ['settings_save', { settings, zohoClientSecret: null }],
    ]);
  });

  it('turns a rejection into a WireError with its field', async () => {
    invoke.mockRejectedValueOnce({ code: 'crm_invalid_field', message: 'x', field: 'company' });
    await expect(
      createTauriPlatform().callCreateContact('c1', {
        kind: 'lead',
        firstName: '',
        lastName: 'X',
        email: '',
        phone: '',
        mobile: '',
        company: '',
      }),
    ).rejects.toEqual({ code: 'crm_invalid_field', message: 'x', field: 'company' });
  });

  it('listens to crm:status', () => {
    const stop = createTauriPlatform().onCrmStatus(() => {});
    expect(listen.mock.calls[0]![0]).toBe('crm:status');
    stop();
  });
});

describe('Tauri platform: hub commands', () => {
  it('invokes each command by its name with camelCase arguments', async () => {
    const p = createTauriPlatform();
    await p.hubStatus();
    await p.hubLogin('https://hub.example.com', '1234567', '123456');
    await p.hubLogout();
    await p.pauseReasons();
    await p.agentPause(3);
    await p.agentUnpause();
    await p.agentExitCheck();
    await p.agentExit();
    await p.agentDay();
    await p.agentsLive();
    expect(invoke.mock.calls).toEqual([
      ['hub_status', undefined],
      ['hub_login', { server: 'https://hub.example.com', user: '1234567', password: '123456' }],
      ['hub_logout', undefined],
      ['pause_reasons', undefined],
      ['agent_pause', { reasonId: 3 }],
      ['agent_unpause', undefined],
      ['agent_exit_check', undefined],
      ['agent_exit', undefined],
      ['agent_day', undefined],
      ['agents_live', undefined],
    ]);
  });

  it('listens to hub:status, agent:state and agents:live', () => {
    const p = createTauriPlatform();
    const stops = [p.onHubStatus(() => {}), p.onAgentState(() => {}), p.onAgentsLive(() => {})];
    expect(listen.mock.calls.map((c) => c[0])).toEqual([
      'hub:status',
      'agent:state',
      'agents:live',
    ]);
    stops.forEach((stop) => stop());
  });

  it('keeps the wait of a throttled login', async () => {
    invoke.mockRejectedValueOnce({ code: 'throttled', message: 'x', retryAfterSeconds: 45 });
    await expect(createTauriPlatform().hubLogin('https://h', '1234567', '123456')).rejects.toEqual({
      code: 'throttled',
      message: 'x',
      field: null,
      retryAfterSeconds: 45,
    });
  });
});
