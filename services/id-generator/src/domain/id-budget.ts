import { MAX_IDS_PER_REQUEST } from './strategies.js';

/**
 * A bound on the work of making ids, per moment and in waiting. Without it, a hundred concurrent
 * requests for 10,000 ids each are all worked off before anything else the process was asked,
 * `/healthz` included, and it answered after seconds. With it:
 *
 * - at most `maxIdsInFlight` ids are being made at once, across requests and strategies;
 * - the budget a request held comes back one event-loop turn after its ids are made, so the
 *   next batch of work starts only after the loop has polled for other requests (health checks);
 * - requests beyond the budget wait in arrival order, at most `maxIdsQueued` ids of them;
 *   a request that would queue more is refused at once, and the client retries later.
 *
 * Requests that fit are admitted without waiting, so a lightly loaded service pays one counter.
 */

export interface IdBudgetLimits {
  /** Ids being made at once; at least one request's worth (`MAX_IDS_PER_REQUEST`). */
  maxIdsInFlight: number;
  /** Ids of the requests waiting for budget; 0 refuses every request that cannot start at once. */
  maxIdsQueued: number;
}

export const DEFAULT_ID_BUDGET: IdBudgetLimits = { maxIdsInFlight: 10_000, maxIdsQueued: 200_000 };

interface Waiter {
  count: number;
  start: () => void;
}

/** Runs a callback on a later turn of the event loop, after pending I/O has been polled. */
/** A request would take the ids in flight and waiting past the budget's limits. */
export class IdBudgetExceededError extends Error {
  override name = 'IdBudgetExceededError';
  constructor(readonly limits: IdBudgetLimits) {
    super(`more than ${limits.maxIdsInFlight} ids in flight and ${limits.maxIdsQueued} waiting`);
  }
}

export type NextTurn = (callback: () => void) => void;

export class IdBudget {
  private inFlight = 0;
  private queued = 0;
  private readonly waiting: Waiter[] = [];
  private head = 0;

  constructor(
    readonly limits: IdBudgetLimits = DEFAULT_ID_BUDGET,
    private readonly nextTurn: NextTurn = setImmediate,
  ) {
    if (!Number.isInteger(limits.maxIdsInFlight) || limits.maxIdsInFlight < MAX_IDS_PER_REQUEST)
      throw new RangeError(`maxIdsInFlight must be a whole number of at least ${MAX_IDS_PER_REQUEST}`);
    if (!Number.isInteger(limits.maxIdsQueued) || limits.maxIdsQueued < 0)
      throw new RangeError('maxIdsQueued must be a whole number of at least 0');
  }

  /** Whether a request for `count` ids would run now or wait within the bound, rather than be refused. */
  admits(count: number): boolean {
    return this.startsNow(count) || this.queued + count <= this.limits.maxIdsQueued;
  }

  /** Ids being made now, and ids waiting: for tests and metrics. */
  get usage(): { inFlight: number; queued: number } {
    return { inFlight: this.inFlight, queued: this.queued };
  }

  /**
   * Runs `make` once `count` ids fit the budget. Call only when `admits(count)`: a refusal is the
   * caller's to shape into an answer, so reaching here without room is a programmer error.
   */
  async run<T>(count: number, make: () => Promise<T>): Promise<T> {
    if (!Number.isInteger(count) || count < 1 || count > this.limits.maxIdsInFlight)
      throw new RangeError(`count must be a whole number in [1, ${this.limits.maxIdsInFlight}]`);
    if (!this.admits(count)) throw new RangeError('run called for a request the budget does not admit');
    if (this.startsNow(count)) this.inFlight += count;
    else await this.wait(count);
    try {
      return await make();
    } finally {
      this.nextTurn(() => this.release(count));
    }
  }

  private startsNow(count: number): boolean {
    return this.head === this.waiting.length && this.inFlight + count <= this.limits.maxIdsInFlight;
  }

  private wait(count: number): Promise<void> {
    this.queued += count;
    return new Promise((start) => {
      this.waiting.push({ count, start });
    });
  }

  private release(count: number): void {
    this.inFlight -= count;
    while (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      if (this.inFlight + next.count > this.limits.maxIdsInFlight) return;
      this.head += 1;
      this.queued -= next.count;
      this.inFlight += next.count;
      next.start();
    }
    // The queue drained: drop the started waiters so the array does not keep growing.
    this.waiting.length = 0;
    this.head = 0;
  }
}
