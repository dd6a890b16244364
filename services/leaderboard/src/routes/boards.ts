import { requireUser, type ServiceApp, type TokenAuthority } from '@sysdesign/platform';
import { z } from 'zod';
import type { Board } from '../domain/board.js';
import { TieBreakEncoding } from '../domain/encoding.js';
import { PeriodNotFoundError } from '../domain/errors.js';
import type { Leaderboard } from '../leaderboard.js';
import {
  ADMIN_SCOPE,
  boardParams,
  createBoardBody,
  decodeCursor,
  encodeCursor,
  pageQuery,
  playerId,
  rankedEntry,
} from './schemas.js';

export interface BoardRoutesOptions {
  leaderboard: Leaderboard;
  authority: TokenAuthority;
  pageMax: number;
}

/** What a client needs to know of a board, the tie-break's bounds included. */
function boardBody(board: Board) {
  const encoding = new TieBreakEncoding(board);
  return {
    id: board.id,
    sortOrder: board.sortOrder,
    operator: board.operator,
    ranking: board.ranking,
    reset: board.reset,
    timeZone: board.timeZone,
    cron: board.cron,
    partitioning: board.partitioning,
    createdAt: new Date(board.createdAtMs).toISOString(),
    periodStart: new Date(board.periodStartMs).toISOString(),
    bounds: {
      scoreMin: board.scoreMin,
      scoreMax: board.scoreMax,
      timeResolutionMs: board.timeResolutionMs,
      timeBits: encoding.timeBits,
      periodHorizonMs: encoding.horizonMs,
    },
  };
}

const boardResponse = z.object({
  id: z.string(),
  sortOrder: z.string(),
  operator: z.string(),
  ranking: z.string(),
  reset: z.string(),
  timeZone: z.string(),
  cron: z.string().nullable(),
  partitioning: z.union([
    z.object({ kind: z.literal('single') }),
    z.object({ kind: z.literal('range'), bounds: z.array(z.number()) }),
    z.object({ kind: z.literal('hash'), shards: z.number() }),
  ]),
  createdAt: z.string(),
  periodStart: z.string(),
  bounds: z.object({
    scoreMin: z.number(),
    scoreMax: z.number(),
    timeResolutionMs: z.number(),
    timeBits: z.number(),
    periodHorizonMs: z.number(),
  }),
});

const PERIODS_MAX = 100;

export function registerBoardRoutes(app: ServiceApp, options: BoardRoutesOptions): void {
  const { leaderboard } = options;
  const admin = requireUser(options.authority, { scopes: [ADMIN_SCOPE] });
  app.post(
    '/v1/boards',
    {
      preHandler: admin,
      schema: {
        tags: ['boards'],
        summary: 'Create a board',
        description:
          'Sort order, operator (best/set/incr/decr), ranking (ordinal/competition/dense), reset (never/daily/weekly/monthly ' +
          'in a time zone) and the score range. The tie-break needs the range and the time resolution to fit in 53 bits: ' +
          'LEADERBOARD_ERR_BAD_BOUNDS when they do not, LEADERBOARD_ERR_BAD_TIME_ZONE, LEADERBOARD_ERR_BOARD_EXISTS.',
        body: createBoardBody,
        response: { 201: boardResponse },
      },
    },
    async (request, reply) => {
      const board = await leaderboard.createBoard(request.body);
      return reply.code(201).header('location', `/v1/boards/${board.id}`).send(boardBody(board));
    },
  );
  app.get(
    '/v1/boards/:board',
    {
      schema: {
        tags: ['boards'],
        summary: 'A board, its current period and its bounds',
        params: boardParams,
        response: { 200: boardResponse },
      },
    },
    async (request) => boardBody(await leaderboard.board(request.params.board)),
  );
  app.post(
    '/v1/boards/:board/rebuild',
    {
      preHandler: admin,
      schema: {
        tags: ['boards'],
        summary: 'Rebuild the index from the score log',
        description:
          'Replays the last event of each player of the current period; submissions wait meanwhile.',
        params: boardParams,
        response: { 200: z.object({ players: z.number(), ms: z.number() }) },
      },
    },
    async (request) => leaderboard.rebuild(request.params.board),
  );
  app.delete(
    '/v1/players/:player',
    {
      preHandler: admin,
      schema: {
        tags: ['players'],
        summary: 'Remove a player everywhere',
        description:
          'Deletes the player from every board, period and index, with their score events (privacy).',
        params: z.object({ player: playerId }),
        response: { 200: z.object({ removedEntries: z.number() }) },
      },
    },
    async (request) => ({ removedEntries: await leaderboard.removePlayer(request.params.player) }),
  );
  registerPeriodRoutes(app, options);
}

function registerPeriodRoutes(app: ServiceApp, options: BoardRoutesOptions): void {
  const { leaderboard } = options;
  app.get(
    '/v1/boards/:board/periods',
    {
      schema: {
        tags: ['periods'],
        summary: 'Finished periods, newest first',
        params: boardParams,
        response: {
          200: z.object({
            periods: z.array(
              z.object({ start: z.number(), end: z.number(), players: z.number(), archivedAt: z.number() }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const periods = await leaderboard.periods(request.params.board, PERIODS_MAX);
      return {
        periods: periods.map((period) => ({
          start: period.periodStartMs,
          end: period.periodEndMs,
          players: period.players,
          archivedAt: period.archivedAtMs,
        })),
      };
    },
  );
  app.get(
    '/v1/boards/:board/periods/:start/standings',
    {
      schema: {
        tags: ['periods'],
        summary: 'A finished period’s final standings',
        description:
          'From Postgres, ranked by the board’s mode. LEADERBOARD_ERR_PERIOD_NOT_FOUND for an unknown period.',
        params: z.object({
          board: boardParams.shape.board,
          start: z.coerce.number().int().min(0).max(8.64e15),
        }),
        querystring: pageQuery(options.pageMax),
        response: { 200: z.object({ entries: z.array(rankedEntry), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const { board, start } = request.params;
      const offset = decodeCursor(request.query.cursor, Number.MAX_SAFE_INTEGER);
      const entries = await leaderboard.standings(board, start, offset, request.query.limit);
      if (entries === null) throw new PeriodNotFoundError(start);
      const nextCursor =
        entries.length === request.query.limit ? encodeCursor(offset + entries.length) : null;
      return {
        entries: entries.map(({ player, score, rank, displayName, subScore }) => ({
          player,
          score,
          rank,
          displayName,
          subScore,
        })),
        nextCursor,
      };
    },
  );
}
