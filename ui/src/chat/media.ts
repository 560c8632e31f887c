// Small pure helpers for sending files, voice notes and locations (no Svelte, no platform).

/** `m:ss` (or `h:mm:ss`) for a duration in milliseconds. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
}

/** The voice-note speeds, in the order the button cycles them. */
export const SPEEDS = [1, 1.5, 2] as const;

export function nextSpeed(speed: number): number {
  const i = SPEEDS.indexOf(speed as (typeof SPEEDS)[number]);
  return SPEEDS[(i + 1) % SPEEDS.length]!;
}

/** `1×`, `1.5×` (with the language's decimal separator). */
export function speedLabel(speed: number, lang: string): string {
  return `${speed.toLocaleString(lang)}×`;
}

/**
 * Resamples waveform peaks (0–255) to `bars` heights in 0–1 (max of each slice), so a
 * recording's peaks and a received note's waveform draw the same way. Empty input: flat bars.
 */
export function barsOf(peaks: readonly number[], bars: number): number[] {
  if (bars <= 0) return [];
  if (peaks.length === 0) return Array.from({ length: bars }, () => 0.08);
  const out: number[] = [];
  for (let i = 0; i < bars; i += 1) {
    const from = Math.floor((i * peaks.length) / bars);
    const to = Math.max(from + 1, Math.floor(((i + 1) * peaks.length) / bars));
    let max = 0;
    for (let j = from; j < to && j < peaks.length; j += 1) max = Math.max(max, peaks[j] ?? 0);
    out.push(Math.max(0.08, Math.min(1, max / 255)));
  }
  return out;
}

/** The image types a paste turns into a file to send. */
const PASTE_EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

/** The name a pasted image is staged under (its own name, else `imagen-<time>.<ext>`). */
export function pastedName(file: { name: string; type: string }, now: Date): string {
  if (file.name && /\.[A-Za-z0-9]{2,5}$/.test(file.name) && file.name !== 'image.png') {
    return file.name;
  }
  const ext = PASTE_EXTENSIONS[file.type] ?? 'png';
  const stamp = now.toISOString().slice(0, 19).replace(/[-:T]/g, '');
  return `imagen-${stamp}.${ext}`;
}

/** Where the map starts when the agent's position is unknown: the default country's capital. */
export const CAPITALS: Readonly<
  Record<string, { place: string; latitude: number; longitude: number }>
> = {
  AR: { place: 'Buenos Aires', latitude: -34.6037, longitude: -58.3816 },
  BO: { place: 'La Paz', latitude: -16.4897, longitude: -68.1193 },
  BR: { place: 'Brasília', latitude: -15.7939, longitude: -47.8828 },
  CL: { place: 'Santiago', latitude: -33.4489, longitude: -70.6693 },
  CO: { place: 'Bogotá', latitude: 4.711, longitude: -74.0721 },
  CR: { place: 'San José', latitude: 9.9281, longitude: -84.0907 },
  CU: { place: 'La Habana', latitude: 23.1136, longitude: -82.3666 },
  DO: { place: 'Santo Domingo', latitude: 18.4861, longitude: -69.9312 },
  EC: { place: 'Quito', latitude: -0.1807, longitude: -78.4678 },
  ES: { place: 'Madrid', latitude: 40.4168, longitude: -3.7038 },
  GT: { place: 'Ciudad de Guatemala', latitude: 14.6349, longitude: -90.5069 },
  HN: { place: 'Tegucigalpa', latitude: 14.0723, longitude: -87.1921 },
  MX: { place: 'Ciudad de México', latitude: 19.4326, longitude: -99.1332 },
  NI: { place: 'Managua', latitude: 12.1364, longitude: -86.2514 },
  PA: { place: 'Ciudad de Panamá', latitude: 8.9824, longitude: -79.5199 },
  PE: { place: 'Lima', latitude: -12.0464, longitude: -77.0428 },
  PR: { place: 'San Juan', latitude: 18.4655, longitude: -66.1057 },
  PY: { place: 'Asunción', latitude: -25.2637, longitude: -57.5759 },
  SV: { place: 'San Salvador', latitude: 13.6929, longitude: -89.2182 },
  US: { place: 'Washington, D. C.', latitude: 38.9072, longitude: -77.0369 },
  UY: { place: 'Montevideo', latitude: -34.9011, longitude: -56.1645 },
  VE: { place: 'Caracas', latitude: 10.4806, longitude: -66.9036 },
};

/** The default country's capital, else Ciudad de México. */
export function defaultCentre(country: string | null | undefined) {
  return CAPITALS[(country ?? '').trim().toUpperCase()] ?? CAPITALS.MX!;
}

/** `lat, lon` with 6 decimals (about 10 cm). */
export function formatCoords(latitude: number, longitude: number): string {
  return `${latitude.toFixed(6)}, ${longitude.toFixed(6)}`;
}

/** Wraps a longitude into −180…180 (a map dragged round the world gives any value). */
export function wrapLongitude(longitude: number): number {
  // In range: untouched (the arithmetic below would add float noise to a quick address's value).
  if (longitude >= -180 && longitude <= 180) return longitude;
  return ((((longitude + 180) % 360) + 360) % 360) - 180;
}
