import { describe, expect, it } from 'vitest';
import { FAKE_HUB_SERVER } from './fake-hub';
import { FakePlatform, type FakeOptions } from './fake';
import { tinyPdf } from './fake-outgoing';
import type { UploadProgressEvent, WireError } from './types';

const MB = 1024 * 1024;

function setup(options: FakeOptions = {}) {
  let clock = Date.UTC(2025, 10, 23, 15, 0, 0);
  const fake = new FakePlatform({
    now: () => clock,
    hubServer: FAKE_HUB_SERVER,
    hubLoggedInAs: '1234567',
    inbox: [
      { customer: '+5215512345678', messages: [{ from: 'customer', text: 'Hola', minutesAgo: 3 }] },
    ],
    ...options,
  });
  return { fake, advance: (ms: number) => (clock += ms) };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    return (e as WireError).code;
  }
  return 'resolved';
}

describe('FakePlatform: staging files (api-facts C4)', () => {
  it('refuses by extension, size and content with the host codes, the limit named', async () => {
    const { fake } = setup();
    fake.outgoing.putFile('/d/big.png', 5 * MB + 1);
    fake.outgoing.putFile('/d/ok.png', 5 * MB);
    fake.outgoing.putFile('/d/clip.mp4', 16 * MB + 1);
    fake.outgoing.putFile('/d/manual.pdf', 100 * MB + 1);
    fake.outgoing.putFile('/d/empty.txt', 0);
    fake.outgoing.putFile('/d/tool.exe', 10);
    fake.outgoing.putFile('/d/fake.pdf', new TextEncoder().encode('not a pdf'));
    expect(await code(fake.inboxStageFile('/d/big.png'))).toBe('whatsapp_media_too_large');
    await fake
      .inboxStageFile('/d/big.png')
      .catch((e: WireError) => expect(e.message).toContain('5 MB'));
    expect(await code(fake.inboxStageFile('/d/clip.mp4'))).toBe('whatsapp_media_too_large');
    expect(await code(fake.inboxStageFile('/d/manual.pdf'))).toBe('whatsapp_media_too_large');
    expect(await code(fake.inboxStageFile('/d/empty.txt'))).toBe('whatsapp_media_empty');
    expect(await code(fake.inboxStageFile('/d/tool.exe'))).toBe('whatsapp_media_type');
    expect(await code(fake.inboxStageFile('/d/fake.pdf'))).toBe('whatsapp_media_content');
    expect(await fake.inboxStageFile('/d/ok.png')).toMatchObject({
      name: 'ok.png',
      mime: 'image/png',
      kind: 'image',
      size: 5 * MB,
      voice: false,
    });
    const pdf = await fake.inboxStageBytes('cotizacion.pdf', tinyPdf('Hola'));
    expect(pdf).toMatchObject({ kind: 'document', mime: 'application/pdf' });
    expect(fake.stagedUrl(pdf.token)).toMatch(/^data:application\/pdf;base64,/);
    expect(fake.inbox.uploads).toEqual([]);
  });

  it('sends a staged file: pending with its card, upload progress, then queued with a media id', async () => {
    const { fake } = setup();
    const [c] = await fake.inboxConversations('mine', '');
    const events: UploadProgressEvent[] = [];
    fake.onInboxUpload((e) => events.push(e));
    const staged = await fake.inboxStageFile('/home/agente/Documentos/cotizacion.pdf');
    const queued = await fake.inboxSendStaged(c!.id, 'cid-1', staged.token, 'La cotización');
    expect(queued).toMatchObject({ kind: 'document', status: 'pending', text: 'La cotización' });
    expect(fake.outgoing.stagedTokens()).toEqual([]);
    fake.inbox.deliverAll();
    const sent = events.map((e) => e.sent);
    expect(sent).toHaveLength(5);
    expect(sent).toEqual([...sent].sort((a, b) => a - b));
    expect(events.at(-1)).toMatchObject({ key: 'c:cid-1', sent: staged.size, total: staged.size });
    const [, last] = fake.inbox.messages(c!.id);
    expect(last).toMatchObject({ status: 'read', mediaId: 'upload-1' });
    expect(fake.inbox.uploads).toMatchObject([
      { name: 'cotizacion.pdf', caption: 'La cotización', voice: false },
    ]);
  });

  it('records with the clock, refuses a too-short recording and a missing or refused microphone', async () => {
    const { fake, advance } = setup();
    await fake.voiceRecordStart();
    advance(300);
    expect(await code(fake.voiceRecordStop())).toBe('recording_empty');
    await fake.voiceRecordStart();
    advance(4_200);
    const status = await fake.voiceRecordStatus();
    expect(status).toMatchObject({
      recording: true,
      elapsedMs: 4_200,
      device: 'Micrófono interno',
    });
    expect(status.level).toBeGreaterThan(0);
    const note = await fake.voiceRecordStop();
    expect(note).toMatchObject({
      kind: 'audio',
      mime: 'audio/ogg',
      voice: true,
      durationMs: 4_200,
      warning: null,
    });
    expect(note.peaks.length).toBeGreaterThan(0);
    expect(fake.stagedUrl(note.token)).toMatch(/^data:audio\/wav;base64,/);
    await fake.voiceRecordStart();
    advance(200_000);
    expect((await fake.voiceRecordStop()).warning).toBe('voice_note_large');

    fake.outgoing.microphone = 'denied';
    expect(await code(fake.voiceRecordStart())).toBe('microphone_denied');
    fake.outgoing.microphone = 'ok';
    await fake.settingsSave({ ...(await fake.settingsGet()), audioInputDevice: 'Gone USB' });
    expect(await code(fake.voiceRecordStart())).toBe('microphone_unavailable');
  });

  it('sends a location (range checked) and remembers it as the last used position', async () => {
    const { fake } = setup();
    const [c] = await fake.inboxConversations('mine', '');
    expect(await fake.locationHere()).toBeNull();
    expect(
      await code(
        fake.inboxSend(c!.id, 'x', {
          type: 'location',
          latitude: 91,
          longitude: 0,
          name: null,
          address: null,
        }),
      ),
    ).toBe('invalid_location');
    await fake.inboxSend(c!.id, 'loc', {
      type: 'location',
      latitude: 9.93,
      longitude: -84.08,
      name: 'Casa',
      address: 'San José',
    });
    expect(await fake.locationHere()).toEqual({
      latitude: 9.93,
      longitude: -84.08,
      accuracy: null,
      source: 'last_used',
    });
    expect(fake.inbox.messages(c!.id).at(-1)).toMatchObject({ kind: 'location', status: 'queued' });
  });

  it("keeps the agent's own quick addresses after the organization's; those are read-only", async () => {
    const { fake } = setup();
    const saved = await fake.inboxQuickAddressSave('Casa', 'Calle 1', 9.9, -84.1);
    expect(saved).toMatchObject({ id: 'own:1', own: true });
    expect((await fake.inboxQuickAddresses()).map((q) => q.id)).toEqual([
      'org:1',
      'org:2',
      'own:1',
    ]);
    expect(await code(fake.inboxQuickAddressDelete('org:1'))).toBe('forbidden');
    expect(await code(fake.inboxQuickAddressSave('X', '', 100, 0))).toBe('invalid_location');
    await fake.inboxQuickAddressDelete('own:1');
    expect((await fake.inboxQuickAddresses()).map((q) => q.id)).toEqual(['org:1', 'org:2']);
  });
});
