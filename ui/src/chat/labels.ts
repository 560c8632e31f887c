// Words for a message's kind (a quoted message without text, a media message's label).
import { t, type MessageKey } from '../i18n/index.svelte';
import type { ChatMessageView } from '../platform';

const KIND: Record<string, MessageKey> = {
  image: 'chat.kind.image',
  audio: 'chat.kind.audio',
  video: 'chat.kind.video',
  document: 'chat.kind.document',
  sticker: 'chat.kind.sticker',
  location: 'chat.kind.location',
  contacts: 'chat.kind.contacts',
  template: 'chat.kind.template',
  unsupported: 'chat.kind.unsupported',
};

/** The kind of a message in words (a voice note is told apart from other audio). */
export function kindLabel(message: ChatMessageView): string {
  const content = message.content as Record<string, unknown> | null;
  const audio = content && typeof content === 'object' ? (content.audio ?? content) : null;
  if (message.kind === 'audio' && audio && (audio as { voice?: unknown }).voice === true) {
    return t('chat.kind.voice');
  }
  const key = KIND[message.kind];
  return key ? t(key) : t('chat.kind.other', { kind: message.kind });
}
