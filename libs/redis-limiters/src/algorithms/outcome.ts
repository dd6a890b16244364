import type { NormalizedPolicy } from '../policy.js';
import type { LimitResult } from '../result.js';

/**
 * The algorithms as pure functions over their state: the in-memory twins run them directly, and
 * each Lua script in `commands/` is a line-by-line port of one of them. All arithmetic stays on
 * whole numbers below 2^52 (the policy limits guarantee it), so Lua's doubles and JavaScript's
 * compute bit-identical answers; the differential test holds them to it.
 *
 * Shared rules:
 * - A denied decision never changes the state (except the sliding log dropping expired entries),
 *   so refusing a flood costs no writes and a cached denial is exact.
 * - Time never runs backwards for one key: a clock behind the stored state counts as no time passed.
 * - `expiresAtMs` is when the state becomes equal to no state at all; Redis expires the key then.
 * - Cost 0 reads without consuming, and answers as a cost of 1 would: refused (with the wait for one
 *   unit) while the key is blocked, admitted with the current `remaining` otherwise.
 */

export interface Outcome<State> {
  result: LimitResult;
  /** The state to keep when the decision changed it; undefined when it did not. */
  state?: State;
  /** From this time (ms) on, the state equals no state: the key may be dropped (Redis: PEXPIREAT). */
  expiresAtMs: number;
}

export type Decide<State> = (
  state: State | undefined,
  nowMs: number,
  cost: number,
  policy: NormalizedPolicy,
) => Outcome<State>;

export function allowedResult(
  limit: number,
  remaining: number,
  resetAfterMs: number,
  delayMs = 0,
): LimitResult {
  return { allowed: true, limit, remaining, resetAfterMs, retryAfterMs: 0, delayMs };
}

export function deniedResult(
  limit: number,
  remaining: number,
  resetAfterMs: number,
  retryAfterMs: number,
): LimitResult {
  return { allowed: false, limit, remaining, resetAfterMs, retryAfterMs, delayMs: 0 };
}
