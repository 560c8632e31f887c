import { describe, expect, it } from 'vitest';
import { FakePlatform } from '../platform';
import { reportFirstFrame } from './first-frame';

/** A frame scheduler the test steps by hand. */
function frames() {
  let queue: (() => void)[] = [];
  return {
    request: (cb: () => void) => void queue.push(cb),
    /** Runs the callbacks queued for the next frame (not the ones they queue). */
    step() {
      const now = queue;
      queue = [];
      now.forEach((cb) => cb());
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('reportFirstFrame', () => {
  it('calls uiReady once, after the second frame', async () => {
    const fake = new FakePlatform();
    const f = frames();
    reportFirstFrame(fake, f.request);
    await settle();
    expect(fake.uiReadyCalls).toBe(0);
    f.step();
    await settle();
    expect(fake.uiReadyCalls).toBe(0);
    f.step();
    await settle();
    expect(fake.uiReadyCalls).toBe(1);
    f.step();
    await settle();
    expect(fake.uiReadyCalls).toBe(1);
  });

  it('ignores a failing uiReady', async () => {
    const fake = new FakePlatform();
    fake.failNext('uiReady', 'internal');
    const f = frames();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      reportFirstFrame(fake, f.request);
      f.step();
      f.step();
      await settle();
      await settle();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(fake.uiReadyCalls).toBe(1);
    expect(unhandled).toEqual([]);
  });
});
