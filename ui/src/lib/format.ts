// Formatting of wire values for display. Timestamps are ms since the epoch (UTC) and are
// shown in the local time zone.
import type { UiLanguage } from '../i18n/index.svelte';

const pad = (n: number) => String(n).padStart(2, '0');

/** Local date, e.g. `23/11/2025` (es) or `11/23/2025` (en). */
export function formatDate(ms: number, lang: UiLanguage): string {
  return new Intl.DateTimeFormat(lang === 'es' ? 'es' : 'en-US', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(ms));
}

/** Local time as `HH:MM:SS` (24 h), the same in every language. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A running timer: `M:SS`, or `H:MM:SS` after an hour. */
export function formatElapsed(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}:${pad(m)}:${pad(rest)}` : `${m}:${pad(rest)}`;
}

/** A pause timer: `MM:SS`, or `H:MM:SS` after an hour. */
export function formatTimer(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}:${pad(m)}:${pad(rest)}` : `${pad(m)}:${pad(rest)}`;
}

/** A total time for people: `45 s`, `12 min 05 s`, `1 h 13 min` (same in es and en). */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h === 0) return `${m} min ${pad(s % 60)} s`;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}
