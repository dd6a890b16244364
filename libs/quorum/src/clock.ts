/**
 * Time, injected. Every timeout, interval and timestamp in the library reads this interface, so
 * tests and the simulation run on `VirtualClock` (deterministic, instant) and services on
 * `systemClock`.
 */
export interface Clock {
  /** Milliseconds since the epoch (or since the start of a virtual run). */
  now(): number;
  /** Calls `callback` once after `delayMs`. */
  setTimer(delayMs: number, callback: () => void): Timer;
}

export interface Timer {
  cancel(): void;
  /** Lets the process exit while this timer is pending (real clocks only; virtual timers have no process to hold). */
  unref?(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, callback) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle), unref: () => handle.unref() };
  },
};

/** Resolves after `delayMs` on `clock`. */
export function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(delayMs, resolve));
}

/**
 * A clock whose timers all die together: a component (or a simulated node) takes a scope, and
 * `dispose()` cancels every timer it still has pending, which is how a crash stops its loops.
 */
export class ClockScope implements Clock {
  private readonly parent: Clock;
  private readonly timers = new Set<Timer>();
  private isDisposed = false;

  constructor(parent: Clock) {
    this.parent = parent;
  }

  now(): number {
    return this.parent.now();
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    if (this.isDisposed) return { cancel() {} };
    const timer: Timer = this.parent.setTimer(delayMs, () => {
      this.timers.delete(timer);
      callback();
    });
    this.timers.add(timer);
    return {
      cancel: () => {
        this.timers.delete(timer);
        timer.cancel();
      },
      unref: () => timer.unref?.(),
    };
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  dispose(): void {
    this.isDisposed = true;
    for (const timer of this.timers) timer.cancel();
    this.timers.clear();
  }
}
