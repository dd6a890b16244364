import { defineProblems, type Problem } from '@sysdesign/platform';
import { BoardBoundsError } from './domain/board.js';
import { BadCronError } from './domain/cron.js';
import { ScoreOutOfRangeError, TieBreakHorizonError } from './domain/encoding.js';
import {
  BadCursorError,
  BoardExistsError,
  BoardNotFoundError,
  BoardsFullError,
  IdempotencyConflictError,
  IncrementTooLargeError,
  PeriodNotFoundError,
  PlayerNotRankedError,
  PlayerRateLimitedError,
} from './domain/errors.js';
import { BadTimeZoneError } from './domain/schedule.js';
import { TooManyStreamsError } from './live.js';
import { PageTooDeepError } from './store/partitions.js';

/** The leaderboard's stable error codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  LEADERBOARD_ERR_BOARD_NOT_FOUND: { status: 404, title: 'Board not found' },
  LEADERBOARD_ERR_BOARD_EXISTS: { status: 409, title: 'Board already exists' },
  LEADERBOARD_ERR_BOARDS_FULL: { status: 507, title: 'No room for another board' },
  LEADERBOARD_ERR_BAD_BOUNDS: { status: 400, title: 'Score range and time resolution do not fit in 53 bits' },
  LEADERBOARD_ERR_BAD_TIME_ZONE: { status: 400, title: 'Unknown time zone' },
  LEADERBOARD_ERR_BAD_CRON: { status: 400, title: 'Invalid cron schedule' },
  LEADERBOARD_ERR_SCORE_OUT_OF_RANGE: { status: 422, title: 'Score outside the board range' },
  LEADERBOARD_ERR_HORIZON_EXHAUSTED: { status: 409, title: 'The period outlived its tie-break horizon' },
  LEADERBOARD_ERR_INCREMENT_TOO_LARGE: { status: 422, title: 'Increment outside the allowed bound' },
  LEADERBOARD_ERR_PLAYER_RATE_LIMITED: { status: 429, title: 'Player submits too often' },
  LEADERBOARD_ERR_IDEMPOTENCY_CONFLICT: { status: 422, title: 'Idempotency-Key reused with another request' },
  LEADERBOARD_ERR_PLAYER_NOT_RANKED: { status: 404, title: 'Player has no score on this board' },
  LEADERBOARD_ERR_BAD_CURSOR: { status: 400, title: 'Invalid cursor' },
  LEADERBOARD_ERR_PERIOD_NOT_FOUND: { status: 404, title: 'Period not found' },
  LEADERBOARD_ERR_PAGE_TOO_DEEP: { status: 400, title: 'Page too deep for a hash-partitioned board' },
  LEADERBOARD_ERR_TOO_MANY_STREAMS: { status: 503, title: 'Too many live streams' },
});

/** The domain's typed errors as problems; anything else goes to the platform's mapping. */
export function mapLeaderboardError(error: unknown): Problem | undefined {
  if (error instanceof BoardNotFoundError) return errors.LEADERBOARD_ERR_BOARD_NOT_FOUND(error.message);
  if (error instanceof BoardExistsError) return errors.LEADERBOARD_ERR_BOARD_EXISTS(error.message);
  if (error instanceof BoardsFullError) return errors.LEADERBOARD_ERR_BOARDS_FULL(error.message);
  if (error instanceof BoardBoundsError) return errors.LEADERBOARD_ERR_BAD_BOUNDS(error.message);
  if (error instanceof BadTimeZoneError)
    return errors.LEADERBOARD_ERR_BAD_TIME_ZONE(error.message, { field: 'timeZone' });
  if (error instanceof BadCronError) return errors.LEADERBOARD_ERR_BAD_CRON(error.message, { field: 'cron' });
  if (error instanceof ScoreOutOfRangeError)
    return errors.LEADERBOARD_ERR_SCORE_OUT_OF_RANGE(error.message, {
      scoreMin: error.scoreMin,
      scoreMax: error.scoreMax,
    });
  if (error instanceof TieBreakHorizonError) return errors.LEADERBOARD_ERR_HORIZON_EXHAUSTED(error.message);
  if (error instanceof IncrementTooLargeError)
    return errors.LEADERBOARD_ERR_INCREMENT_TOO_LARGE(error.message, { incrementMax: error.incrementMax });
  if (error instanceof PlayerRateLimitedError)
    return errors.LEADERBOARD_ERR_PLAYER_RATE_LIMITED(
      error.message,
      { retryAfterMs: error.retryAfterMs },
      { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1_000))) },
    );
  if (error instanceof IdempotencyConflictError)
    return errors.LEADERBOARD_ERR_IDEMPOTENCY_CONFLICT(error.message);
  if (error instanceof PlayerNotRankedError) return errors.LEADERBOARD_ERR_PLAYER_NOT_RANKED(error.message);
  if (error instanceof BadCursorError)
    return errors.LEADERBOARD_ERR_BAD_CURSOR(error.message, { field: 'cursor' });
  if (error instanceof PeriodNotFoundError) return errors.LEADERBOARD_ERR_PERIOD_NOT_FOUND(error.message);
  if (error instanceof PageTooDeepError)
    return errors.LEADERBOARD_ERR_PAGE_TOO_DEEP(error.message, { depthMax: error.depthMax });
  if (error instanceof TooManyStreamsError)
    return errors.LEADERBOARD_ERR_TOO_MANY_STREAMS(error.message, {}, { 'retry-after': '5' });
  return undefined;
}
