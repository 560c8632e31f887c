// Upload progress of the open chat's own files (`inbox:upload`), by message key, shared from
// ChatView to the bubbles below it.
import { getContext, setContext } from 'svelte';
import type { UploadProgressEvent } from '../platform';

const KEY = Symbol('enlace:uploads');

export class Uploads {
  progress = $state<Record<string, { sent: number; total: number }>>({});

  update(event: UploadProgressEvent): void {
    this.progress[event.key] = { sent: event.sent, total: event.total };
  }

  of(key: string): { sent: number; total: number } | null {
    return this.progress[key] ?? null;
  }
}

export function provideUploads(uploads: Uploads): void {
  setContext(KEY, uploads);
}

/** The chat's upload progress, or null outside a ChatView (a bubble rendered alone). */
export function useUploads(): Uploads | null {
  return getContext<Uploads | undefined>(KEY) ?? null;
}
