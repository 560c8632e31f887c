// Files, voice notes and locations in the chat (issue 12), against the fake platform:
// Mensaje de audio (record → stop → listen → send; microphone problems; Esc), Agregar archivo
// (limits refused before any upload, caption, previews, progress, drop, paste), Enviar
// ubicación (quick addresses, exactly the fields sent), the received voice note's player, and
// the two settings.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../App.svelte';
import { es } from '../i18n/es';
import { setLanguage } from '../i18n/index.svelte';
import type { AppState } from '../lib/app-state.svelte';
import {
  FAKE_HUB_AGENTS,
  FAKE_HUB_SERVER,
  FakePlatform,
  fakeOrgQuickAddresses,
  type FakeOptions,
} from '../platform';
import type { FakeChatSeed } from '../platform/fake-inbox';
import ChatHarness from '../test/ChatHarness.svelte';

const CUSTOMER = '+5215512345678';
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const MB = 1024 * 1024;

const byId = (id: string) => screen.getByTestId(id);
const queryId = (id: string) => screen.queryByTestId(id);
const lastMessage = () => screen.getAllByTestId('chat-message').at(-1)!;

function seed(messages: FakeChatSeed['messages'] = []): FakeChatSeed {
  return {
    customer: CUSTOMER,
    profileName: 'Laura Gómez',
    messages: [{ from: 'customer', text: 'Hola', minutesAgo: 3 }, ...messages],
  };
}

async function open(inbox: FakeChatSeed[] = [seed()], options: FakeOptions = {}) {
  const fake = new FakePlatform({
    hubServer: FAKE_HUB_SERVER,
    hubLoggedInAs: '1234567',
    inbox,
    ...options,
  });
  const [conversation] = await fake.inboxConversations('mine', '');
  let app: AppState | null = null;
  render(ChatHarness, {
    props: {
      platform: fake,
      conversation: conversation!,
      onBack: () => {},
      onApp: (a: AppState) => (app = a),
    },
  });
  await waitFor(() => expect(byId('chat-timeline').dataset.loaded).toBe('true'));
  return { fake, conversation: conversation!, app: app! as AppState };
}

/** Moves the (faked) clock; the recorder's timer follows it. */
function later(ms: number) {
  vi.setSystemTime(new Date(Date.now() + ms));
}

beforeEach(() => {
  setLanguage('es');
  localStorage.clear();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(2025, 10, 23, 12, 0, 0));
});
afterEach(() => vi.useRealTimers());

describe('Mensaje de audio', () => {
  it('records with a running timer and level, listens back, and sends a voice note', async () => {
    const { fake, conversation } = await open();
    await fireEvent.click(byId('composer-audio'));
    expect(byId('voice-panel').dataset.phase).toBe('idle');
    await fireEvent.click(byId('voice-start'));
    await waitFor(() => expect(byId('voice-panel').dataset.phase).toBe('recording'));
    later(3_400);
    // The panel polls every 200 ms: the timer and the meter follow the recorder.
    await waitFor(() => expect(byId('voice-timer').textContent?.trim()).toBe('00:03'));
    expect(Number((byId('voice-level') as HTMLMeterElement).value)).toBeGreaterThan(0);
    expect(byId('voice-panel').textContent).toContain('Micrófono interno');

    await fireEvent.click(byId('voice-stop'));
    await waitFor(() => expect(byId('voice-panel').dataset.phase).toBe('review'));
    const preview = byId('voice-preview') as HTMLAudioElement;
    expect(preview.tagName).toBe('AUDIO');
    expect(preview.getAttribute('src')).toMatch(/^data:audio\/wav;base64,/);
    const play = vi.spyOn(preview, 'play').mockResolvedValue(undefined);
    await fireEvent.click(byId('voice-play'));
    expect(play).toHaveBeenCalledTimes(1);
    expect(within(byId('voice-panel')).getByTestId('voice-waveform').children.length).toBe(48);
    expect(queryId('voice-warning')).toBeNull();

    await fireEvent.click(byId('voice-send'));
    await waitFor(() => expect(queryId('voice-panel')).toBeNull());
    expect(fake.inbox.uploads).toEqual([
      expect.objectContaining({ kind: 'audio', mime: 'audio/ogg', voice: true, caption: null }),
    ]);
    expect(lastMessage().dataset.kind).toBe('audio');
    expect(lastMessage().dataset.status).toBe('pending');
    fake.inbox.deliverAll();
    await waitFor(() => expect(within(lastMessage()).getByTestId('voice-note')).toBeTruthy());
    const sent = fake.inbox.messages(conversation.id).at(-1)!;
    expect(sent).toMatchObject({ kind: 'audio', status: 'read', mediaId: 'upload-1' });
    expect(fake.outgoing.stagedTokens()).toEqual([]);
  });

  it('says when the note may show as a file (past 512 KB)', async () => {
    await open();
    await fireEvent.click(byId('composer-audio'));
    await fireEvent.click(byId('voice-start'));
    await waitFor(() => expect(byId('voice-panel').dataset.phase).toBe('recording'));
    later(200_000);
    await fireEvent.click(byId('voice-stop'));
    await waitFor(() =>
      expect(byId('voice-warning').textContent).toContain(es['chat.warning.voice_note_large']),
    );
  });

  it('Descartar and Esc forget the recording; nothing is sent', async () => {
    const { fake } = await open();
    await fireEvent.click(byId('composer-audio'));
    await fireEvent.click(byId('voice-start'));
    await waitFor(() => expect(byId('voice-panel').dataset.phase).toBe('recording'));
    await fireEvent.keyDown(window, { key: 'Escape' });
    await waitFor(() => expect(queryId('voice-panel')).toBeNull());
    expect(fake.outgoing.status().recording).toBe(false);

    await fireEvent.click(byId('composer-audio'));
    await fireEvent.click(byId('voice-start'));
    await waitFor(() => expect(byId('voice-panel').dataset.phase).toBe('recording'));
    later(2_000);
    await fireEvent.click(byId('voice-stop'));
    await waitFor(() => expect(byId('voice-panel').dataset.phase).toBe('review'));
    expect(fake.outgoing.stagedTokens()).toHaveLength(1);
    await fireEvent.click(byId('voice-discard'));
    await waitFor(() => expect(fake.outgoing.stagedTokens()).toEqual([]));
    expect(fake.inbox.uploads).toEqual([]);
  });

  it('no microphone or no permission: says so in words and leads to Configuración', async () => {
    const { fake, app } = await open();
    fake.outgoing.microphone = 'denied';
    await fireEvent.click(byId('composer-audio'));
    await fireEvent.click(byId('voice-start'));
    await waitFor(() => expect(byId('voice-error').dataset.code).toBe('microphone_denied'));
    expect(byId('voice-error').textContent).toContain(es['errors.microphone_denied']);
    await fireEvent.click(byId('voice-settings'));
    expect(app.panel).toBe('settings');

    fake.outgoing.microphone = 'ok';
    fake.outgoing.setInputs([]);
    await fireEvent.click(byId('composer-audio'));
    await fireEvent.click(byId('voice-start'));
    await waitFor(() => expect(byId('voice-error').dataset.code).toBe('microphone_unavailable'));
  });

  it('a recording too short is refused in words', async () => {
    await open();
    await fireEvent.click(byId('composer-audio'));
    await fireEvent.click(byId('voice-start'));
    await waitFor(() => expect(byId('voice-panel').dataset.phase).toBe('recording'));
    await fireEvent.click(byId('voice-stop'));
    await waitFor(() => expect(byId('voice-error').dataset.code).toBe('recording_empty'));
    expect(byId('voice-error').textContent).toContain(es['errors.recording_empty']);
  });
});

describe('Agregar archivo', () => {
  it('refuses files over the limit or of another type before any upload, naming the limit', async () => {
    const { fake } = await open();
    fake.outgoing.putFile('/d/foto.png', 5 * MB + 1);
    fake.outgoing.putFile('/d/programa.exe', 1000);
    fake.outgoing.picks.push('/d/foto.png', '/d/programa.exe');
    await fireEvent.click(byId('composer-file'));
    await fireEvent.click(byId('file-pick'));
    await waitFor(() => expect(byId('file-error').dataset.code).toBe('whatsapp_media_too_large'));
    expect(byId('file-error').textContent).toContain(es['errors.whatsapp_media_too_large']);
    expect(byId('file-error').textContent).toContain('5 MB');
    expect(byId('file-send').hasAttribute('disabled')).toBe(true);
    await fireEvent.click(byId('file-pick'));
    await waitFor(() => expect(byId('file-error').dataset.code).toBe('whatsapp_media_type'));
    expect(byId('file-send').hasAttribute('disabled')).toBe(true);
    expect(fake.inbox.uploads).toEqual([]);
    expect(fake.outgoing.refused).toEqual(['whatsapp_media_too_large', 'whatsapp_media_type']);
  });

  it('sends an image with its Detalle; the pending bubble shows the upload progress', async () => {
    const { fake, conversation } = await open();
    fake.outgoing.putFile('/d/foto.png', PNG);
    fake.outgoing.picks.push('/d/foto.png');
    await fireEvent.click(byId('composer-file'));
    expect(byId('file-send').hasAttribute('disabled')).toBe(true);
    await fireEvent.click(byId('file-pick'));
    await waitFor(() => expect(byId('file-name').textContent).toBe('foto.png'));
    const img = byId('file-preview').querySelector('img')!;
    expect(img.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    await fireEvent.input(byId('file-caption'), { target: { value: 'La foto del equipo' } });
    await fireEvent.click(byId('file-send'));
    await waitFor(() => expect(queryId('file-dialog')).toBeNull());

    expect(fake.inbox.uploads).toEqual([
      expect.objectContaining({
        name: 'foto.png',
        caption: 'La foto del equipo',
        size: PNG.length,
      }),
    ]);
    const progress = () =>
      within(lastMessage()).getByTestId('upload-progress') as HTMLProgressElement;
    await waitFor(() => expect(progress().max).toBe(PNG.length));
    expect(progress().value).toBe(0);
    expect(lastMessage().textContent).toContain('foto.png');
    fake.inbox.advance();
    await waitFor(() => expect(progress().value).toBe(3));
    fake.inbox.deliverAll();
    await waitFor(() => expect(lastMessage().dataset.status).toBe('read'));
    expect(within(lastMessage()).queryByTestId('upload-progress')).toBeNull();
    expect(fake.inbox.messages(conversation.id).at(-1)).toMatchObject({
      kind: 'image',
      text: 'La foto del equipo',
      mediaId: 'upload-1',
    });
  });

  it('Cancelar forgets the staged file; audio files take no Detalle', async () => {
    const { fake } = await open();
    fake.outgoing.putFile('/d/musica.mp3', 2 * MB);
    fake.outgoing.picks.push('/d/musica.mp3');
    await fireEvent.click(byId('composer-file'));
    await fireEvent.click(byId('file-pick'));
    await waitFor(() => expect(byId('file-name').textContent).toBe('musica.mp3'));
    expect(queryId('file-caption')).toBeNull();
    expect(byId('file-preview').querySelector('audio')).toBeTruthy();
    expect(fake.outgoing.stagedTokens()).toHaveLength(1);
    await fireEvent.click(byId('file-cancel'));
    await waitFor(() => expect(queryId('file-dialog')).toBeNull());
    await waitFor(() => expect(fake.outgoing.stagedTokens()).toEqual([]));
    expect(fake.inbox.uploads).toEqual([]);
  });

  it('previews a PDF with pdf.js, or says it could not and names the file', async () => {
    await open();
    await fireEvent.click(byId('composer-file'));
    await fireEvent.click(byId('file-pick'));
    await waitFor(() => expect(byId('file-name').textContent).toBe('cotizacion.pdf'));
    expect(byId('file-preview').dataset.kind).toBe('document');
    // Under Vitest pdf.js loads (lazily) but cannot start its worker (a dev-server URL) and
    // jsdom has no canvas: the preview falls back to words naming the file.
    await waitFor(() => expect(byId('file-pdf').dataset.state).not.toBe('loading'), {
      timeout: 15_000,
    });
    const pdf = byId('file-pdf');
    if (pdf.dataset.state === 'failed') {
      expect(byId('file-pdf-fallback').textContent).toContain('cotizacion.pdf');
      expect(byId('file-pdf-fallback').textContent).toContain(es['chat.file.pdfNoPreview']);
    }
  }, 20_000);

  it('a file dropped on the window opens Agregar archivo with it (or with why it was refused)', async () => {
    const { fake } = await open();
    fake.simulateDrop(['/home/agente/Documentos/foto-producto.png']);
    await waitFor(() => expect(byId('file-name').textContent).toBe('foto-producto.png'));
    expect(byId('file-preview').querySelector('img')).toBeTruthy();
    await fireEvent.click(byId('file-cancel'));
    await waitFor(() => expect(queryId('file-dialog')).toBeNull());

    fake.simulateDrop(['/home/agente/Documentos/video-instalacion.mp4', '/x/otro.pdf']);
    await waitFor(() => expect(byId('file-error').dataset.code).toBe('whatsapp_media_too_large'));
    expect(byId('file-dialog').textContent).toContain('16 MB');
    expect(byId('file-dialog').textContent).toContain(
      es['chat.file.oneAtATime'].replace('{count}', '2'),
    );
    expect(fake.inbox.uploads).toEqual([]);
  });

  it('an image pasted into the message box opens Agregar archivo with it', async () => {
    const { fake } = await open();
    const file = new File([PNG], 'image.png', { type: 'image/png' });
    await fireEvent.paste(byId('chat-input'), { clipboardData: { files: [file] } });
    await waitFor(() => expect(byId('file-name').textContent).toMatch(/^imagen-\d{14}\.png$/));
    expect(fake.outgoing.stagedTokens()).toHaveLength(1);
    await fireEvent.click(byId('file-send'));
    await waitFor(() => expect(fake.inbox.uploads).toHaveLength(1));
    expect(fake.inbox.uploads[0]).toMatchObject({ mime: 'image/png', size: PNG.length });
  });

  it('with the window closed the three buttons are disabled, with the reason as a tooltip', async () => {
    const { fake } = await open([
      { customer: CUSTOMER, messages: [{ from: 'customer', text: 'Hola', minutesAgo: 25 * 60 }] },
    ]);
    for (const id of ['composer-audio', 'composer-file', 'composer-location']) {
      expect(byId(id).hasAttribute('disabled'), id).toBe(true);
      expect(byId(id).getAttribute('title')).toBe(es['chat.media.windowClosed']);
    }
    fake.simulateDrop(['/home/agente/Documentos/foto-producto.png']);
    await tick();
    expect(queryId('file-dialog')).toBeNull();
  });
});

describe('Enviar ubicación', () => {
  it('a quick address fills Dirección and the address, moves the pin, and sends exactly those fields', async () => {
    const { fake, conversation } = await open();
    const send = vi.spyOn(fake, 'inboxSend');
    await fireEvent.click(byId('composer-location'));
    await waitFor(() => expect(screen.getAllByTestId('location-quick')).toHaveLength(2));
    // No position known: the default country's capital (CR → San José).
    await waitFor(() => expect(byId('location-origin').dataset.origin).toBe('default'));
    expect(byId('location-origin').textContent).toContain('San José');
    expect(byId('location-coords').textContent).toBe('9.928100, -84.090700');
    // Leaflet runs under jsdom too: the map, its pin (a divIcon) and the attribution.
    await waitFor(() => expect(byId('location-map').dataset.state).toBe('shown'));
    expect(byId('location-map').querySelector('.leaflet-marker-icon.enlace-pin')).toBeTruthy();
    expect(byId('location-map').textContent).toContain('© OpenStreetMap contributors');
    // The credit's link opens in the browser, not in the window.
    const credit = byId('location-map').querySelector<HTMLAnchorElement>(
      '.leaflet-control-attribution a',
    )!;
    await fireEvent.click(credit);
    expect(fake.inbox.openedUrls).toEqual(['https://www.openstreetmap.org/copyright']);
    // A click on the map moves the pin there.
    await fireEvent.click(byId('location-map'), { clientX: 40, clientY: 30 });
    expect(byId('location-coords').textContent).not.toBe('9.928100, -84.090700');

    const office = fakeOrgQuickAddresses()[0]!;
    const button = screen.getAllByTestId('location-quick').find((b) => b.dataset.id === 'org:1')!;
    expect(button.textContent).toContain('Oficina Central');
    await fireEvent.click(button);
    expect((byId('location-label') as HTMLInputElement).value).toBe(office.name);
    expect((byId('location-address') as HTMLInputElement).value).toBe(office.address);
    expect(byId('location-coords').textContent).toBe('19.427000, -99.167700');

    await fireEvent.click(byId('location-send'));
    await waitFor(() => expect(queryId('location-dialog')).toBeNull());
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0]![2]).toEqual({
      type: 'location',
      latitude: office.latitude,
      longitude: office.longitude,
      name: office.name,
      address: office.address,
    });
    expect(fake.inbox.messages(conversation.id).at(-1)).toMatchObject({ kind: 'location' });
    await waitFor(() => expect(within(lastMessage()).getByTestId('chat-location')).toBeTruthy());
    // Next time the OS does not know where the agent is, the map starts there.
    expect(await fake.locationHere()).toMatchObject({ source: 'last_used', latitude: 19.427 });
  });

  it('starts where the OS says; saves an own quick address and deletes it after confirming', async () => {
    const { fake } = await open([seed()], {
      position: { latitude: 9.9355, longitude: -84.0783, accuracy: 25, source: 'os' },
    });
    await fireEvent.click(byId('composer-location'));
    await waitFor(() => expect(byId('location-origin').dataset.origin).toBe('os'));
    expect(byId('location-coords').textContent).toBe('9.935500, -84.078300');
    expect(byId('location-save-quick').hasAttribute('disabled')).toBe(true);
    await fireEvent.input(byId('location-label'), { target: { value: 'Casa de Laura' } });
    await fireEvent.input(byId('location-address'), { target: { value: 'Barrio Escalante' } });
    await fireEvent.click(byId('location-save-quick'));
    await waitFor(() =>
      expect(screen.getAllByTestId('location-quick').map((b) => b.dataset.id)).toEqual([
        'org:1',
        'org:2',
        'own:1',
      ]),
    );
    expect((await fake.inboxQuickAddresses()).at(-1)).toMatchObject({
      name: 'Casa de Laura',
      address: 'Barrio Escalante',
      latitude: 9.9355,
      longitude: -84.0783,
    });
    // Only the agent's own can be deleted, and only after confirming.
    expect(screen.getAllByTestId('location-quick-delete').map((b) => b.dataset.id)).toEqual([
      'own:1',
    ]);
    await fireEvent.click(byId('location-quick-delete'));
    expect(byId('location-delete-confirm').textContent).toContain('Casa de Laura');
    await fireEvent.click(byId('location-delete-yes'));
    await waitFor(() => expect(screen.getAllByTestId('location-quick')).toHaveLength(2));
    await fireEvent.click(byId('location-close'));
    await waitFor(() => expect(queryId('location-dialog')).toBeNull());
  });

  it('a refused location says why in the dialog and nothing is sent', async () => {
    const { fake, conversation } = await open();
    fake.failNext('inboxSend', 'invalid_location');
    await fireEvent.click(byId('composer-location'));
    await waitFor(() => expect(byId('location-send').hasAttribute('disabled')).toBe(false));
    await fireEvent.click(byId('location-send'));
    await waitFor(() => expect(byId('location-error').dataset.code).toBe('invalid_location'));
    expect(fake.inbox.messages(conversation.id).filter((m) => m.outgoing)).toEqual([]);
  });
});

describe('a received voice note', () => {
  const voiceSeed = seed([
    {
      from: 'customer',
      kind: 'audio',
      text: null,
      mediaId: 'nota-1',
      minutesAgo: 1,
      content: { type: 'audio', audio: { id: 'nota-1', voice: true } },
    },
  ]);

  it('plays with a waveform that seeks, and a speed button cycling 1×, 1.5×, 2×', async () => {
    await open([voiceSeed]);
    const note = await waitFor(() => byId('voice-note'));
    const audio = note.querySelector('audio')!;
    const wave = within(note).getByTestId('voice-waveform');
    await waitFor(() => expect(wave.children.length).toBe(48));
    expect(audio.playbackRate).toBe(1);
    const speed = within(note).getByTestId('voice-speed');
    expect(speed.textContent?.trim()).toBe('1×');
    await fireEvent.click(speed);
    expect(audio.playbackRate).toBe(1.5);
    expect(speed.textContent?.trim()).toBe('1,5×');
    await fireEvent.click(speed);
    expect(audio.playbackRate).toBe(2);
    await fireEvent.click(speed);
    expect(audio.playbackRate).toBe(1);

    // A click on the waveform seeks (jsdom plays nothing: give the element a length).
    Object.defineProperty(audio, 'duration', { configurable: true, value: 10 });
    await fireEvent(audio, new Event('loadedmetadata'));
    wave.getBoundingClientRect = () => ({ left: 0, width: 200, top: 0, height: 20 }) as DOMRect;
    await fireEvent.click(wave, { clientX: 50 });
    expect(audio.currentTime).toBeCloseTo(2.5);
    expect(wave.dataset.played).toBe('12');
  });

  it('says when a note cannot be read or played, and clears it once it loads', async () => {
    await open([voiceSeed]);
    const note = await waitFor(() => byId('voice-note'));
    const audio = note.querySelector('audio')!;
    expect(queryId('voice-note-failed')).toBeNull();
    // Its file could not be read (the hub away): ▶ reads it again.
    audio.dataset.playable = 'failed';
    await fireEvent(audio, new Event('error'));
    expect(byId('voice-note-failed').textContent).toContain(es['chat.voiceNote.failed']);
    // Read, but not a sound the player can decode.
    delete audio.dataset.playable;
    await fireEvent(audio, new Event('error'));
    expect(byId('voice-note-failed').textContent).toContain(es['chat.voiceNote.unplayable']);
    Object.defineProperty(audio, 'duration', { configurable: true, value: 4 });
    await fireEvent(audio, new Event('loadedmetadata'));
    expect(queryId('voice-note-failed')).toBeNull();
    expect(note.querySelector('.time')!.textContent).toContain('00:04');
  });

  it('an audio file that is not a voice note keeps the plain player', async () => {
    await open([
      seed([
        {
          from: 'customer',
          kind: 'audio',
          text: null,
          mediaId: 'cancion',
          minutesAgo: 1,
          content: { type: 'audio', audio: { id: 'cancion', mime_type: 'audio/mpeg' } },
        },
      ]),
    ]);
    await waitFor(() => expect(byId('chat-audio')).toBeTruthy());
    expect(queryId('voice-note')).toBeNull();
  });
});

describe('Configuración: microphone and map tiles', () => {
  async function settle() {
    for (let i = 0; i < 4; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      await tick();
    }
  }

  it('chooses the microphone (Predeterminado del sistema = none) and the tile URL', async () => {
    const fake = new FakePlatform({
      osLocale: 'es-CR',
      hubServer: FAKE_HUB_SERVER,
      hubLoggedInAs: FAKE_HUB_AGENTS.agent.user,
    });
    render(App, { props: { platform: fake } });
    await settle();
    await fireEvent.click(byId('nav-settings'));
    await settle();
    const select = (await waitFor(() => byId('settings-audio-input'))) as HTMLSelectElement;
    await waitFor(() =>
      expect([...select.options].map((o) => o.textContent?.trim())).toEqual([
        es['inbox.settings.audioInputDefault'],
        'Micrófono interno',
        'Auriculares USB',
      ]),
    );
    expect(select.value).toBe('');
    await fireEvent.change(select, { target: { value: 'Auriculares USB' } });
    const tiles = byId('settings-map-tile-url') as HTMLInputElement;
    expect(tiles.value).toBe('https://tile.openstreetmap.org/{z}/{x}/{y}.png');
    expect(screen.getByText(/OpenStreetMap/, { selector: '.hint' })).toBeTruthy();
    await fireEvent.input(tiles, { target: { value: 'https://tiles.example.com/mapa.png' } });
    await fireEvent.click(byId('settings-save'));
    await settle();
    expect(byId('settings-mapTileUrl-error').textContent).toContain(
      es['settings.invalid.mapTileUrl'].slice(0, 20),
    );
    await fireEvent.input(byId('settings-map-tile-url'), {
      target: { value: 'http://127.0.0.1:8080/{z}/{x}/{y}.png' },
    });
    await fireEvent.click(byId('settings-save'));
    await settle();
    expect(await fake.settingsGet()).toMatchObject({
      audioInputDevice: 'Auriculares USB',
      mapTileUrl: 'http://127.0.0.1:8080/{z}/{x}/{y}.png',
    });
    await fireEvent.change(byId('settings-audio-input'), { target: { value: '' } });
    await fireEvent.click(byId('settings-save'));
    await settle();
    expect((await fake.settingsGet()).audioInputDevice).toBeNull();
  });
});
