import { allowedResult, type Decide, deniedResult } from './outcome.js';

/**
 * Sliding window counter (Cloudflare's): the count of the current aligned window plus the
 * previous window's count weighted by the part of it still inside the rolling window:
 * `used = previous × (windowMs − elapsed) / windowMs + current`. Everything is multiplied by
 * `windowMs` so it stays in whole numbers. It assumes the previous window's requests were spread
 * evenly, which is why it can admit a little more or less than an exact log.
 * Mirrored by `commands/slidingWindowCounter-1.lua`.
 */
export interface SlidingWindowCounterState {
  window: number;
  current: number;
  previous: number;
}

export const decideSlidingWindowCounter: Decide<SlidingWindowCounterState> = (state, nowMs, cost, policy) => {
  const { limit, windowMs } = policy;
  let window = Math.floor(nowMs / windowMs);
  let current = 0;
  let previous = 0;
  if (state !== undefined) {
    if (state.window > window) window = state.window;
    if (state.window === window) {
      current = state.current;
      previous = state.previous;
    } else if (state.window === window - 1) {
      previous = state.current;
    }
  }
  const elapsed = Math.max(0, nowMs - window * windowMs);
  let used = previous * (windowMs - elapsed) + current * windowMs;
  const quota = limit * windowMs;
  const admitted = cost > 0 && used + cost * windowMs <= quota;
  if (admitted) {
    current = current + cost;
    used = used + cost * windowMs;
  }
  const remaining = Math.max(0, Math.floor((quota - used) / windowMs));
  // Both windows have slid past at (window + 2) × windowMs; the current one alone at (window + 1) × windowMs.
  const resetAfterMs =
    current > 0 ? (window + 2) * windowMs - nowMs : previous > 0 ? (window + 1) * windowMs - nowMs : 0;
  if (admitted) {
    return {
      result: allowedResult(limit, remaining, resetAfterMs),
      state: { window, current, previous },
      expiresAtMs: (window + 2) * windowMs,
    };
  }
  const expiresAtMs = (window + 2) * windowMs;
  // A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
  if (cost === 0 && remaining >= 1)
    return { result: allowedResult(limit, remaining, resetAfterMs), expiresAtMs };
  const wanted = Math.max(cost, 1);
  let retryAfterMs: number;
  if (limit - current - wanted >= 0) {
    // Wait inside this window until the previous window's weight has shrunk enough.
    retryAfterMs = windowMs - Math.floor(((limit - current - wanted) * windowMs) / previous) - elapsed;
  } else {
    // Wait for the next window, where this window's count becomes the weighted previous one.
    retryAfterMs =
      windowMs - elapsed + Math.max(0, windowMs - Math.floor(((limit - wanted) * windowMs) / current));
  }
  return { result: deniedResult(limit, remaining, resetAfterMs, retryAfterMs), expiresAtMs };
};
