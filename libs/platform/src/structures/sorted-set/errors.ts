import { defineProblems, type Problem } from '../../errors.js';

/**
 * The sorted sets' refusals. Both adapters throw the same `SortedSetError` codes for the same
 * inputs (the Redis adapter checks what it can before sending, and turns Redis's own replies, such
 * as a NaN increment, into the same codes), so a service maps one set of errors whatever backs it.
 */

export type SortedSetErrorCode =
  /** A score or a range bound is NaN (Redis: "value is not a valid float"). */
  | 'ZSET_ERR_NOT_A_FLOAT'
  /** An increment would make a score NaN, as +inf + -inf (Redis: "resulting score is not a number"). */
  | 'ZSET_ERR_NAN_RESULT'
  /** ZADD flags that Redis refuses together: NX with XX, GT/LT with NX, GT with LT. */
  | 'ZSET_ERR_INVALID_OPTIONS'
  /** A rank, an offset or a count that is not an integer. */
  | 'ZSET_ERR_NOT_AN_INTEGER'
  /** A key or member over its byte limit, or not well-formed UTF-16 (a lone surrogate). */
  | 'ZSET_ERR_BAD_STRING'
  /** The keyspace's member or byte bound would be exceeded (Redis: an OOM reply). */
  | 'ZSET_ERR_FULL';

export class SortedSetError extends Error {
  override name = 'SortedSetError';
  constructor(
    readonly code: SortedSetErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The twin's memory bound, or Redis's `maxmemory`, refused an add. Nothing of the command was applied. */
export class SortedSetFullError extends SortedSetError {
  override name = 'SortedSetFullError';
  constructor(
    message: string,
    /** Which bound: `members` or `bytes` in the twin, `redis-maxmemory` from Redis. */
    readonly bound: 'members' | 'bytes' | 'redis-maxmemory',
  ) {
    super('ZSET_ERR_FULL', message);
  }
}

export const sortedSetProblems = defineProblems({
  ZSET_ERR_NOT_A_FLOAT: { status: 400, title: 'Score is not a number' },
  ZSET_ERR_NAN_RESULT: { status: 400, title: 'Score would become NaN' },
  ZSET_ERR_INVALID_OPTIONS: { status: 400, title: 'Incompatible sorted-set options' },
  ZSET_ERR_NOT_AN_INTEGER: { status: 400, title: 'Rank, offset or count is not an integer' },
  ZSET_ERR_BAD_STRING: { status: 400, title: 'Key or member refused' },
  ZSET_ERR_FULL: { status: 507, title: 'Sorted-set storage is full' },
});

/** The problem of a sorted-set refusal, or undefined for any other error (for a service's `mapError`). */
export function sortedSetProblemOf(error: unknown): Problem | undefined {
  if (!(error instanceof SortedSetError)) return undefined;
  return sortedSetProblems[error.code](error.message);
}
