import { WalletRefusal } from '../domain/errors.js';

/** The gate's queue is full: the service is past what it can absorb; the client retries later. */
export class OverloadedError extends WalletRefusal {
  constructor(readonly queueMax: number) {
    super(`${queueMax} transactions are already waiting; retry later`);
  }
}

/**
 * Admits at most `concurrencyMax` transactions to the database at once and queues up to
 * `queueMax` more, first come first served. Without it, a burst larger than the connection pool
 * waits inside the pool and fails there with a connection timeout (a 503 that says the database
 * is down when it is only busy); with it, the wait is here, bounded, and an overflow is refused
 * at once.
 */
export class TransactionGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrencyMax: number,
    private readonly queueMax: number,
  ) {}

  async run<Result>(work: () => Promise<Result>): Promise<Result> {
    if (this.active >= this.concurrencyMax) {
      if (this.waiting.length >= this.queueMax) throw new OverloadedError(this.queueMax);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter; only when none waits is it given back.
      if (next) next();
      else this.active--;
    }
  }
}
