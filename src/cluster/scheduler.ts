/**
 * Time as the cluster code sees it: a clock and one-shot timers. Production uses the process's
 * clock and timers; tests use ManualScheduler so backoff, silence and staleness are exact.
 */
export interface Scheduler {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `delayMs`; the returned function cancels it (idempotent). */
  schedule(callback: () => void, delayMs: number): () => void;
}

export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  schedule(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    // Supervision timers must never keep a stopping process alive.
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** A promise-returning delay on a scheduler (what client-node's ListWatch accepts as `delayFn`). */
export function delayOn(scheduler: Scheduler): (ms: number) => Promise<void> {
  return (ms) => new Promise((resolve) => void scheduler.schedule(resolve, ms));
}

interface ManualTimer {
  readonly at: number;
  readonly sequence: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A scheduler whose time only moves when `advance` is called: due timers run in time order
 * (ties in scheduling order), including timers scheduled by timers that fall due in the window.
 * For tests and simulations.
 */
export class ManualScheduler implements Scheduler {
  private time: number;
  private sequence = 0;
  private timers: ManualTimer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  schedule(callback: () => void, delayMs: number): () => void {
    const timer: ManualTimer = { at: this.time + Math.max(0, delayMs), sequence: this.sequence++, callback, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.nextDue(end);
      if (next === undefined) break;
      this.timers = this.timers.filter((timer) => timer !== next);
      this.time = next.at;
      next.callback();
    }
    this.time = end;
  }

  /** Delays (from now) of the timers still pending, soonest first. */
  pendingDelays(): number[] {
    return this.timers
      .filter((timer) => !timer.cancelled)
      .map((timer) => timer.at - this.time)
      .sort((a, b) => a - b);
  }

  private nextDue(end: number): ManualTimer | undefined {
    this.timers = this.timers.filter((timer) => !timer.cancelled);
    let next: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (timer.at > end) continue;
      if (next === undefined || timer.at < next.at || (timer.at === next.at && timer.sequence < next.sequence)) next = timer;
    }
    return next;
  }
}
