import { describe, expect, it } from 'vitest';
import {
  barsOf,
  defaultCentre,
  formatCoords,
  formatDuration,
  nextSpeed,
  pastedName,
  wrapLongitude,
} from './media';

describe('media helpers', () => {
  it('formats durations as mm:ss (h:mm:ss past an hour)', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(3_999)).toBe('00:03');
    expect(formatDuration(65_000)).toBe('01:05');
    expect(formatDuration(3_600_000 + 61_000)).toBe('1:01:01');
    expect(formatDuration(Number.NaN)).toBe('00:00');
  });

  it('cycles the speeds 1 → 1.5 → 2 → 1', () => {
    expect([nextSpeed(1), nextSpeed(1.5), nextSpeed(2), nextSpeed(3)]).toEqual([1.5, 2, 1, 1]);
  });

  it('resamples peaks to bars in 0–1 (max of each slice); none gives flat bars', () => {
    expect(barsOf([0, 255, 51, 102], 2)).toEqual([1, 0.4]);
    expect(barsOf([255], 3)).toEqual([1, 1, 1]);
    expect(barsOf([], 2)).toEqual([0.08, 0.08]);
  });

  it('names a pasted image after the time unless it has a real name', () => {
    const at = new Date(Date.UTC(2025, 10, 23, 15, 4, 5));
    expect(pastedName({ name: 'image.png', type: 'image/png' }, at)).toBe(
      'imagen-20251123150405.png',
    );
    expect(pastedName({ name: '', type: 'image/jpeg' }, at)).toBe('imagen-20251123150405.jpg');
    expect(pastedName({ name: 'plano.png', type: 'image/png' }, at)).toBe('plano.png');
  });

  it('keeps longitudes in range untouched and wraps the others', () => {
    expect(wrapLongitude(-99.1677)).toBe(-99.1677);
    expect(wrapLongitude(190)).toBeCloseTo(-170);
    expect(formatCoords(9.9281, -84.0907)).toBe('9.928100, -84.090700');
  });

  it('starts the map in the default country capital, else Ciudad de México', () => {
    expect(defaultCentre('cr').place).toBe('San José');
    expect(defaultCentre('ZZ').place).toBe('Ciudad de México');
    expect(defaultCentre(null).place).toBe('Ciudad de México');
  });
});
