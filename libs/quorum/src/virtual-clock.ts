import type { Clock, Timer } from './clock.js';
import { assert, type QuorumError } from './errors.js';
import { StallWatchdog } from './stall-watchdog.js';

export interface VirtualClockOptions {
  /**
   * Real time pending timers may wait on a clock that was never driven (`run`, `advance`,
   * `runUntil`) before it reports a stall (`QUORUM_ERR_CLOCK_STALLED`). Default 2000; 0 turns the
   * check off.
   */
  stallTimeoutMs?: number;
  /** Receives the stall error. By default it is thrown from a timer: loud, as an uncaught exception. */
  onStall?: (error: QuorumError) => void;
}

export const DEFAULT_STALL_TIMEOUT_MS = 2000;

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
  private readonly watchdog: StallWatchdog;

  constructor(startMs = 0, options: VirtualClockOptions = {}) {
    this.currentMs = startMs;
    this.watchdog = new StallWatchdog(
      options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      () => this.heap.filter((timer) => !timer.cancelled).length,
      options.onStall ??
        ((error) => {
          throw error;
        }),
    );
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
    this.watchdog.watch();
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
  runUntil(timeMs: number): Promise<void> {
    return this.watchdog.drive(() => this.fireUntil(timeMs));
  }

  private async fireUntil(timeMs: number): Promise<void> {
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
  run<T>(promise: Promise<T>, { limitMs = 3_600_000 }: { limitMs?: number } = {}): Promise<T> {
    return this.watchdog.drive(() => this.fireUntilSettled(promise, limitMs));
  }

  private async fireUntilSettled<T>(promise: Promise<T>, limitMs: number): Promise<T> {
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
