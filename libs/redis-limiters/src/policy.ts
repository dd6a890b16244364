import { CostExceedsLimitError, InvalidArgumentError, InvalidPolicyError } from './errors.js';

/**
 * A rate-limit policy: `limit` requests per `windowMs`, enforced by one of six algorithms. The
 * same three numbers configure every algorithm, so switching algorithms is a one-word change:
 *
 * - `token_bucket`: a bucket of `burst` tokens (default `limit`) refilled evenly at `limit` per
 *   `windowMs`; a request takes `cost` tokens.
 * - `leaking_bucket`: a queue of `burst` places (default `limit`) draining at `limit` per
 *   `windowMs`; a request that fits is admitted and told how long it waits to leave (`delayMs`).
 * - `fixed_window`: at most `limit` per aligned window of `windowMs`.
 * - `sliding_window_log`: at most `limit` in any rolling `windowMs` (exact; one entry per unit).
 * - `sliding_window_counter`: the current window's count plus the previous window's, weighted by
 *   how much of it still overlaps the rolling window (Cloudflare's approximation).
 * - `gcra`: the generic cell rate algorithm of redis-cell: one timestamp per key, `burst`
 *   requests at once (default `limit`), then one per `windowMs / limit`.
 */

export const ALGORITHMS = [
  'token_bucket',
  'leaking_bucket',
  'fixed_window',
  'sliding_window_log',
  'sliding_window_counter',
  'gcra',
] as const;

export type Algorithm = (typeof ALGORITHMS)[number];

/** Algorithms whose capacity (`burst`) may differ from the per-window `limit`. */
export const BURST_ALGORITHMS: readonly Algorithm[] = ['token_bucket', 'leaking_bucket', 'gcra'];

export interface RateLimitPolicy {
  algorithm: Algorithm;
  /** Requests (cost units) per window. */
  limit: number;
  windowMs: number;
  /** Capacity of the bucket algorithms; defaults to `limit`. Not accepted by the window algorithms. */
  burst?: number;
}

/** A validated policy: `burst` is always set (equal to `limit` for the window algorithms). */
export interface NormalizedPolicy {
  readonly algorithm: Algorithm;
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number;
}

/** The largest limit or burst. With MAX_WINDOW_MS it keeps every product the scripts form below 2^52. */
export const MAX_LIMIT = 1_000_000;
/** 31 days: a monthly quota fits, and `limit × windowMs` stays an exact double. */
export const MAX_WINDOW_MS = 31 * 24 * 60 * 60 * 1_000;
/** The sliding log stores one sorted-set member per admitted unit: its memory grows with the limit. */
export const SLIDING_LOG_MAX_LIMIT = 10_000;

function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function checkRange(problems: string[], name: string, value: unknown, min: number, max: number): void {
  if (!isWholeNumber(value) || value < min || value > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
}

/** Validates a policy once, at the edge; every limiter works from the normalized form. */
export function normalizePolicy(policy: RateLimitPolicy): NormalizedPolicy {
  const problems: string[] = [];
  if (!ALGORITHMS.includes(policy.algorithm)) {
    problems.push(
      `algorithm must be one of ${ALGORITHMS.join(', ')} (got ${JSON.stringify(policy.algorithm)})`,
    );
  }
  const maxLimit = policy.algorithm === 'sliding_window_log' ? SLIDING_LOG_MAX_LIMIT : MAX_LIMIT;
  checkRange(problems, 'limit', policy.limit, 1, maxLimit);
  checkRange(problems, 'windowMs', policy.windowMs, 1, MAX_WINDOW_MS);
  if (policy.burst !== undefined) {
    if (BURST_ALGORITHMS.includes(policy.algorithm))
      checkRange(problems, 'burst', policy.burst, 1, MAX_LIMIT);
    else problems.push(`burst applies to ${BURST_ALGORITHMS.join(', ')} only, not ${policy.algorithm}`);
  }
  if (problems.length > 0) throw new InvalidPolicyError(problems);

  const burst = policy.burst ?? policy.limit;
  // A bucket that takes longer than MAX_WINDOW_MS to refill would push the scripts' integers
  // past 2^52, where doubles stop being exact.
  if ((burst / policy.limit) * policy.windowMs > MAX_WINDOW_MS) {
    throw new InvalidPolicyError([
      `burst / limit × windowMs (the time to refill) must be at most ${MAX_WINDOW_MS} ms`,
    ]);
  }
  // GCRA counts time in microseconds: one request per microsecond is its finest rate.
  if (policy.algorithm === 'gcra' && policy.limit > policy.windowMs * 1_000) {
    throw new InvalidPolicyError([
      'gcra admits at most one request per microsecond: limit ≤ windowMs × 1000',
    ]);
  }
  return Object.freeze({
    algorithm: policy.algorithm,
    limit: policy.limit,
    windowMs: policy.windowMs,
    burst,
  });
}

/** Checks one decision's cost against the policy: a whole number from 0 to the capacity. */
export function checkCost(cost: number, policy: NormalizedPolicy): number {
  if (!Number.isSafeInteger(cost) || cost < 0) {
    throw new InvalidArgumentError(`cost must be a whole number ≥ 0 (got ${String(cost)})`);
  }
  if (cost > policy.burst) throw new CostExceedsLimitError(cost, policy.burst);
  return cost;
}

/** Checks an explicit decision time (tests): whole milliseconds since the epoch. */
export function checkNow(now: number): number {
  if (!Number.isSafeInteger(now) || now < 0 || now > MAX_EXPLICIT_NOW_MS) {
    throw new InvalidArgumentError(
      `now must be whole milliseconds from 0 to ${MAX_EXPLICIT_NOW_MS} (got ${String(now)})`,
    );
  }
  return now;
}

/** Year 2255: far enough, and `now × 1000` (µs) stays an exact double. */
export const MAX_EXPLICIT_NOW_MS = 9_000_000_000_000;
