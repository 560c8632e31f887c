// Tells the host when the first frame is on screen (the cold-start measurement ends there).
import type { Platform } from '../platform';

type FrameRequest = (cb: () => void) => unknown;

/**
 * Calls `platform.uiReady()` once the frame after the next one starts: the first
 * `requestAnimationFrame` runs before the mounted app is painted, the nested one after it.
 * Errors are ignored (an older host or a failed IPC must not break the window).
 */
export function reportFirstFrame(
  platform: Platform,
  nextFrame: FrameRequest = (cb) => requestAnimationFrame(cb),
): void {
  nextFrame(() =>
    nextFrame(() => {
      Promise.resolve()
        .then(() => platform.uiReady())
        .catch(() => {});
    }),
  );
}
