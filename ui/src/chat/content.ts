// Reading a message's `content` (untrusted JSON: WhatsApp's payload for inbound messages, the
// hub's OutgoingMessage for outbound ones) into the few facts the chat shows. Never throws:
// anything missing or of the wrong type is simply absent.
import type { ChatMessageView } from '../platform';

const record = (value: unknown): Record<string, unknown> | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
const str = (value: unknown): string | null =>
  typeof value === 'string' && value.trim() !== '' ? value : null;
const num = (value: unknown): number | null => {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
};

/** The object that describes the message's kind: `content[kind]` inbound, `content` outbound. */
function body(message: ChatMessageView): Record<string, unknown> {
  const content = record(message.content);
  return record(content?.[message.kind]) ?? content ?? {};
}

export interface MediaInfo {
  caption: string | null;
  filename: string | null;
  /** The file's name when it was sent from here (any kind; documents also have `filename`). */
  name: string | null;
  mimeType: string | null;
  /** Bytes, when the payload says. */
  size: number | null;
  /** A recorded voice note (audio). */
  voice: boolean;
  animated: boolean;
}

export function mediaInfo(message: ChatMessageView): MediaInfo {
  const b = body(message);
  return {
    caption: str(b.caption) ?? (message.kind === 'document' ? null : str(message.text)),
    filename: str(b.filename),
    name: str(b.name) ?? str(b.filename),
    mimeType: str(b.mime_type) ?? str(b.mimeType) ?? str(b.mime),
    size: num(b.file_size) ?? num(b.fileSize) ?? num(b.size),
    voice: b.voice === true,
    animated: b.animated === true,
  };
}

/** `1.2 MB`, `340 KB`, `12 B`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.max(0, Math.round(bytes))} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export interface LocationInfo {
  latitude: number;
  longitude: number;
  name: string | null;
  address: string | null;
}

export function locationInfo(message: ChatMessageView): LocationInfo | null {
  const b = body(message);
  const latitude = num(b.latitude);
  const longitude = num(b.longitude);
  if (latitude === null || longitude === null) return null;
  if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return null;
  return { latitude, longitude, name: str(b.name), address: str(b.address) };
}

/** The OpenStreetMap page centred on the place, with a marker. */
export function mapUrl(location: LocationInfo): string {
  const lat = location.latitude.toFixed(6);
  const lon = location.longitude.toFixed(6);
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
}

export interface SharedContact {
  name: string;
  phones: { phone: string; label: string | null }[];
  emails: string[];
  organization: string | null;
}

/** The contacts of a `contacts` message (WhatsApp's `contacts: [{name, phones, …}]`). */
export function sharedContacts(message: ChatMessageView): SharedContact[] {
  const content = record(message.content);
  const list = Array.isArray(content?.contacts) ? content.contacts : [];
  const out: SharedContact[] = [];
  for (const item of list.slice(0, 20)) {
    const c = record(item);
    if (!c) continue;
    const n = record(c.name);
    const name =
      str(n?.formatted_name) ??
      ([str(n?.first_name), str(n?.last_name)].filter(Boolean).join(' ') || null);
    const phones = (Array.isArray(c.phones) ? c.phones : [])
      .map(record)
      .filter((p): p is Record<string, unknown> => p !== null)
      .map((p) => {
        const waId = str(p.wa_id);
        return {
          phone: str(p.phone) ?? (waId ? `+${waId}` : ''),
          label: str(p.type),
        };
      })
      .filter((p) => p.phone !== '');
    const emails = (Array.isArray(c.emails) ? c.emails : [])
      .map((e) => str(record(e)?.email))
      .filter((e): e is string => e !== null);
    const org = record(c.org);
    out.push({
      name: name ?? phones[0]?.phone ?? '',
      phones,
      emails,
      organization: str(org?.company),
    });
  }
  return out;
}

/** Why WhatsApp could not show a message (`unsupported`): Meta's title and details. */
export function unsupportedReason(message: ChatMessageView): string | null {
  const content = record(message.content);
  const errors = Array.isArray(content?.errors) ? content.errors : [];
  const first = record(errors[0]);
  if (!first) return null;
  const details = str(record(first.error_data)?.details);
  const title = str(first.title) ?? str(first.message);
  return [title, details].filter(Boolean).join(': ') || null;
}
