import { allowedResult, type Decide, deniedResult } from './outcome.js';

/**
 * Sliding window log: the time of every admitted unit in the rolling window `(now − windowMs, now]`;
 * a request is admitted when the log has room for its cost. Exact, at the price of one entry per
 * admitted unit. Unlike the textbook version it logs admitted requests only, so a flood of refused
 * requests neither grows the log nor prolongs the lockout. Mirrored by `commands/slidingWindowLog-1.lua`
 * (a sorted set scored by time).
 */
export interface SlidingWindowLogState {
  /** Admission times in ms, oldest first; one entry per unit of cost. Mutated in place. */
  entries: number[];
}

export const decideSlidingWindowLog: Decide<SlidingWindowLogState> = (state, nowMs, cost, policy) => {
  const { limit, windowMs } = policy;
  const entries = state?.entries ?? [];
  const newest = entries.length > 0 ? entries[entries.length - 1]! : undefined;
  const now = newest !== undefined && newest > nowMs ? newest : nowMs;
  let expired = 0;
  while (expired < entries.length && entries[expired]! <= now - windowMs) expired++;
  if (expired > 0) entries.splice(0, expired);
  const count = entries.length;
  const trimmed = expired > 0 ? { entries } : undefined;
  if (cost > 0 && count + cost <= limit) {
    for (let unit = 0; unit < cost; unit++) entries.push(now);
    return {
      result: allowedResult(limit, limit - entries.length, windowMs),
      state: { entries },
      expiresAtMs: now + windowMs,
    };
  }
  const resetAfterMs = count > 0 ? entries[count - 1]! + windowMs - now : 0;
  const outcome = { expiresAtMs: now + resetAfterMs, ...(trimmed ? { state: trimmed } : {}) };
  // A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
  if (cost === 0 && limit - count >= 1) {
    return { result: allowedResult(limit, limit - count, resetAfterMs), ...outcome };
  }
  const wanted = Math.max(cost, 1);
  // The request fits once the oldest `count + wanted − limit` units have left the window.
  const retryAfterMs = entries[count + wanted - limit - 1]! + windowMs - now;
  return { result: deniedResult(limit, limit - count, resetAfterMs, retryAfterMs), ...outcome };
};
