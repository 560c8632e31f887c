// What the fake host does before a file, voice note or location reaches the inbox: a small
// in-memory "disk" of files the agent can pick or drop, staging checked against WhatsApp's limits
// (api-facts C4, by extension and size, with the real codes and a message naming the limit), a
// recorder whose timer and level follow the clock, the microphones, the map position and the
// quick addresses. The upload itself and the message belong to FakeInbox (fake-inbox.ts).
import type {
  AudioInputView,
  PositionView,
  QuickAddressView,
  RecordingStatusView,
  StagedFileView,
  WireError,
} from './types';

const fail = (code: string, message: string, field: string | null = null): WireError => ({
  code,
  message,
  field,
});

const MB = 1024 * 1024;

/** What one extension is sent as, and WhatsApp's limit for it (api-facts C4). */
export interface MediaRule {
  mime: string;
  kind: 'image' | 'video' | 'audio' | 'document' | 'sticker';
  max: number;
}

const IMAGE = 5 * MB;
const VIDEO = 16 * MB;
const AUDIO = 16 * MB;
const DOCUMENT = 100 * MB;
/** Animated stickers; static ones are 100 KB. */
const STICKER = 500 * 1024;

export const MEDIA_RULES: Readonly<Record<string, MediaRule>> = {
  jpg: { mime: 'image/jpeg', kind: 'image', max: IMAGE },
  jpeg: { mime: 'image/jpeg', kind: 'image', max: IMAGE },
  png: { mime: 'image/png', kind: 'image', max: IMAGE },
  mp4: { mime: 'video/mp4', kind: 'video', max: VIDEO },
  '3gp': { mime: 'video/3gpp', kind: 'video', max: VIDEO },
  '3gpp': { mime: 'video/3gpp', kind: 'video', max: VIDEO },
  aac: { mime: 'audio/aac', kind: 'audio', max: AUDIO },
  amr: { mime: 'audio/amr', kind: 'audio', max: AUDIO },
  mp3: { mime: 'audio/mpeg', kind: 'audio', max: AUDIO },
  m4a: { mime: 'audio/mp4', kind: 'audio', max: AUDIO },
  ogg: { mime: 'audio/ogg', kind: 'audio', max: AUDIO },
  opus: { mime: 'audio/ogg', kind: 'audio', max: AUDIO },
  txt: { mime: 'text/plain', kind: 'document', max: DOCUMENT },
  pdf: { mime: 'application/pdf', kind: 'document', max: DOCUMENT },
  doc: { mime: 'application/msword', kind: 'document', max: DOCUMENT },
  docx: {
    mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    kind: 'document',
    max: DOCUMENT,
  },
  xls: { mime: 'application/vnd.ms-excel', kind: 'document', max: DOCUMENT },
  xlsx: {
    mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    kind: 'document',
    max: DOCUMENT,
  },
  ppt: { mime: 'application/vnd.ms-powerpoint', kind: 'document', max: DOCUMENT },
  pptx: {
    mime: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    kind: 'document',
    max: DOCUMENT,
  },
  webp: { mime: 'image/webp', kind: 'sticker', max: STICKER },
};

/** Past this a voice note may show as a plain audio file (api-facts C4). */
export const VOICE_NOTE_PLAY_ICON_MAX = 512 * 1024;

/** A file on the fake disk: its size, and its bytes when a test gave them. */
export interface FakeFile {
  size: number;
  bytes?: Uint8Array;
}

/** A staged file with what its preview shows. */
interface Staged {
  view: StagedFileView;
  bytes: Uint8Array | null;
}

/** Magic numbers for the kinds whose content the fake checks. */
function contentMatches(mime: string, bytes: Uint8Array): boolean {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  const ascii = (text: string, at = 0) =>
    [...text].every((ch, i) => bytes[at + i] === ch.charCodeAt(0));
  switch (mime) {
    case 'image/png':
      return starts(0x89, 0x50, 0x4e, 0x47);
    case 'image/jpeg':
      return starts(0xff, 0xd8, 0xff);
    case 'application/pdf':
      return ascii('%PDF');
    case 'audio/ogg':
      return ascii('OggS');
    case 'image/webp':
      return ascii('RIFF') && ascii('WEBP', 8);
    default:
      return true;
  }
}

function limitText(rule: MediaRule): string {
  const size = rule.max >= MB ? `${rule.max / MB} MB` : `${rule.max / 1024} KB`;
  return `${rule.kind} files can be at most ${size}`;
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function base64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

/** A one-page PDF saying `text` (what the demo's cotización looks like). */
export function tinyPdf(text: string): Uint8Array {
  const safe = text.replace(/[()\\]/g, '');
  const stream = `BT /F1 24 Tf 72 720 Td (${safe}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const at of offsets) out += `${String(at).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}

/** A WAV tone of `ms` milliseconds (8 kHz, 8-bit): what "listening back" plays in the fake. */
export function toneWav(ms: number): Uint8Array {
  const rate = 8000;
  const samples = Math.max(1, Math.floor((Math.min(ms, 60_000) / 1000) * rate));
  const out = new Uint8Array(44 + samples);
  const view = new DataView(out.buffer);
  const text = (at: number, s: string) =>
    [...s].forEach((c, i) => out.set([c.charCodeAt(0)], at + i));
  text(0, 'RIFF');
  view.setUint32(4, 36 + samples, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate, true);
  view.setUint16(32, 1, true);
  view.setUint16(34, 8, true);
  text(36, 'data');
  view.setUint32(40, samples, true);
  for (let i = 0; i < samples; i += 1) {
    out[44 + i] = 128 + Math.round(40 * Math.sin((2 * Math.PI * 440 * i) / rate));
  }
  return out;
}

/** Bar heights 0–255 that look like speech, the same for the same seed. */
export function fakePeaks(seed: string, bars: number): number[] {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < bars; i += 1) {
    h = Math.imul(h ^ (h >>> 13), 1274126177) >>> 0;
    const envelope = Math.sin((Math.PI * (i + 0.5)) / bars);
    out.push(Math.round(30 + 200 * envelope * ((h % 1000) / 1000)));
  }
  return out;
}

/** The organization's quick addresses in the demo (one without a pin). */
export function fakeOrgQuickAddresses(): QuickAddressView[] {
  return [
    {
      id: 'org:1',
      name: 'Oficina Central',
      address: 'Av. Paseo de la Reforma 250, Ciudad de México',
      latitude: 19.427,
      longitude: -99.1677,
      own: false,
    },
    {
      id: 'org:2',
      name: 'Bodega Norte',
      address: 'Calle 5 de Mayo 120, Tlalnepantla',
      latitude: null,
      longitude: null,
      own: false,
    },
  ];
}

/** The demo's Documentos folder (paths the fake's file dialog and drops know). */
export function fakeDemoFiles(): Record<string, FakeFile> {
  const pdf = tinyPdf('Cotizacion 2025');
  return {
    '/home/agente/Documentos/cotizacion.pdf': { size: pdf.length, bytes: pdf },
    '/home/agente/Documentos/foto-producto.png': { size: 240 * 1024 },
    '/home/agente/Documentos/video-instalacion.mp4': { size: 30 * MB },
    '/home/agente/Documentos/planilla.exe': { size: 2 * MB },
  };
}

export interface FakeOutgoingOptions {
  /** Files on the fake disk, by path (default: {@link fakeDemoFiles}). */
  files?: Record<string, FakeFile>;
  /** Where the OS says the agent is (default: unknown). */
  position?: PositionView | null;
  /** Microphones (default: a built-in one, the default, and a USB headset). */
  audioInputs?: AudioInputView[];
  /** The organization's quick addresses (default: {@link fakeOrgQuickAddresses}). */
  quickAddresses?: QuickAddressView[];
}

export class FakeOutgoing {
  /** Files picked next by the file dialog (`null`: the agent cancels). Empty: the demo PDF. */
  readonly picks: (string | null)[] = [];
  /** Microphone access as the OS would answer it. */
  microphone: 'ok' | 'denied' = 'ok';
  /** Every staging refused, by code (tests: refused before any upload). */
  readonly refused: string[] = [];

  private files: Map<string, FakeFile>;
  private staged = new Map<string, Staged>();
  private nextToken = 1;
  private recording: { startedAt: number; device: string | null } | null = null;
  private inputs: AudioInputView[];
  private osPosition: PositionView | null;
  private lastUsed: PositionView | null = null;
  private org: QuickAddressView[];
  private own: QuickAddressView[] = [];
  private nextOwnId = 1;

  constructor(
    private readonly now: () => number,
    options: FakeOutgoingOptions,
    /** The microphone chosen in Configuración (`audioInputDevice`). */
    private readonly chosenInput: () => string | null,
  ) {
    this.files = new Map(Object.entries(options.files ?? fakeDemoFiles()));
    this.osPosition = options.position ?? null;
    this.inputs = options.audioInputs ?? [
      { name: 'Micrófono interno', default: true },
      { name: 'Auriculares USB', default: false },
    ];
    this.org = options.quickAddresses ?? fakeOrgQuickAddresses();
  }

  // ---- files --------------------------------------------------------------------------

  /** Puts a file on the fake disk (a size, or its bytes). */
  putFile(path: string, file: number | Uint8Array): void {
    this.files.set(
      path,
      typeof file === 'number' ? { size: file } : { size: file.length, bytes: file },
    );
  }

  pick(): StagedFileView | null {
    const path =
      this.picks.length > 0 ? this.picks.shift()! : '/home/agente/Documentos/cotizacion.pdf';
    return path === null ? null : this.stagePath(path);
  }

  stagePath(path: string): StagedFileView {
    const file = this.files.get(path);
    if (!file) throw fail('not_found', `no file ${path}`);
    return this.stage(baseName(path), file.size, file.bytes ?? null);
  }

  stageBytes(name: string, bytes: Uint8Array): StagedFileView {
    return this.stage(baseName(name), bytes.length, new Uint8Array(bytes));
  }

  discard(token: string): void {
    this.staged.delete(token);
  }

  /** A staged file (Enviar forgets it once the message is queued). */
  peek(token: string): StagedFileView {
    const staged = this.staged.get(token);
    if (!staged) throw fail('not_found', 'that file is no longer staged');
    return structuredClone(staged.view);
  }

  /** Tokens still staged (tests: Cancelar forgets the file). */
  stagedTokens(): string[] {
    return [...this.staged.keys()];
  }

  url(token: string): string {
    const staged = this.staged.get(token);
    if (!staged) return 'data:,';
    const { view, bytes } = staged;
    if (bytes) return `data:${view.mime};base64,${base64(bytes)}`;
    if (view.kind === 'image') return placeholder(view.name);
    return 'data:,';
  }

  private stage(name: string, size: number, bytes: Uint8Array | null): StagedFileView {
    try {
      const rule = MEDIA_RULES[extensionOf(name)];
      if (!rule) {
        throw fail(
          'whatsapp_media_type',
          'WhatsApp takes JPEG and PNG images, MP4 and 3GPP videos, AAC, AMR, MP3, M4A and OGG audio, text, PDF and Office documents, and WebP stickers',
        );
      }
      if (size === 0) throw fail('whatsapp_media_empty', `${name} is empty`);
      if (size > rule.max) throw fail('whatsapp_media_too_large', limitText(rule));
      if (bytes && !contentMatches(rule.mime, bytes)) {
        throw fail('whatsapp_media_content', `${name} is not a ${rule.mime} file`);
      }
      return this.keep(
        {
          token: `staged-${this.nextToken++}`,
          name,
          mime: rule.mime,
          kind: rule.kind,
          size,
          voice: false,
          durationMs: null,
          peaks: [],
          warning: null,
        },
        bytes,
      );
    } catch (error) {
      this.refused.push((error as WireError).code);
      throw error;
    }
  }

  private keep(view: StagedFileView, bytes: Uint8Array | null): StagedFileView {
    this.staged.set(view.token, { view, bytes });
    return structuredClone(view);
  }

  // ---- the recorder -------------------------------------------------------------------

  inputList(): AudioInputView[] {
    return this.inputs.map((i) => ({ ...i }));
  }

  /** The microphones change (one plugged or unplugged). */
  setInputs(inputs: AudioInputView[]): void {
    this.inputs = inputs.map((i) => ({ ...i }));
  }

  recordStart(): RecordingStatusView {
    if (this.recording) return this.status();
    const chosen = this.chosenInput();
    const device = chosen
      ? this.inputs.find((i) => i.name === chosen)
      : (this.inputs.find((i) => i.default) ?? this.inputs[0]);
    if (!device) {
      throw fail(
        'microphone_unavailable',
        chosen ? `the microphone ${chosen} is not connected` : 'no microphone',
      );
    }
    if (this.microphone === 'denied') throw fail('microphone_denied', 'access was refused');
    this.recording = { startedAt: this.now(), device: device.name };
    return this.status();
  }

  /** Elapsed time from the clock; the level moves like a voice. */
  status(): RecordingStatusView {
    if (!this.recording) return { recording: false, elapsedMs: 0, level: 0, device: null };
    const elapsedMs = Math.max(0, this.now() - this.recording.startedAt);
    const level =
      0.35 + 0.3 * Math.abs(Math.sin(elapsedMs / 170)) * Math.abs(Math.cos(elapsedMs / 530));
    return { recording: true, elapsedMs, level, device: this.recording.device };
  }

  /** Stops and stages an OGG/Opus voice note of about 24 kbit/s. */
  recordStop(): StagedFileView {
    const { elapsedMs } = this.status();
    const started = this.recording;
    this.recording = null;
    if (!started) throw fail('recording_empty', 'nothing is being recorded');
    if (elapsedMs < 500)
      throw fail('recording_empty', 'the recording is shorter than half a second');
    const size = Math.round(elapsedMs * 3) + 200;
    if (size > AUDIO) throw fail('whatsapp_media_too_large', limitText(MEDIA_RULES.ogg!));
    const stamp = new Date(started.startedAt).toISOString().slice(0, 19).replace(/[-:T]/g, '');
    return this.keep(
      {
        token: `staged-${this.nextToken++}`,
        name: `nota-de-voz-${stamp}.ogg`,
        mime: 'audio/ogg',
        kind: 'audio',
        size,
        voice: true,
        durationMs: elapsedMs,
        peaks: fakePeaks(String(started.startedAt), 64),
        warning: size > VOICE_NOTE_PLAY_ICON_MAX ? 'voice_note_large' : null,
      },
      null,
    );
  }

  recordDiscard(): void {
    this.recording = null;
  }

  /** The preview of a recording: a tone as long as it (the fake has no microphone). */
  recordingUrl(token: string): string | null {
    const staged = this.staged.get(token);
    if (!staged?.view.voice) return null;
    return `data:audio/wav;base64,${base64(toneWav(staged.view.durationMs ?? 1000))}`;
  }

  // ---- position and quick addresses ---------------------------------------------------

  here(): PositionView | null {
    const at = this.osPosition ?? this.lastUsed;
    return at ? { ...at } : null;
  }

  /** The OS's location service answers this (null: it does not know). */
  setPosition(position: PositionView | null): void {
    this.osPosition = position ? { ...position } : null;
  }

  /** A location was sent: the map starts there next time the OS does not know. */
  used(latitude: number, longitude: number): void {
    this.lastUsed = { latitude, longitude, accuracy: null, source: 'last_used' };
  }

  quickAddresses(): QuickAddressView[] {
    return [...this.org, ...this.own].map((q) => ({ ...q }));
  }

  saveQuickAddress(
    name: string,
    address: string,
    latitude: number | null,
    longitude: number | null,
  ): QuickAddressView {
    const label = name.trim();
    if (label === '') throw fail('invalid_request', 'a quick address needs a name', 'name');
    if ((latitude === null) !== (longitude === null) || !validPosition(latitude, longitude)) {
      throw fail('invalid_location', 'latitude -90..90 and longitude -180..180');
    }
    const existing = this.own.find((q) => q.name.toLowerCase() === label.toLowerCase());
    const saved: QuickAddressView = {
      id: existing?.id ?? `own:${this.nextOwnId++}`,
      name: label,
      address: address.trim(),
      latitude,
      longitude,
      own: true,
    };
    this.own = existing ? this.own.map((q) => (q === existing ? saved : q)) : [...this.own, saved];
    return { ...saved };
  }

  deleteQuickAddress(id: string): void {
    if (id.startsWith('org:'))
      throw fail('forbidden', "the organization's quick addresses are read-only");
    if (!this.own.some((q) => q.id === id)) throw fail('not_found', `no quick address ${id}`);
    this.own = this.own.filter((q) => q.id !== id);
  }
}

/** Both null (no pin), or finite and in range. */
export function validPosition(latitude: number | null, longitude: number | null): boolean {
  if (latitude === null && longitude === null) return true;
  return (
    latitude !== null &&
    longitude !== null &&
    Number.isFinite(latitude) &&
    Number.isFinite(longitude) &&
    Math.abs(latitude) <= 90 &&
    Math.abs(longitude) <= 180
  );
}

function placeholder(label: string): string {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200">` +
    `<rect width="100%" height="100%" fill="#cfe3d4"/>` +
    `<text x="50%" y="50%" font-family="sans-serif" font-size="16" fill="#245" ` +
    `text-anchor="middle">${label.replace(/[<>&"]/g, '')}</text></svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}
