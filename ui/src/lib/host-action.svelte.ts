// A button's request to the host (answer, reject, hang up) that runs one at a time and remembers
// its last failure, for the components that show it.
import { toWireError, type WireError } from '../platform';

export class HostAction {
  /** True while a request is under way (its buttons are disabled). */
  busy = $state(false);
  /** The last request's failure; cleared when a request succeeds. */
  error = $state<WireError | null>(null);

  /** Runs `request` unless one is already under way. Never rejects: a failure lands in `error`. */
  async run(request: () => Promise<unknown>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await request();
      this.error = null;
    } catch (e) {
      this.error = toWireError(e);
    } finally {
      this.busy = false;
    }
  }
}
