// Manually advanced time for queue and rate-limit tests: no real sleeping.
import type { Timers } from "../../../controllers/runtime/workqueue.ts";

export class FakeTimers implements Timers {
  private t = 0;
  /** How many timers have fired: a spinning timer shows up here. */
  fired = 0;
  private nextId = 1;
  private pending = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = this.nextId++;
    // Like the real setTimeout: a delay past 2^31-1 ms overflows and fires at once.
    const delay = ms > 2 ** 31 - 1 ? 1 : ms;
    this.pending.set(id, { at: this.t + delay, fn });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.pending.delete(id as number);
  }

  /** Moves time forward, firing due timers in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.pending].filter(([, p]) =>
        p.at <= end
      ).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = due[1].at;
      this.fired++;
      due[1].fn();
    }
    this.t = end;
  }
}
