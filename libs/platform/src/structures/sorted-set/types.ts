import { SortedSetError } from './errors.js';
import type { ScoreRange } from './skip-list.js';

/** The shapes both adapters take and return, so a reply from the twin and one from Redis compare equal. */

export interface ScoredMember {
  member: string;
  score: number;
}

export interface RankWithScore {
  /** 0-based, from the lowest score (or from the highest for a reverse rank). */
  rank: number;
  score: number;
}

/** A score bound: a number includes itself; `{ value, exclusive: true }` is Redis's `(value`. */
export type ScoreBound = number | { value: number; exclusive: boolean };

/**
 * ZADD's flags, as Redis spells them. Combinations Redis refuses (NX with XX, NX with GT or LT,
 * GT with LT) are refused here too, with ZSET_ERR_INVALID_OPTIONS, rather than made unrepresentable,
 * so a caller's mistake reads the same on both adapters.
 */
export interface ZAddOptions {
  /** Only add new members; never update. */
  nx?: boolean;
  /** Only update existing members; never add. */
  xx?: boolean;
  /** Update an existing member only when its score grows (new members are still added). */
  gt?: boolean;
  /** Update an existing member only when its score shrinks (new members are still added). */
  lt?: boolean;
  /** Reply with members added plus members whose score changed, not just those added. */
  ch?: boolean;
}

/** ZRANGE ... BYSCORE's LIMIT: a negative offset yields nothing and a negative count means all, as in Redis. */
export interface RangeLimit {
  offset: number;
  count: number;
}

export interface ScoreRangeOptions {
  /** From the highest score down (ZRANGE ... BYSCORE REV); `min` and `max` keep their meaning. */
  rev?: boolean;
  limit?: RangeLimit;
}

/** Which end of a set `keepTop` keeps: the members with the highest scores, or the lowest. */
export type KeepOrder = 'highest' | 'lowest';

export function checkScore(score: number, what = 'score'): void {
  if (typeof score !== 'number' || Number.isNaN(score)) {
    throw new SortedSetError('ZSET_ERR_NOT_A_FLOAT', `${what} is not a valid float`);
  }
}

export function checkInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value))
    throw new SortedSetError('ZSET_ERR_NOT_AN_INTEGER', `${what} is not an integer`);
}

export function checkZAddOptions(options: ZAddOptions, pairs: number): void {
  if (options.nx && options.xx) {
    throw new SortedSetError(
      'ZSET_ERR_INVALID_OPTIONS',
      'XX and NX options at the same time are not compatible',
    );
  }
  if ((options.gt && options.nx) || (options.lt && options.nx) || (options.gt && options.lt)) {
    throw new SortedSetError(
      'ZSET_ERR_INVALID_OPTIONS',
      'GT, LT, and/or NX options at the same time are not compatible',
    );
  }
  if (pairs === 0) throw new SortedSetError('ZSET_ERR_INVALID_OPTIONS', 'ZADD needs at least one member');
}

/** The range two bounds describe, refusing NaN as Redis does ("min or max is not a float"). */
export function scoreRangeOf(min: ScoreBound, max: ScoreBound): ScoreRange {
  const low = typeof min === 'number' ? { value: min, exclusive: false } : min;
  const high = typeof max === 'number' ? { value: max, exclusive: false } : max;
  checkScore(low.value, 'min');
  checkScore(high.value, 'max');
  return { min: low.value, minExclusive: low.exclusive, max: high.value, maxExclusive: high.exclusive };
}
