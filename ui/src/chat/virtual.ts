// Windowing for the timeline: only the rows in (or near) the viewport are rendered. Rows have
// different heights; each is estimated until it has been measured once (by key, so prepending
// older pages keeps what was measured).

/** Offsets of each row's top, plus the total height at the end (`length = rows + 1`). */
export function offsetsOf(
  keys: readonly string[],
  measured: ReadonlyMap<string, number>,
  estimate: (index: number) => number,
): number[] {
  const offsets = new Array<number>(keys.length + 1);
  let y = 0;
  for (let i = 0; i < keys.length; i += 1) {
    offsets[i] = y;
    y += measured.get(keys[i]!) ?? estimate(i);
  }
  offsets[keys.length] = y;
  return offsets;
}

/** The index of the row containing `y` (the last row whose top is at or above it). */
export function rowAt(offsets: readonly number[], y: number): number {
  const rows = offsets.length - 1;
  if (rows <= 0) return 0;
  let lo = 0;
  let hi = rows - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Rows `[start, end)` to render for the viewport, with `overscan` pixels above and below. */
export function visibleRange(
  offsets: readonly number[],
  scrollTop: number,
  viewport: number,
  overscan: number,
): { start: number; end: number } {
  const rows = offsets.length - 1;
  if (rows <= 0) return { start: 0, end: 0 };
  const start = rowAt(offsets, Math.max(0, scrollTop - overscan));
  const end = Math.min(rows, rowAt(offsets, scrollTop + viewport + overscan) + 1);
  return { start, end: Math.max(end, start + 1) };
}

/** Near enough to the bottom to count as "at the bottom" (follow new messages). */
export function atBottom(scrollTop: number, viewport: number, total: number, slack = 48): boolean {
  return total - (scrollTop + viewport) <= slack;
}
