/** What every limiter answers, whichever the algorithm. Times are whole milliseconds. */
export interface LimitResult {
  /** The request may proceed. */
  allowed: boolean;
  /** The most units the limiter can admit at once (its capacity): the `limit` of the headers. */
  limit: number;
  /** Units still admissible right now, after this decision. */
  remaining: number;
  /** Until the limiter is back to its full capacity (0: it already is). */
  resetAfterMs: number;
  /** Until a request of the same cost could be admitted; 0 when allowed. */
  retryAfterMs: number;
  /** Leaking bucket only: how long the admitted request waits to leave at the fixed outflow rate. */
  delayMs: number;
}

/** Options of one decision. */
export interface LimitOptions {
  /** Units this request consumes; 0 only reads the state. Default 1. */
  cost?: number;
  /**
   * The decision's time in ms since the epoch, instead of the clock (the Redis server's for
   * `RedisLimiter`). For tests that replay a schedule; production uses the clock.
   */
  now?: number;
}

/** The port every limiter implements: Redis-backed, in-memory, or any decorator of either. */
export interface Limiter {
  limit(key: string, options?: LimitOptions): Promise<LimitResult>;
  /** Forgets a key's state: its full quota is available again. */
  reset(key: string): Promise<void>;
}
