import { QuorumError, QuorumErrorCode } from './errors.js';

/**
 * Notices a `VirtualClock` that was never driven while it has pending timers. Virtual time only
 * moves inside `run`/`advance`/`runUntil`, so a test that awaits a virtual timer without them would
 * hang until the test runner's timeout with no hint why; this turns that into an error that says
 * what to call. Once the clock has been driven it stops watching: a test that drives its clock
 * knows how it works, and timers it leaves behind are not a hang. It watches on a real, unref'd
 * timer, so it never keeps a process alive.
 */
export class StallWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private everDriven = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly pendingTimers: () => number,
    private readonly onStall: (error: QuorumError) => void,
  ) {}

  /** A virtual timer was set: start watching, unless already watching or no longer needed. */
  watch(): void {
    if (this.timeoutMs <= 0 || this.everDriven || this.timer !== undefined) return;
    this.timer = setTimeout(() => this.check(), this.timeoutMs);
    this.timer.unref();
  }

  /** Runs one drive of the clock. */
  drive<T>(run: () => Promise<T>): Promise<T> {
    this.everDriven = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return run();
  }

  private check(): void {
    this.timer = undefined;
    const pending = this.pendingTimers();
    if (this.everDriven || pending === 0) return;
    this.onStall(
      new QuorumError(
        QuorumErrorCode.CLOCK_STALLED,
        `VirtualClock: ${pending} timer(s) have waited ${this.timeoutMs} ms of real time on a clock nothing ` +
          'has advanced. Virtual time only moves inside `await clock.run(promise)`, `await clock.advance(ms)` ' +
          'or `await clock.runUntil(timeMs)`; pass { stallTimeoutMs: 0 } to turn this check off.',
      ),
    );
  }
}
