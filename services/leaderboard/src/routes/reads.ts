import type { ServiceApp } from '@sysdesign/platform';
import { z } from 'zod';
import type { Leaderboard, PlayerStanding } from '../leaderboard.js';
import {
  boardParams,
  decodeCursor,
  encodeCursor,
  pageQuery,
  playerId,
  playerParams,
  rankedEntry,
} from './schemas.js';
import { readSerializer } from './serializer.js';

export interface ReadRoutesOptions {
  leaderboard: Leaderboard;
  pageMax: number;
  listMax: number;
  aroundMax: number;
}

/** The largest position a cursor may name (beyond the twin's member bound). */
const OFFSET_MAX = 100_000_000;

function standingBody({ reachedAtMs, ...standing }: PlayerStanding) {
  return { ...standing, reachedAt: new Date(reachedAtMs).toISOString() };
}

export function registerReadRoutes(app: ServiceApp, options: ReadRoutesOptions): void {
  const { leaderboard } = options;
  app.get(
    '/v1/boards/:board/top',
    {
      serializerCompiler: readSerializer,
      schema: {
        tags: ['reads'],
        summary: 'The top of the board, a page at a time',
        description:
          'Best first, ranked by the board’s mode. The cursor is a position: under concurrent updates a player may move ' +
          'between pages. LEADERBOARD_ERR_BAD_CURSOR, LEADERBOARD_ERR_BOARD_NOT_FOUND.',
        params: boardParams,
        querystring: pageQuery(options.pageMax),
        response: {
          200: z.object({
            entries: z.array(rankedEntry),
            players: z.number(),
            nextCursor: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const offset = decodeCursor(request.query.cursor, OFFSET_MAX);
      const { entries, players } = await leaderboard.top(request.params.board, offset, request.query.limit);
      const next = offset + entries.length;
      return {
        entries,
        players,
        nextCursor: next < players && entries.length > 0 ? encodeCursor(next) : null,
      };
    },
  );
  app.get(
    '/v1/boards/:board/players/:player',
    {
      serializerCompiler: readSerializer,
      schema: {
        tags: ['reads'],
        summary: 'A player’s score, rank and percentile',
        description:
          'Percentile rank: the share of players below, ties counted half. LEADERBOARD_ERR_PLAYER_NOT_RANKED.',
        params: playerParams,
        response: {
          200: rankedEntry.extend({ reachedAt: z.string(), percentile: z.number(), players: z.number() }),
        },
      },
    },
    (request) => {
      const { board, player } = request.params;
      // The embedded twin answers without a promise; any other index through the async port.
      const standing = leaderboard.standingNow(board, player);
      return standing ? standingBody(standing) : leaderboard.standing(board, player).then(standingBody);
    },
  );
  app.get(
    '/v1/boards/:board/players/:player/approximate-rank',
    {
      serializerCompiler: readSerializer,
      schema: {
        tags: ['reads'],
        summary: 'A player’s approximate position on a hash-partitioned board',
        description:
          'Exact on the player’s own shard, estimated on the others from per-shard equi-depth sketches (no call to ' +
          'them), with the bracket [rankMin, rankMax] the true position was in when the sketches were taken ' +
          '(sketchAgeMs ago). Positions are ordinal (1 = best). Other boards answer exactly (exact: true). ' +
          'LEADERBOARD_ERR_PLAYER_NOT_RANKED.',
        params: playerParams,
        response: {
          200: z.object({
            player: z.string(),
            score: z.number(),
            rank: z.number(),
            rankMin: z.number(),
            rankMax: z.number(),
            players: z.number(),
            sketchAgeMs: z.number(),
            exact: z.boolean(),
          }),
        },
      },
    },
    async (request) => leaderboard.approximateStanding(request.params.board, request.params.player),
  );
  app.get(
    '/v1/boards/:board/players/:player/around',
    {
      serializerCompiler: readSerializer,
      schema: {
        tags: ['reads'],
        summary: 'The players around one (around-me)',
        description:
          'Up to k above and k below; fewer at the top and bottom edges. LEADERBOARD_ERR_PLAYER_NOT_RANKED.',
        params: playerParams,
        querystring: z.object({ k: z.coerce.number().int().min(0).max(options.aroundMax).default(5) }),
        response: { 200: z.object({ entries: z.array(rankedEntry) }) },
      },
    },
    async (request) => ({
      entries: await leaderboard.around(request.params.board, request.params.player, request.query.k),
    }),
  );
  app.post(
    '/v1/boards/:board/ranks',
    {
      serializerCompiler: readSerializer,
      schema: {
        tags: ['reads'],
        summary: 'Rank within a list of players (friends)',
        description:
          'The listed players who have a score, best first, with their board rank and their rank in the list.',
        params: boardParams,
        body: z.object({ players: z.array(playerId).min(1).max(options.listMax) }),
        response: { 200: z.object({ entries: z.array(rankedEntry.extend({ listRank: z.number() })) }) },
      },
    },
    async (request) => ({ entries: await leaderboard.rankList(request.params.board, request.body.players) }),
  );
}
