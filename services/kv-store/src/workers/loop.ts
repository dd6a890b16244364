/**
 * Runs a round every `intervalMs`, measured from the end of the previous one so rounds never
 * overlap. A failing round is reported and the loop goes on: a background repair must not die of
 * one unreachable peer. `stop()` waits for the round in flight, so the node can close its storage
 * after its workers and no round writes into a closed engine. Timers are unref'd: a loop never
 * keeps the process alive on its own.
 */
export class BackgroundLoop {
  readonly #intervalMs: number;
  readonly #round: () => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #running = false;

  constructor(intervalMs: number, round: () => Promise<void>, onError: (error: unknown) => void) {
    this.#intervalMs = intervalMs;
    this.#round = round;
    this.#onError = onError;
  }

  get running(): boolean {
    return this.#running;
  }

  start(firstDelayMs = this.#intervalMs): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(firstDelayMs);
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  /** Runs one round now, unless one is in flight (then waits for that one). */
  runNow(): Promise<void> {
    this.#inFlight ??= this.#round()
      .catch((error: unknown) => this.#onError(error))
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.runNow().then(() => {
        if (this.#running) this.#schedule(this.#intervalMs);
      });
    }, delayMs);
    this.#timer.unref();
  }
}
