/**
 * The tie-break encoded into the index's score, so Redis orders a board without a second lookup:
 *
 *   indexScore = offset * 2^timeBits + (2^timeBits - 1 - tick)
 *
 * `offset` is how good the score is (score - scoreMin on a high-wins board, scoreMax - score on a
 * low-wins one), `tick` is when the player reached it, in units of the board's time resolution
 * since the period began. A higher index score is always better: a better score wins, and between
 * equal scores the earlier tick wins ("first to reach the score ranks higher"). Every index score
 * is an integer below 2^53, exact as a double, so Redis and the twin compare them exactly.
 *
 * The bounds: scoreBits = bit length of (scoreMax - scoreMin), timeBits = 53 - scoreBits, and a
 * period may last at most 2^timeBits ticks. A score outside [scoreMin, scoreMax], or reached
 * after the last tick, cannot be encoded and is refused.
 */

export const INDEX_BITS = 53;
/** The widest score range a board may declare (leaves at least 8 bits of time). */
export const SCORE_BITS_MAX = 45;

export type SortOrder = 'desc' | 'asc';

export interface EncodingBounds {
  sortOrder: SortOrder;
  scoreMin: number;
  scoreMax: number;
  timeResolutionMs: number;
}

export class ScoreOutOfRangeError extends Error {
  constructor(
    readonly score: number,
    readonly scoreMin: number,
    readonly scoreMax: number,
  ) {
    super(`score ${score} is outside the board's range [${scoreMin}, ${scoreMax}]`);
  }
}

export class TieBreakHorizonError extends Error {
  constructor(readonly horizonMs: number) {
    super(
      `the period has outlived its tie-break horizon of ${horizonMs} ms; the board cannot rank new scores`,
    );
  }
}

function bitLength(value: number): number {
  let bits = 0;
  let rest = value;
  while (rest >= 1) {
    rest = Math.floor(rest / 2);
    bits += 1;
  }
  return bits;
}

export class TieBreakEncoding {
  readonly timeBits: number;
  /** 2^timeBits: ticks one period may last. */
  readonly ticks: number;
  readonly horizonMs: number;

  constructor(readonly bounds: EncodingBounds) {
    const range = bounds.scoreMax - bounds.scoreMin;
    if (!Number.isSafeInteger(range) || range < 0) throw new RangeError(`bad score range ${range}`);
    this.timeBits = INDEX_BITS - bitLength(range);
    this.ticks = 2 ** this.timeBits;
    this.horizonMs = this.ticks * bounds.timeResolutionMs;
  }

  /** Whether a score may be stored on this board (an integer within its range). */
  accepts(score: number): boolean {
    return Number.isSafeInteger(score) && score >= this.bounds.scoreMin && score <= this.bounds.scoreMax;
  }

  checkScore(score: number): void {
    if (!this.accepts(score))
      throw new ScoreOutOfRangeError(score, this.bounds.scoreMin, this.bounds.scoreMax);
  }

  /** The tick of a moment of the period that began at `periodStartMs`. */
  tickOf(reachedAtMs: number, periodStartMs: number): number {
    const tick = Math.floor(Math.max(0, reachedAtMs - periodStartMs) / this.bounds.timeResolutionMs);
    if (tick >= this.ticks) throw new TieBreakHorizonError(this.horizonMs);
    return tick;
  }

  offsetOf(score: number): number {
    return this.bounds.sortOrder === 'desc' ? score - this.bounds.scoreMin : this.bounds.scoreMax - score;
  }

  scoreOfOffset(offset: number): number {
    return this.bounds.sortOrder === 'desc' ? offset + this.bounds.scoreMin : this.bounds.scoreMax - offset;
  }

  encode(score: number, reachedAtMs: number, periodStartMs: number): number {
    this.checkScore(score);
    const tick = this.tickOf(reachedAtMs, periodStartMs);
    return this.offsetOf(score) * this.ticks + (this.ticks - 1 - tick);
  }

  /** The score of an index score (the tick is not needed by readers: Postgres keeps reached_at). */
  decodeScore(indexScore: number): number {
    return this.scoreOfOffset(Math.floor(indexScore / this.ticks));
  }

  /** The lowest index score of every entry with exactly this score. */
  lowestIndexOf(score: number): number {
    return this.offsetOf(score) * this.ticks;
  }

  /** The highest index score of every entry with exactly this score. */
  highestIndexOf(score: number): number {
    return this.offsetOf(score) * this.ticks + this.ticks - 1;
  }
}
