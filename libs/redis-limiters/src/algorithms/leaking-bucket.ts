import { allowedResult, type Decide, deniedResult } from './outcome.js';

/**
 * Leaking bucket as a meter: a queue of `burst` places that drains at `limit` per `windowMs`. A
 * request that fits joins the queue and is told how long it waits before it leaves at the fixed
 * rate (`delayMs`: the time for the requests ahead of it to drain); one that does not fit is
 * refused. The level is kept scaled by `windowMs`, like the token bucket's tokens, of which it is
 * the mirror image. Mirrored by `commands/leakingBucket-1.lua`.
 */
export interface LeakingBucketState {
  /** Queued units × windowMs. */
  scaledLevel: number;
  updatedAtMs: number;
}

export const decideLeakingBucket: Decide<LeakingBucketState> = (state, nowMs, cost, policy) => {
  const { limit, windowMs, burst } = policy;
  const capacity = burst * windowMs;
  let level = 0;
  let last = nowMs;
  if (state !== undefined) {
    level = state.scaledLevel;
    last = state.updatedAtMs;
  }
  const now = Math.max(nowMs, last);
  level = Math.max(0, level - (now - last) * limit);
  const need = cost * windowMs;
  if (cost > 0 && level + need <= capacity) {
    const delayMs = Math.ceil(level / limit);
    level = level + need;
    const resetAfterMs = Math.ceil(level / limit);
    return {
      result: allowedResult(burst, Math.floor((capacity - level) / windowMs), resetAfterMs, delayMs),
      state: { scaledLevel: level, updatedAtMs: now },
      expiresAtMs: now + resetAfterMs,
    };
  }
  const remaining = Math.floor((capacity - level) / windowMs);
  const resetAfterMs = Math.ceil(level / limit);
  const expiresAtMs = now + resetAfterMs;
  // A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
  if (cost === 0 && remaining >= 1)
    return { result: allowedResult(burst, remaining, resetAfterMs), expiresAtMs };
  const retryAfterMs = Math.ceil((level + Math.max(cost, 1) * windowMs - capacity) / limit);
  return { result: deniedResult(burst, remaining, resetAfterMs, retryAfterMs), expiresAtMs };
};
