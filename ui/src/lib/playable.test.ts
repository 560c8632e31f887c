import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { playable } from './playable';

// jsdom has no object URLs: count what is created and revoked.
let created: Blob[] = [];
let revoked: string[] = [];

beforeEach(() => {
  created = [];
  revoked = [];
  URL.createObjectURL = (blob: Blob) => {
    created.push(blob);
    return `blob:test/${created.length}`;
  };
  URL.revokeObjectURL = (url: string) => {
    revoked.push(url);
  };
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function serving(files: Record<string, string>) {
  const asked: string[] = [];
  vi.stubGlobal('fetch', async (url: string) => {
    asked.push(url);
    const body = files[url];
    return body === undefined
      ? new Response('missing', { status: 404 })
      : new Response(body, { headers: { 'content-type': 'audio/ogg' } });
  });
  return asked;
}

/** Stubs `audio.play` (jsdom plays nothing): it unpauses the element and records the `src`
 *  it was asked to play. */
function recordPlays(audio: HTMLAudioElement): string[] {
  let paused = true;
  const played: string[] = [];
  Object.defineProperty(audio, 'paused', { get: () => paused });
  audio.play = async () => {
    paused = false;
    played.push(audio.getAttribute('src') ?? '');
  };
  return played;
}

describe('playable', () => {
  it('plays straight from the URL where the webview can', () => {
    const asked = serving({});
    const audio = document.createElement('audio');
    playable(audio, { src: 'enlace-media://localhost/abc', throughBlob: false });
    expect(audio.getAttribute('src')).toBe('enlace-media://localhost/abc');
    expect(audio.dataset.source).toBe('enlace-media://localhost/abc');
    expect(asked).toEqual([]);
  });

  it('hands WebKitGTK a blob of the same bytes and releases it when the element goes', async () => {
    const asked = serving({ 'http://enlace-media.localhost/abc': 'OggS-note' });
    const audio = document.createElement('audio');
    const action = playable(audio, {
      src: 'http://enlace-media.localhost/abc',
      throughBlob: true,
    });
    await settle();
    expect(asked).toEqual(['http://enlace-media.localhost/abc']);
    expect(audio.getAttribute('src')).toBe('blob:test/1');
    expect(await created[0]!.text()).toBe('OggS-note');
    expect(audio.dataset.source).toBe('http://enlace-media.localhost/abc');
    action.destroy();
    expect(revoked).toEqual(['blob:test/1']);
  });

  it('a new source releases the old blob', async () => {
    serving({ 'u:1': 'one', 'u:2': 'two' });
    const video = document.createElement('video');
    const action = playable(video, { src: 'u:1', throughBlob: true });
    await settle();
    action.update({ src: 'u:2', throughBlob: true });
    await settle();
    expect(revoked).toEqual(['blob:test/1']);
    expect(video.getAttribute('src')).toBe('blob:test/2');
    expect(await created[1]!.text()).toBe('two');
  });

  it('▶ pressed before the bytes arrive plays once they are there', async () => {
    serving({ 'u:late': 'note' });
    const audio = document.createElement('audio');
    const played = recordPlays(audio);
    playable(audio, { src: 'u:late', throughBlob: true });
    void audio.play(); // the agent's click, before fetch answered: no source yet
    await settle();
    expect(played).toEqual(['', 'blob:test/1']);
  });

  it('a source that cannot be read is an error on the element, not a silent blank', async () => {
    serving({});
    const audio = document.createElement('audio');
    const errors: Event[] = [];
    audio.addEventListener('error', (e) => errors.push(e));
    playable(audio, { src: 'u:gone', throughBlob: true });
    await settle();
    expect(errors).toHaveLength(1);
    expect(audio.dataset.playable).toBe('failed');
    expect(audio.getAttribute('src')).toBeNull();
  });

  it('▶ on a source that failed reads it again and plays it', async () => {
    const files: Record<string, string> = {};
    const asked = serving(files);
    const audio = document.createElement('audio');
    const played = recordPlays(audio);
    playable(audio, { src: 'u:later', throughBlob: true });
    await settle();
    expect(audio.dataset.playable).toBe('failed');
    files['u:later'] = 'note'; // the hub is back
    void audio.play();
    audio.dispatchEvent(new Event('play'));
    await settle();
    expect(asked).toEqual(['u:later', 'u:later']);
    expect(audio.dataset.playable).toBeUndefined();
    expect(played).toEqual(['', 'blob:test/1']);
  });
});
