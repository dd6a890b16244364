import type { Clock, Timer } from './clock.js';

/**
 * Runs `task` every `intervalMs`, measured from the end of the previous run, so a slow round never
 * overlaps the next. A failing round is counted and the loop goes on: background repair must not
 * die of one unreachable peer.
 */
export class Loop {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #task: () => Promise<unknown>;
  #timer: Timer | undefined;
  #running = false;
  #rounds = 0;
  #failures = 0;
  #lastError: unknown;

  constructor(clock: Clock, intervalMs: number, task: () => Promise<unknown>) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#task = task;
  }

  start(firstDelayMs = this.#intervalMs): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(firstDelayMs);
  }

  stop(): void {
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  get running(): boolean {
    return this.#running;
  }

  get rounds(): number {
    return this.#rounds;
  }

  get failures(): number {
    return this.#failures;
  }

  get lastError(): unknown {
    return this.#lastError;
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#clock.setTimer(delayMs, () => {
      this.#timer = undefined;
      if (!this.#running) return;
      this.#task()
        .catch((error: unknown) => {
          this.#failures++;
          this.#lastError = error;
        })
        .finally(() => {
          this.#rounds++;
          if (this.#running) this.#schedule(this.#intervalMs);
        });
    });
  }
}
