import { allowedResult, type Decide, deniedResult } from './outcome.js';

/**
 * GCRA, the generic cell rate algorithm (redis-cell's): one "theoretical arrival time" per key.
 * Each unit pushes it `emission interval = windowMs / limit` further; a request is admitted while
 * the pushed time stays within `burst` intervals of now. Time is in whole microseconds and the
 * interval is rounded down to one (as redis-cell rounds to nanoseconds), so rates that do not
 * divide evenly are a hair more generous. Mirrored by `commands/gcra-1.lua`.
 */
export interface GcraState {
  /** Theoretical arrival time, µs since the epoch. */
  tatUs: number;
}

export function emissionIntervalUs(windowMs: number, limit: number): number {
  return Math.floor((windowMs * 1_000) / limit);
}

export const decideGcra: Decide<GcraState> = (state, nowMs, cost, policy) => {
  const interval = emissionIntervalUs(policy.windowMs, policy.limit);
  const tolerance = interval * policy.burst;
  const nowUs = nowMs * 1_000;
  return decideGcraUs(state, nowUs, cost, policy.burst, interval, tolerance);
};

/** The decision in microseconds; split out so a caller with a µs clock can use it. */
export function decideGcraUs(
  state: GcraState | undefined,
  nowUs: number,
  cost: number,
  burst: number,
  interval: number,
  tolerance: number,
) {
  let tat = nowUs;
  if (state !== undefined && state.tatUs > nowUs) tat = state.tatUs;
  const pushed = tat + interval * cost;
  if (cost > 0 && pushed - nowUs <= tolerance) {
    tat = pushed;
    const resetAfterMs = Math.ceil((tat - nowUs) / 1_000);
    return {
      result: allowedResult(burst, Math.floor((tolerance - (tat - nowUs)) / interval), resetAfterMs),
      state: { tatUs: tat },
      expiresAtMs: Math.ceil(tat / 1_000),
    };
  }
  const remaining = Math.floor((tolerance - (tat - nowUs)) / interval);
  const resetAfterMs = Math.ceil((tat - nowUs) / 1_000);
  const expiresAtMs = Math.ceil(tat / 1_000);
  // A peek (cost 0) answers as a request of one unit would: refused while the key is blocked.
  if (cost === 0 && remaining >= 1)
    return { result: allowedResult(burst, remaining, resetAfterMs), expiresAtMs };
  const wanted = tat + interval * Math.max(cost, 1);
  const retryAfterMs = Math.ceil((wanted - tolerance - nowUs) / 1_000);
  return { result: deniedResult(burst, remaining, resetAfterMs, retryAfterMs), expiresAtMs };
}
