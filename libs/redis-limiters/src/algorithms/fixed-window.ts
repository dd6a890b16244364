import { allowedResult, type Decide, deniedResult } from './outcome.js';

/**
 * Fixed window counter: at most `limit` units per window aligned on multiples of `windowMs`.
 * A burst of `limit` at the end of one window and `limit` at the start of the next is admitted:
 * up to twice the limit within `windowMs` of each other. Mirrored by `commands/fixedWindow-1.lua`.
 */
export interface FixedWindowState {
  /** The window's index: floor(time / windowMs). */
  window: number;
  count: number;
}

export const decideFixedWindow: Decide<FixedWindowState> = (state, nowMs, cost, policy) => {
  const { limit, windowMs } = policy;
  let window = Math.floor(nowMs / windowMs);
  let count = 0;
  if (state !== undefined) {
    if (state.window > window) window = state.window;
    if (state.window === window) count = state.count;
  }
  const windowEndsInMs = (window + 1) * windowMs - nowMs;
  if (cost > 0 && count + cost <= limit) {
    count = count + cost;
    return {
      result: allowedResult(limit, limit - count, windowEndsInMs),
      state: { window, count },
      expiresAtMs: (window + 1) * windowMs,
    };
  }
  const resetAfterMs = count > 0 ? windowEndsInMs : 0;
  const expiresAtMs = (window + 1) * windowMs;
  // A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
  if (cost === 0 && limit - count >= 1) {
    return { result: allowedResult(limit, limit - count, resetAfterMs), expiresAtMs };
  }
  return { result: deniedResult(limit, limit - count, resetAfterMs, windowEndsInMs), expiresAtMs };
};
