// One ticking clock for every running timer (pauses, the side-bar chip, the live table, the
// login wait). It runs only while some component uses it, and ticks once a second.
const clock = $state({ now: Date.now() });
let users = 0;
let timer: ReturnType<typeof setInterval> | null = null;

/** Call during component set-up; read `.now` (ms since the epoch) in the template. */
export function useClock(): { readonly now: number } {
  $effect(() => {
    users += 1;
    clock.now = Date.now();
    timer ??= setInterval(() => (clock.now = Date.now()), 1000);
    return () => {
      users -= 1;
      if (users === 0 && timer !== null) {
        clearInterval(timer);
        timer = null;
      }
    };
  });
  return clock;
}

/** Whole seconds from `since` to `now`, never negative. */
export function secondsSince(since: number, now: number): number {
  return Math.max(0, Math.floor((now - since) / 1000));
}
