import { describe, expect, it } from 'vitest';
import { atBottom, offsetsOf, rowAt, visibleRange } from './virtual';

describe('virtual window', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`);
  const offsets = offsetsOf(keys, new Map([['k1', 100]]), () => 50);

  it('uses measured heights where known and estimates elsewhere', () => {
    expect(offsets[0]).toBe(0);
    expect(offsets[1]).toBe(50);
    expect(offsets[2]).toBe(150);
    expect(offsets[5000]).toBe(50 * 4999 + 100);
  });

  it('finds the row at a height', () => {
    expect(rowAt(offsets, 0)).toBe(0);
    expect(rowAt(offsets, 149)).toBe(1);
    expect(rowAt(offsets, 150)).toBe(2);
    expect(rowAt(offsets, 1e9)).toBe(4999);
    expect(rowAt([0], 10)).toBe(0);
  });

  it('renders only the rows in the viewport plus the overscan', () => {
    const bottom = offsets[5000]! - 600;
    const { start, end } = visibleRange(offsets, bottom, 600, 200);
    expect(end).toBe(5000);
    expect(end - start).toBeLessThan(25);
    const top = visibleRange(offsets, 0, 600, 200);
    expect(top.start).toBe(0);
    expect(top.end).toBeLessThan(20);
    expect(visibleRange([0], 0, 600, 200)).toEqual({ start: 0, end: 0 });
  });

  it('knows when the agent is at the bottom', () => {
    expect(atBottom(400, 600, 1000)).toBe(true);
    expect(atBottom(360, 600, 1000)).toBe(true);
    expect(atBottom(100, 600, 1000)).toBe(false);
  });
});
