import { allowedResult, type Decide, deniedResult } from './outcome.js';

/**
 * Token bucket: `burst` tokens, refilled continuously at `limit` per `windowMs`. Tokens are kept
 * scaled by `windowMs` (a whole number of "token-milliseconds"), so a refill of `elapsed × limit`
 * is exact. Mirrored by `commands/tokenBucket-1.lua`.
 */
export interface TokenBucketState {
  /** Tokens × windowMs. */
  scaledTokens: number;
  /** The time the tokens were counted at. */
  updatedAtMs: number;
}

export const decideTokenBucket: Decide<TokenBucketState> = (state, nowMs, cost, policy) => {
  const { limit, windowMs, burst } = policy;
  const full = burst * windowMs;
  let tokens = full;
  let last = nowMs;
  if (state !== undefined) {
    tokens = state.scaledTokens;
    last = state.updatedAtMs;
  }
  const now = Math.max(nowMs, last);
  tokens = Math.min(full, tokens + (now - last) * limit);
  const need = cost * windowMs;
  if (cost > 0 && need <= tokens) {
    tokens = tokens - need;
    const resetAfterMs = Math.ceil((full - tokens) / limit);
    return {
      result: allowedResult(burst, Math.floor(tokens / windowMs), resetAfterMs),
      state: { scaledTokens: tokens, updatedAtMs: now },
      expiresAtMs: now + resetAfterMs,
    };
  }
  const remaining = Math.floor(tokens / windowMs);
  const resetAfterMs = Math.ceil((full - tokens) / limit);
  const expiresAtMs = now + resetAfterMs;
  // A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
  if (cost === 0 && remaining >= 1)
    return { result: allowedResult(burst, remaining, resetAfterMs), expiresAtMs };
  const retryAfterMs = Math.ceil((Math.max(cost, 1) * windowMs - tokens) / limit);
  return { result: deniedResult(burst, remaining, resetAfterMs, retryAfterMs), expiresAtMs };
};
