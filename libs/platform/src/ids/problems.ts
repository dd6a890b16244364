import { defineProblems, type Problem } from '../errors.js';
import { ClockMovedBackwardsError, EpochExhaustedError, GeneratorUnavailableError } from './snowflake.js';

/**
 * What a client is told when a snowflake generator refuses an id. Every service that mints ids
 * answers the same way, so the problem handler applies this mapping to every service by default.
 * All three are 503s; the first two pass, so they carry Retry-After. An exhausted epoch is a
 * configuration fault that no retry fixes, so it has none.
 */
export const idProblems = defineProblems({
  ERR_ID_CLOCK_MOVED_BACKWARDS: { status: 503, title: 'Clock moved backwards' },
  ERR_ID_GENERATOR_UNAVAILABLE: { status: 503, title: 'Id generator unavailable' },
  ERR_ID_EPOCH_EXHAUSTED: { status: 503, title: 'Id time field exhausted' },
});

/** The problem of a snowflake generator's refusal, or undefined for any other error. */
export function idProblemOf(error: unknown): Problem | undefined {
  if (error instanceof ClockMovedBackwardsError) {
    // The client may retry once the clock is back past the last issued id.
    const retryAfterSeconds = String(Math.max(1, Math.ceil(error.rollbackMs / 1_000)));
    return idProblems.ERR_ID_CLOCK_MOVED_BACKWARDS(
      error.message,
      { rollbackMs: error.rollbackMs, maxRollbackMs: error.maxRollbackMs },
      { 'retry-after': retryAfterSeconds },
    );
  }
  if (error instanceof GeneratorUnavailableError) {
    return idProblems.ERR_ID_GENERATOR_UNAVAILABLE(error.message, {}, { 'retry-after': '1' });
  }
  if (error instanceof EpochExhaustedError) return idProblems.ERR_ID_EPOCH_EXHAUSTED(error.message);
  return undefined;
}
