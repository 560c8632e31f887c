// The source of an <audio> or <video> element showing one of the app's media URLs. Where the
// platform says the webview cannot play from the app's own scheme (`mediaThroughBlob`,
// WebKitGTK), the bytes are fetched through the scheme (which fetch can read) and the element
// plays a `blob:` URL of them, released when the source changes or the element goes. The
// original URL stays on the element as `data-source`. A source that could not be read marks the
// element `data-playable="failed"` and is read again when ▶ is pressed.

export interface PlayableSource {
  /** The app's URL for the media (`mediaUrl`, `stagedUrl`). */
  src: string;
  /** `platform.mediaThroughBlob`. */
  throughBlob: boolean;
}

/** Svelte action: `<audio use:playable={{ src, throughBlob }}>`. */
export function playable(node: HTMLMediaElement, source: PlayableSource) {
  let blobUrl: string | null = null;
  let loading: AbortController | null = null;

  function release() {
    loading?.abort();
    loading = null;
    if (blobUrl) URL.revokeObjectURL(blobUrl);
    blobUrl = null;
  }

  async function load({ src, throughBlob }: PlayableSource) {
    release();
    node.dataset.source = src;
    delete node.dataset.playable;
    if (!throughBlob) {
      node.src = src;
      return;
    }
    const controller = new AbortController();
    loading = controller;
    try {
      const reply = await fetch(src, { signal: controller.signal });
      if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
      const bytes = await reply.blob();
      if (controller.signal.aborted) return;
      blobUrl = URL.createObjectURL(bytes);
      // ▶ pressed before the bytes were here: a new source aborts that play(), so ask again.
      const wanted = !node.paused;
      node.src = blobUrl;
      if (wanted) void node.play()?.catch(() => {});
    } catch {
      if (controller.signal.aborted) return;
      // The element shows its own "cannot play" state, as it would for a broken source.
      node.dataset.playable = 'failed';
      node.dispatchEvent(new Event('error'));
    } finally {
      if (loading === controller) loading = null;
    }
  }

  // ▶ on a source that failed (the hub was away, a download broke): read it again; the
  // element is no longer paused, so the new blob plays once it is there.
  function retry() {
    if (node.dataset.playable === 'failed' && !loading) void load(source);
  }
  node.addEventListener('play', retry);

  void load(source);
  return {
    update(next: PlayableSource) {
      if (next.src !== source.src || next.throughBlob !== source.throughBlob) {
        source = next;
        void load(next);
      }
    },
    destroy() {
      node.removeEventListener('play', retry);
      // Let the player go now rather than whenever the element is collected: stop it and
      // empty its source (the HTML way to release a media element's resources).
      node.pause();
      node.removeAttribute('src');
      node.load();
      release();
    },
  };
}
