import { requireUser, type ServiceApp, type TokenAuthority } from '@sysdesign/platform';
import { z } from 'zod';
import type { Leaderboard, Submission } from '../leaderboard.js';
import { boardParams, idempotencyHeaders, submissionBody, WRITE_SCOPE } from './schemas.js';

export interface ScoreRoutesOptions {
  leaderboard: Leaderboard;
  authority: TokenAuthority;
  batchMax: number;
}

const result = z.object({ player: z.string(), score: z.number(), changed: z.boolean() });

function submissionOf(body: z.infer<typeof submissionBody>): Submission {
  return { player: body.player, value: body.score, displayName: body.displayName, subScore: body.subScore };
}

const REFUSALS =
  'LEADERBOARD_ERR_BOARD_NOT_FOUND, LEADERBOARD_ERR_SCORE_OUT_OF_RANGE, LEADERBOARD_ERR_INCREMENT_TOO_LARGE, ' +
  'LEADERBOARD_ERR_PLAYER_RATE_LIMITED, LEADERBOARD_ERR_IDEMPOTENCY_CONFLICT, LEADERBOARD_ERR_HORIZON_EXHAUSTED.';

/**
 * Scores are posted by a game server holding a token with the `leaderboard:write` scope, never by
 * the player: a player who could post would post any score.
 */
export function registerScoreRoutes(app: ServiceApp, options: ScoreRoutesOptions): void {
  const { leaderboard } = options;
  const writer = requireUser(options.authority, { scopes: [WRITE_SCOPE] });
  app.post(
    '/v1/boards/:board/scores',
    {
      preHandler: writer,
      schema: {
        tags: ['scores'],
        summary: 'Submit a score',
        description: `Applies the board's operator to the player's score. The same Idempotency-Key counts once. ${REFUSALS}`,
        params: boardParams,
        headers: idempotencyHeaders,
        body: submissionBody,
        response: { 200: result.extend({ replayed: z.boolean() }) },
      },
    },
    async (request) => {
      const { results, replayed } = await leaderboard.submit(
        request.params.board,
        [submissionOf(request.body)],
        request.headers['idempotency-key'],
      );
      return { ...results[0]!, replayed };
    },
  );
  app.post(
    '/v1/boards/:board/scores/batch',
    {
      preHandler: writer,
      schema: {
        tags: ['scores'],
        summary: 'Submit several scores at once',
        description: `Up to BATCH_MAX submissions applied in one transaction (all or none). ${REFUSALS}`,
        params: boardParams,
        headers: idempotencyHeaders,
        body: z.object({ scores: z.array(submissionBody).min(1).max(options.batchMax) }),
        response: { 200: z.object({ results: z.array(result), replayed: z.boolean() }) },
      },
    },
    async (request) =>
      leaderboard.submit(
        request.params.board,
        request.body.scores.map(submissionOf),
        request.headers['idempotency-key'],
      ),
  );
}
