import { assert } from './errors.js';

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

interface ScheduledTimer {
  at: number;
  sequence: number;
  callback: () => void;
  cancelled: boolean;
}

/** Upper bound on timers fired by one `run`/`advance` call: a runaway loop fails instead of hanging. */
const MAX_EVENTS_PER_RUN = 50_000_000;

/**
 * A discrete-event clock. Time stands still until the test (or the simulation) advances it; then
 * timers fire in time order (ties in the order they were set), and after each one every promise
 * continuation it triggered runs before the next timer fires. With no real I/O in play, a run is a
 * pure function of its inputs and its seed.
 */
export class VirtualClock implements Clock {
  private currentMs: number;
  private sequence = 0;
  private readonly heap: ScheduledTimer[] = [];

  constructor(startMs = 0) {
    this.currentMs = startMs;
  }

  now(): number {
    return this.currentMs;
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    assert(Number.isFinite(delayMs), `timer delay must be finite, got ${delayMs}`);
    const timer: ScheduledTimer = {
      at: this.currentMs + Math.max(0, delayMs),
      sequence: this.sequence++,
      callback,
      cancelled: false,
    };
    this.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Timers still scheduled (cancelled ones may be counted until they reach the top of the queue). */
  get pendingTimers(): number {
    return this.heap.length;
  }

  /** Fires every timer due up to `now + delayMs`, then leaves the clock there. */
  async advance(delayMs: number): Promise<void> {
    await this.runUntil(this.currentMs + delayMs);
  }

  /** Fires every timer due at or before `timeMs`, then sets the clock to `timeMs`. */
  async runUntil(timeMs: number): Promise<void> {
    await settleMicrotasks();
    let events = 0;
    for (;;) {
      const next = this.peek();
      if (next === undefined || next.at > timeMs) break;
      await this.fireNext();
      assert(++events < MAX_EVENTS_PER_RUN, 'virtual clock: too many events in one run');
    }
    if (timeMs > this.currentMs) this.currentMs = timeMs;
  }

  /**
   * Fires timers until `promise` settles and returns its outcome. Throws if no timer is left while
   * the promise is still pending (nothing could ever settle it), or when `limitMs` of virtual time
   * pass first.
   */
  async run<T>(promise: Promise<T>, { limitMs = 3_600_000 }: { limitMs?: number } = {}): Promise<T> {
    let settled = false;
    const observed = promise.then(
      (value) => {
        settled = true;
        return value;
      },
      (error: unknown) => {
        settled = true;
        throw error;
      },
    );
    observed.catch(() => {});
    const deadline = this.currentMs + limitMs;
    await settleMicrotasks();
    let events = 0;
    while (!settled) {
      const next = this.peek();
      if (next === undefined) throw new Error('virtual clock: the promise can never settle (no timers left)');
      if (next.at > deadline)
        throw new Error(`virtual clock: the promise did not settle within ${limitMs} ms`);
      await this.fireNext();
      assert(++events < MAX_EVENTS_PER_RUN, 'virtual clock: too many events in one run');
    }
    return observed;
  }

  private async fireNext(): Promise<void> {
    const timer = this.pop()!;
    if (timer.cancelled) return;
    if (timer.at > this.currentMs) this.currentMs = timer.at;
    timer.callback();
    await settleMicrotasks();
  }

  private peek(): ScheduledTimer | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0];
  }

  private push(timer: ScheduledTimer): void {
    const heap = this.heap;
    heap.push(timer);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!earlier(heap[index]!, heap[parent]!)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }

  private pop(): ScheduledTimer | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && earlier(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && earlier(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === index) break;
      [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
      index = smallest;
    }
    return top;
  }
}

function earlier(a: ScheduledTimer, b: ScheduledTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.sequence < b.sequence);
}

/**
 * Lets every pending promise continuation run: Node drains the whole microtask queue before it
 * runs an immediate, so when this resolves, everything the last timer set in motion has either
 * finished or is waiting on a later timer.
 */
function settleMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
