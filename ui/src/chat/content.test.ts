import { describe, expect, it } from 'vitest';
import type { ChatMessageView } from '../platform';
import {
  formatBytes,
  locationInfo,
  mapUrl,
  mediaInfo,
  sharedContacts,
  unsupportedReason,
} from './content';

const msg = (kind: string, content: unknown, text: string | null = null): ChatMessageView => ({
  key: 'h:1',
  conversationId: 1,
  hubId: 1,
  clientId: null,
  wamid: 'w',
  outgoing: false,
  kind,
  text,
  content,
  mediaId: 'm1',
  replyTo: null,
  status: 'received',
  error: null,
  agentId: null,
  at: 0,
});

describe('message content (untrusted JSON)', () => {
  it('reads media details of inbound and outbound shapes', () => {
    const doc = mediaInfo(
      msg('document', {
        document: { filename: 'factura.pdf', mime_type: 'application/pdf', file_size: 48_000 },
      }),
    );
    expect(doc).toMatchObject({
      filename: 'factura.pdf',
      mimeType: 'application/pdf',
      size: 48_000,
    });
    expect(mediaInfo(msg('audio', { audio: { voice: true } })).voice).toBe(true);
    // A file sent from here while it uploads: the hub's Media plus the app's extras.
    expect(
      mediaInfo(
        msg('document', {
          type: 'media',
          kind: 'document',
          mediaId: '',
          filename: 'plan.pdf',
          name: 'plan.pdf',
          mime: 'application/pdf',
          size: 2048,
        }),
      ),
    ).toMatchObject({ name: 'plan.pdf', mimeType: 'application/pdf', size: 2048 });
    expect(mediaInfo(msg('image', { type: 'media', kind: 'image', caption: 'hola' })).caption).toBe(
      'hola',
    );
    expect(mediaInfo(msg('image', null, 'pie')).caption).toBe('pie');
    expect(mediaInfo(msg('sticker', { sticker: { animated: true } })).animated).toBe(true);
    expect(formatBytes(12)).toBe('12 B');
    expect(formatBytes(48_000)).toBe('47 KB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.0 MB');
  });

  it('reads a location and makes the OpenStreetMap link', () => {
    const place = locationInfo(
      msg('location', {
        location: { latitude: 19.4326, longitude: -99.1332, name: 'Zócalo', address: 'CDMX' },
      }),
    )!;
    expect(place).toEqual({
      latitude: 19.4326,
      longitude: -99.1332,
      name: 'Zócalo',
      address: 'CDMX',
    });
    expect(mapUrl(place)).toBe(
      'https://www.openstreetmap.org/?mlat=19.432600&mlon=-99.133200#map=16/19.432600/-99.133200',
    );
    expect(
      locationInfo(msg('location', { location: { latitude: '9.93', longitude: '-84.08' } })),
    ).toMatchObject({ latitude: 9.93, longitude: -84.08, name: null });
    expect(locationInfo(msg('location', { location: { latitude: 200, longitude: 0 } }))).toBeNull();
    expect(locationInfo(msg('location', 'junk'))).toBeNull();
  });

  it('reads shared contacts, skipping junk', () => {
    const contacts = sharedContacts(
      msg('contacts', {
        contacts: [
          {
            name: { formatted_name: 'Luis Pérez', first_name: 'Luis' },
            phones: [{ phone: '+52 55 1234 5678', type: 'CELL' }, { wa_id: '5215587654321' }, 7],
            emails: [{ email: 'luis@example.com' }],
            org: { company: 'ACME' },
          },
          'junk',
          { name: { first_name: 'Ana', last_name: 'Gómez' } },
        ],
      }),
    );
    expect(contacts).toEqual([
      {
        name: 'Luis Pérez',
        phones: [
          { phone: '+52 55 1234 5678', label: 'CELL' },
          { phone: '+5215587654321', label: null },
        ],
        emails: ['luis@example.com'],
        organization: 'ACME',
      },
      { name: 'Ana Gómez', phones: [], emails: [], organization: null },
    ]);
    expect(sharedContacts(msg('contacts', null))).toEqual([]);
  });

  it("gives an unsupported message's reason from Meta's errors", () => {
    expect(
      unsupportedReason(
        msg('unsupported', {
          errors: [
            {
              code: 131051,
              title: 'Message type unknown',
              error_data: { details: 'Message type is currently not supported.' },
            },
          ],
        }),
      ),
    ).toBe('Message type unknown: Message type is currently not supported.');
    expect(unsupportedReason(msg('unsupported', {}))).toBeNull();
  });
});
