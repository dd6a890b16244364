import { type Clock, systemClock, type Timer } from './clock.js';

export interface LoopOptions {
  /** Pause between the end of one round and the start of the next. */
  intervalMs: number;
  /** One round. */
  task: () => Promise<unknown>;
  /** Defaults to `systemClock`, whose timers are unref'd here: a loop never keeps a process alive. */
  clock?: Clock;
  /** Told about every failed round; the loop goes on either way. */
  onError?: (error: unknown) => void;
}

/**
 * Runs `task` every `intervalMs`, measured from the end of the previous run, so a slow round never
 * overlaps the next. A failing round is counted, reported to `onError` and the loop goes on:
 * background repair must not die of one unreachable peer. `stop()` resolves once the round in
 * flight has finished, so an owner can close its storage after its loops and no round writes into
 * a closed engine.
 */
export class Loop {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly task: () => Promise<unknown>;
  private readonly onError: (error: unknown) => void;
  private timer: Timer | undefined;
  private inFlight: Promise<void> | undefined;
  private isRunning = false;
  private roundCount = 0;
  private failureCount = 0;
  private lastFailure: unknown;

  constructor(options: LoopOptions) {
    this.clock = options.clock ?? systemClock;
    this.intervalMs = options.intervalMs;
    this.task = options.task;
    this.onError = options.onError ?? (() => {});
  }

  start(firstDelayMs = this.intervalMs): void {
    if (this.isRunning) return;
    this.isRunning = true;
    this.schedule(firstDelayMs);
  }

  /** Stops scheduling rounds; resolves once the round in flight (if any) has finished. */
  async stop(): Promise<void> {
    this.isRunning = false;
    this.timer?.cancel();
    this.timer = undefined;
    await this.inFlight;
  }

  /** Runs one round now, unless one is in flight: then resolves when that one finishes. Never rejects. */
  runNow(): Promise<void> {
    this.inFlight ??= this.round().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  get running(): boolean {
    return this.isRunning;
  }

  get rounds(): number {
    return this.roundCount;
  }

  get failures(): number {
    return this.failureCount;
  }

  get lastError(): unknown {
    return this.lastFailure;
  }

  private async round(): Promise<void> {
    try {
      await this.task();
    } catch (error) {
      this.failureCount++;
      this.lastFailure = error;
      this.report(error);
    } finally {
      this.roundCount++;
    }
  }

  /** An `onError` that throws must not stop the loop or escape as an unhandled rejection. */
  private report(error: unknown): void {
    try {
      this.onError(error);
    } catch {
      // The round is already counted as failed; a broken reporter has nowhere better to go.
    }
  }

  private schedule(delayMs: number): void {
    this.timer = this.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      if (!this.isRunning) return;
      void this.runNow().then(() => {
        if (this.isRunning && this.timer === undefined) this.schedule(this.intervalMs);
      });
    });
    this.timer.unref?.();
  }
}
