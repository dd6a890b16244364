/**
 * Delay before a retry. `fixed` waits `delayMs` every time. `exponential` uses full jitter: a
 * uniform draw in [0, min(maxDelayMs, delayMs * 2^(attempt-1))), which spreads a burst of failing
 * jobs over the whole window instead of retrying them in lockstep (AWS's "Exponential Backoff and
 * Jitter"). The reaper computes the same delay in SQL for jobs whose lease lapsed.
 */

export type BackoffKind = 'fixed' | 'exponential';

export interface Backoff {
  kind: BackoffKind;
  delayMs: number;
  maxDelayMs: number;
}

/** 2^30 ms is about 12 days: enough doublings for any sensible retry horizon. */
const EXPONENT_MAX = 30;

/** `attempt` is the attempt that just failed, from 1. `random` returns a number in [0, 1). */
export function retryDelayMs(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  if (backoff.kind === 'fixed') return backoff.delayMs;
  const exponent = Math.min(Math.max(attempt - 1, 0), EXPONENT_MAX);
  const ceilingMs = Math.min(backoff.maxDelayMs, backoff.delayMs * 2 ** exponent);
  return Math.floor(random() * ceilingMs);
}

/** The same delay as a SQL expression over the columns of the jobs row `alias` (used by the reaper). */
export function retryDelayMsSql(alias: string): string {
  return `CASE WHEN ${alias}.backoff_kind = 'fixed' THEN ${alias}.backoff_ms
    ELSE floor(random() * least(${alias}.backoff_max_ms,
      ${alias}.backoff_ms * power(2, least(greatest(${alias}.attempts - 1, 0), ${EXPONENT_MAX}))))
    END`;
}
