import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const listen = vi.fn();
/** What Tauri's injected `convertFileSrc` does on Linux and macOS (Tauri's own core.js). */
const convertFileSrc = vi.fn(
  (path: string, protocol = 'asset') => `${protocol}://localhost/${encodeURIComponent(path)}`,
);
vi.mock('@tauri-apps/api/core', () => ({
  invoke: (...args: unknown[]) => invoke(...args),
  convertFileSrc: (path: string, protocol?: string) => convertFileSrc(path, protocol),
}));
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

describe('Tauri platform: inbox commands', () => {
  it('invokes each command by its name with camelCase arguments', async () => {
    const p = createTauriPlatform();
    const text = { type: 'text' as const, body: 'Hola 👋' };
    const template = {
      type: 'template' as const,
      name: 'seguimiento',
      language: 'es_MX',
      parameters: ['Ana'],
    };
    await p.inboxConversations('mine', '');
    await p.inboxCounts();
    await p.inboxTimeline(4, null, 50);
    await p.inboxTimeline(4, 1700000000000, 50);
    await p.inboxViewing(4);
    await p.inboxViewing(null);
    await p.inboxSend(4, 'c-1', text);
    await p.inboxRetry(4, 'c:c-1');
    await p.inboxComment(4, 'llamar mañana');
    await p.inboxAttended(4);
    await p.inboxTake(5);
    await p.inboxRelease(5);
    await p.inboxTemplates();
    await p.inboxCannedResponses();
    await p.inboxNumbers();
    await p.inboxStart('1234', '+5215512345678', 'c-2', template);
    await p.mediaOpen('0f3a');
    await p.openExternal('https://maps.google.com/?q=19.4,-99.1');
    expect(invoke.mock.calls).toEqual([
      ['inbox_conversations', { filter: 'mine', search: '' }],
      ['inbox_counts', undefined],
      ['inbox_timeline', { conversationId: 4, before: null, limit: 50 }],
      ['inbox_timeline', { conversationId: 4, before: 1700000000000, limit: 50 }],
      ['inbox_viewing', { conversationId: 4 }],
      ['inbox_viewing', { conversationId: null }],
      ['inbox_send', { conversationId: 4, clientId: 'c-1', message: text }],
      ['inbox_retry', { conversationId: 4, key: 'c:c-1' }],
      ['inbox_comment', { conversationId: 4, body: 'llamar mañana' }],
      ['inbox_attended', { conversationId: 4 }],
      ['inbox_take', { conversationId: 5 }],
      ['inbox_release', { conversationId: 5 }],
      ['inbox_templates', undefined],
      ['inbox_canned_responses', undefined],
      ['inbox_numbers', undefined],
      [
        'inbox_start',
        {
          businessNumber: '1234',
          customerNumber: '+5215512345678',
          clientId: 'c-2',
          message: template,
        },
      ],
      ['media_open', { mediaId: '0f3a' }],
      ['open_external', { url: 'https://maps.google.com/?q=19.4,-99.1' }],
    ]);
  });

  it('turns a refused send into a WireError', async () => {
    invoke.mockRejectedValueOnce({ code: 'window_closed', message: 'x' });
    await expect(
      createTauriPlatform().inboxSend(4, 'c-1', { type: 'text', body: 'hola' }),
    ).rejects.toEqual({ code: 'window_closed', message: 'x', field: null });
  });

  it('shows media through the enlace-media scheme, the id encoded as one path segment', () => {
    const p = createTauriPlatform();
    expect(p.mediaUrl('0f3a9c')).toBe('enlace-media://localhost/0f3a9c');
    // An id that is not plain stays one segment; the host refuses it.
    expect(p.mediaUrl('../x')).toBe('enlace-media://localhost/..%2Fx');
    expect(convertFileSrc).toHaveBeenCalledWith('0f3a9c', 'enlace-media');
    expect(invoke).not.toHaveBeenCalled();
  });

  it('listens to inbox:changed, inbox:message, inbox:comment and inbox:counts', () => {
    const p = createTauriPlatform();
    const stops = [
      p.onInboxChanged(() => {}),
      p.onInboxMessage(() => {}),
      p.onInboxComment(() => {}),
      p.onInboxCounts(() => {}),
    ];
    expect(listen.mock.calls.map((c) => c[0])).toEqual([
      'inbox:changed',
      'inbox:message',
      'inbox:comment',
      'inbox:counts',
    ]);
    stops.forEach((stop) => stop());
  });

  it('hands the counts payload to the callback', async () => {
    let handler: ((e: { payload: unknown }) => void) | undefined;
    listen.mockImplementationOnce((_event: string, h: (e: { payload: unknown }) => void) => {
      handler = h;
      return Promise.resolve(() => {});
    });
    const seen: unknown[] = [];
    const stop = createTauriPlatform().onInboxCounts((c) => seen.push(c));
    const counts = { waiting: 2, unread: 1, pendingSends: 0, online: true, available: true };
    handler!({ payload: counts });
    stop();
    handler!({ payload: { ...counts, waiting: 9 } });
    expect(seen).toEqual([counts]);
  });
});

describe('Tauri platform: files, voice notes and locations', () => {
  it('invokes each command by its name with camelCase arguments', async () => {
    const p = createTauriPlatform();
    await p.inboxPickFile();
    await p.inboxStageFile('/home/ana/Documentos/cotización.pdf');
    await p.inboxDiscardStaged('t1');
    await p.inboxSendStaged(4, 'c-9', 't1', 'Detalle');
    await p.inboxSendStaged(4, 'c-10', 't2', null);
    await p.voiceRecordStart();
    await p.voiceRecordStatus();
    await p.voiceRecordStop();
    await p.voiceRecordDiscard();
    await p.audioInputs();
    await p.mediaWaveform('m1', 48);
    await p.inboxQuickAddresses();
    await p.inboxQuickAddressSave('Casa', 'Calle 1', 9.93, -84.08);
    await p.inboxQuickAddressSave('Oficina', 'Avenida 2', null, null);
    await p.inboxQuickAddressDelete('own:3');
    await p.locationHere();
    expect(invoke.mock.calls).toEqual([
      ['inbox_pick_file', undefined],
      ['inbox_stage_file', { path: '/home/ana/Documentos/cotización.pdf' }],
      ['inbox_discard_staged', { token: 't1' }],
      [
        'inbox_send_staged',
        { conversationId: 4, clientId: 'c-9', token: 't1', caption: 'Detalle' },
      ],
      ['inbox_send_staged', { conversationId: 4, clientId: 'c-10', token: 't2', caption: null }],
      ['voice_record_start', undefined],
      ['voice_record_status', undefined],
      ['voice_record_stop', undefined],
      ['voice_record_discard', undefined],
      ['audio_inputs', undefined],
      ['media_waveform', { mediaId: 'm1', bars: 48 }],
      ['inbox_quick_addresses', undefined],
      [
        'inbox_quick_address_save',
        { name: 'Casa', address: 'Calle 1', latitude: 9.93, longitude: -84.08 },
      ],
      [
        'inbox_quick_address_save',
        { name: 'Oficina', address: 'Avenida 2', latitude: null, longitude: null },
      ],
      ['inbox_quick_address_delete', { id: 'own:3' }],
      ['location_here', undefined],
    ]);
  });

  it('sends pasted bytes as the raw body, the file name percent-encoded in a header', async () => {
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    await createTauriPlatform().inboxStageBytes('captura de pantalla ñ.png', bytes);
    expect(invoke.mock.calls).toEqual([
      [
        'inbox_stage_bytes',
        bytes,
        { headers: { 'x-file-name': 'captura%20de%20pantalla%20%C3%B1.png' } },
      ],
    ]);
  });

  it('turns a refused file into a WireError', async () => {
    invoke.mockRejectedValueOnce({ code: 'whatsapp_media_too_large', message: '5 MB' });
    await expect(createTauriPlatform().inboxStageFile('/tmp/x.png')).rejects.toEqual({
      code: 'whatsapp_media_too_large',
      message: '5 MB',
      field: null,
    });
    invoke.mockRejectedValueOnce({ code: 'microphone_unavailable', message: 'x' });
    await expect(createTauriPlatform().voiceRecordStart()).rejects.toMatchObject({
      code: 'microphone_unavailable',
    });
  });

  it('previews staged files and map tiles through the enlace-media scheme', () => {
    const p = createTauriPlatform();
    expect(p.stagedUrl('0123abcd')).toBe('enlace-media://localhost/staged/0123abcd');
    expect(p.stagedUrl('a/b')).toBe('enlace-media://localhost/staged/a%2Fb');
    // Leaflet fills the placeholders; the app serves and caches the tile.
    expect(p.mapTileUrl()).toBe('enlace-media://localhost/tile/{z}/{x}/{y}');
    expect(invoke).not.toHaveBeenCalled();
  });

  it('uses the Windows form of the scheme where Tauri gives it', () => {
    convertFileSrc.mockImplementationOnce(
      (path: string, protocol = 'asset') => `http://${protocol}.localhost/${path}`,
    );
    expect(createTauriPlatform().mapTileUrl()).toBe(
      'http://enlace-media.localhost/tile/{z}/{x}/{y}',
    );
  });

  it('listens to files:dropped and inbox:upload, handing the payload over', () => {
    const handlers: Record<string, (e: { payload: unknown }) => void> = {};
    listen.mockImplementation((event: string, h: (e: { payload: unknown }) => void) => {
      handlers[event] = h;
      return Promise.resolve(() => {});
    });
    const p = createTauriPlatform();
    const dropped: string[][] = [];
    const progress: unknown[] = [];
    const stops = [
      p.onFilesDropped((paths) => dropped.push(paths)),
      p.onInboxUpload((e) => progress.push(e)),
    ];
    expect(listen.mock.calls.map((c) => c[0])).toEqual(['files:dropped', 'inbox:upload']);
    handlers['files:dropped']!({ payload: ['/tmp/a.pdf', '/tmp/b.png'] });
    const upload = { conversationId: 4, key: 'c:c-9', sent: 1024, total: 4096 };
    handlers['inbox:upload']!({ payload: upload });
    expect(dropped).toEqual([['/tmp/a.pdf', '/tmp/b.png']]);
    expect(progress).toEqual([upload]);
    stops.forEach((stop) => stop());
  });
});
