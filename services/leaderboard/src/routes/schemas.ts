import { z } from 'zod';
import { OPERATORS, RANKINGS } from '../domain/board.js';
import { BadCursorError } from '../domain/errors.js';
import { RESETS } from '../domain/schedule.js';

/** Shapes shared by the routes, and the opaque cursor of paged lists. */

export const WRITE_SCOPE = 'leaderboard:write';
export const ADMIN_SCOPE = 'leaderboard:admin';

export const boardId = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (1 to 64)')
  .meta({ example: 'weekly-arena' });
export const playerId = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'letters, digits, _ . : @ - (1 to 128)')
  .meta({ example: 'player-42' });
const safeInteger = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

export const boardParams = z.object({ board: boardId });
export const playerParams = z.object({ board: boardId, player: playerId });

export const createBoardBody = z.object({
  id: boardId,
  sortOrder: z.enum(['desc', 'asc']).default('desc'),
  operator: z.enum(OPERATORS).default('best'),
  ranking: z.enum(RANKINGS).default('ordinal'),
  reset: z.enum(RESETS).default('never'),
  timeZone: z.string().min(1).max(64).default('UTC'),
  /** With reset `cron`: minute hour day-of-month month day-of-week, in the time zone. */
  cron: z.string().min(1).max(100).optional().meta({ example: '0 18 * * 5' }),
  scoreMin: safeInteger.default(0),
  scoreMax: safeInteger.default(2 ** 31 - 1),
  timeResolutionMs: z.number().int().min(1).max(3_600_000).optional(),
  partitioning: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('single') }),
      z.object({ kind: z.literal('range'), bounds: z.array(safeInteger).min(1).max(15) }),
      z.object({ kind: z.literal('hash'), shards: z.number().int().min(2).max(16) }),
    ])
    .default({ kind: 'single' }),
});

export const submissionBody = z.object({
  player: playerId,
  score: safeInteger,
  displayName: z.string().min(1).max(64).optional(),
  subScore: safeInteger.optional(),
});

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, 'printable ASCII, 1 to 128 characters')
    .optional(),
});

export const rankedEntry = z.object({
  player: z.string(),
  score: z.number(),
  rank: z.number(),
  displayName: z.string().nullable(),
  subScore: z.number().nullable(),
});

export function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, offsetMax: number): number {
  if (cursor === undefined) return 0;
  try {
    const { o } = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { o?: unknown };
    if (typeof o === 'number' && Number.isSafeInteger(o) && o >= 0 && o <= offsetMax) return o;
  } catch {
    // Falls through to the refusal below.
  }
  throw new BadCursorError();
}

export const pageQuery = (pageMax: number) =>
  z.object({
    limit: z.coerce.number().int().min(1).max(pageMax).default(10),
    cursor: z.string().max(200).optional(),
  });
