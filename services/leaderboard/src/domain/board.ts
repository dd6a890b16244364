import { BadCronError, parseCron } from './cron.js';
import { type EncodingBounds, SCORE_BITS_MAX, type SortOrder, TieBreakEncoding } from './encoding.js';
import { checkTimeZone, nextFire, PERIOD_MS_MAX, type Reset } from './schedule.js';

/**
 * A board's rules. The operator decides what a submission does to the player's score: `best`
 * keeps the better of the two (higher on a desc board, lower on an asc one), `set` replaces it,
 * `incr` adds the value and `decr` subtracts it. The ranking mode decides how ties are numbered:
 * `ordinal` 1234 (ties broken by who reached the score first), `competition` 1224, `dense` 1223.
 */

export const OPERATORS = ['best', 'set', 'incr', 'decr'] as const;
export type Operator = (typeof OPERATORS)[number];
export const RANKINGS = ['ordinal', 'competition', 'dense'] as const;
export type Ranking = (typeof RANKINGS)[number];

/**
 * How the board's index is split past one Redis: one sorted set; ranges of scores (`bounds`, best
 * first: shard i holds the scores at least as good as bounds[i] and worse than bounds[i-1]); or
 * `shards` sets by hash of the player.
 */
export type Partitioning =
  | { kind: 'single' }
  | { kind: 'range'; bounds: number[] }
  | { kind: 'hash'; shards: number };

export interface Board extends EncodingBounds {
  partitioning: Partitioning;
  /** The five-field expression of a `cron` board, else null. */
  cron: string | null;
  id: string;
  operator: Operator;
  ranking: Ranking;
  reset: Reset;
  timeZone: string;
  createdAtMs: number;
  /** The period the index serves (ms since the epoch). */
  periodStartMs: number;
}

export interface BoardSpec {
  id: string;
  sortOrder: SortOrder;
  operator: Operator;
  ranking: Ranking;
  reset: Reset;
  timeZone: string;
  scoreMin: number;
  scoreMax: number;
  partitioning: Partitioning;
  cron?: string | undefined;
  /** Absent: the finest power of ten (1 ms to 1 h) whose horizon covers the longest period. */
  timeResolutionMs?: number | undefined;
}

/** A board the tie-break cannot encode: its range is too wide for its periods at its resolution. */
export class BoardBoundsError extends Error {}

/** `never` boards get ten years of tie-break horizon before they must be recreated. */
export const NEVER_HORIZON_MS = 10 * 366 * 24 * 3_600_000;
const RESOLUTIONS_MS = [1, 10, 100, 1_000, 10_000, 60_000, 600_000, 3_600_000];

function periodMsMax(reset: Reset): number {
  return reset === 'never' ? NEVER_HORIZON_MS : PERIOD_MS_MAX[reset];
}

/** The encoding bounds of a spec, or why it cannot be encoded. */
export function resolveBounds(spec: BoardSpec, nowMs: number = Date.now()): EncodingBounds {
  checkTimeZone(spec.timeZone);
  checkSchedule(spec, nowMs);
  if (!(spec.scoreMin < spec.scoreMax)) throw new BoardBoundsError('scoreMin must be below scoreMax');
  const range = spec.scoreMax - spec.scoreMin;
  if (!Number.isSafeInteger(range) || range >= 2 ** SCORE_BITS_MAX) {
    throw new BoardBoundsError(`scoreMax - scoreMin must be below 2^${SCORE_BITS_MAX}`);
  }
  const needMs = periodMsMax(spec.reset);
  const candidates = spec.timeResolutionMs === undefined ? RESOLUTIONS_MS : [spec.timeResolutionMs];
  for (const timeResolutionMs of candidates) {
    const bounds = {
      sortOrder: spec.sortOrder,
      scoreMin: spec.scoreMin,
      scoreMax: spec.scoreMax,
      timeResolutionMs,
    };
    if (new TieBreakEncoding(bounds).horizonMs >= needMs) return bounds;
  }
  const encoding = new TieBreakEncoding({ ...spec, timeResolutionMs: candidates.at(-1)! });
  throw new BoardBoundsError(
    `a ${spec.reset} period lasts up to ${needMs} ms, but a score range of ${range} leaves ${encoding.timeBits} bits of time ` +
      `(${encoding.horizonMs} ms at ${candidates.at(-1)} ms per tick): narrow the range or coarsen timeResolutionMs`,
  );
}

/** A cron board needs an expression that fires within the search window; other resets take none. */
function checkSchedule(spec: BoardSpec, nowMs: number): void {
  if (spec.reset !== 'cron') {
    if (spec.cron !== undefined)
      throw new BadCronError(spec.cron, `a ${spec.reset} board takes no cron expression`);
    return;
  }
  if (spec.cron === undefined) throw new BadCronError('', 'a cron board needs a cron expression');
  const cron = parseCron(spec.cron);
  if (nextFire(cron, spec.timeZone, nowMs) === null)
    throw new BadCronError(spec.cron, 'it never fires within 400 days');
}

/** Range bounds must be scores of the board, strictly from best to worst. */
export function checkPartitioning(partitioning: Partitioning, encoding: TieBreakEncoding): void {
  if (partitioning.kind !== 'range') return;
  let previous = Number.POSITIVE_INFINITY;
  for (const bound of partitioning.bounds) {
    if (!encoding.accepts(bound))
      throw new BoardBoundsError(`range bound ${bound} is outside the score range`);
    const lowest = encoding.lowestIndexOf(bound);
    if (!(lowest < previous))
      throw new BoardBoundsError('range bounds must go strictly from the best score to the worst');
    previous = lowest;
  }
}

/** The score a submission leads to, from the player's current one (null: no score yet). */
export function applyOperator(
  board: Pick<Board, 'operator' | 'sortOrder'>,
  current: number | null,
  value: number,
): number {
  switch (board.operator) {
    case 'set':
      return value;
    case 'incr':
      return (current ?? 0) + value;
    case 'decr':
      return (current ?? 0) - value;
    case 'best':
      if (current === null) return value;
      return board.sortOrder === 'desc' ? Math.max(current, value) : Math.min(current, value);
  }
}
