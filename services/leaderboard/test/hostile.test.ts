import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import {
  expectForgedRequestIdHandled,
  expectProblem,
  FORGED_REQUEST_IDS,
  freshSchemaName,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, clientOf, tokens } from './helpers.js';

/**
 * Bad input never reaches a 500: unknown boards, scores that are not integers or fall outside
 * the board's range, increments past the guard, huge batches, bad time zones and bounds that do
 * not fit in 53 bits, bad cursors, missing or weak tokens, forged request ids.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let writer: Record<string, string>;
let admin: Record<string, string>;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv(
    { BATCH_MAX: '10', INCREMENT_MAX: '100', PLAYER_RATE_LIMIT: '3', PLAYER_RATE_WINDOW_MS: '60000' },
    { embedded, schema: freshSchemaName('lb_hostile') },
  );
  ({ writer, admin } = await tokens());
  const client = await clientOf(app);
  await client.createBoard({ id: 'b', scoreMin: 0, scoreMax: 1_000 });
  await client.createBoard({ id: 'inc', operator: 'incr' });
});

afterAll(async () => {
  await app?.close();
  await embedded?.close();
});

const post = (url: string, payload: unknown, headers = writer) =>
  ({ method: 'POST', url, payload: payload as Record<string, unknown>, headers }) as const;

describe('scores', () => {
  it('refuses an unknown board with 404', async () => {
    await expectProblem(
      app,
      post('/v1/boards/nope/scores', { player: 'p', score: 1 }),
      404,
      'LEADERBOARD_ERR_BOARD_NOT_FOUND',
    );
    await expectProblem(app, '/v1/boards/nope/top', 404, 'LEADERBOARD_ERR_BOARD_NOT_FOUND');
  });

  it('refuses scores that are not safe integers as invalid requests', async () => {
    for (const score of ['NaN', 'Infinity', 1.5, 2 ** 60, null, '12', true]) {
      await expectProblem(
        app,
        post('/v1/boards/b/scores', { player: 'p', score }),
        400,
        'ERR_VALIDATION',
        'score',
      );
    }
    const raw = {
      ...post('/v1/boards/b/scores', {}),
      payload: '{"player":"p","score":NaN}',
      headers: { ...writer, 'content-type': 'application/json' },
    };
    await expectProblem(app, raw, 400, 'ERR_MALFORMED_BODY');
  });

  it('refuses a score outside the board range, naming the range', async () => {
    const body = await expectProblem(
      app,
      post('/v1/boards/b/scores', { player: 'p', score: 1_001 }),
      422,
      'LEADERBOARD_ERR_SCORE_OUT_OF_RANGE',
    );
    expect(body).toMatchObject({ scoreMin: 0, scoreMax: 1_000 });
    await expectProblem(
      app,
      post('/v1/boards/b/scores', { player: 'p', score: -1 }),
      422,
      'LEADERBOARD_ERR_SCORE_OUT_OF_RANGE',
    );
  });

  it('refuses an increment above the guard, or negative', async () => {
    await expectProblem(
      app,
      post('/v1/boards/inc/scores', { player: 'p', score: 101 }),
      422,
      'LEADERBOARD_ERR_INCREMENT_TOO_LARGE',
    );
    await expectProblem(
      app,
      post('/v1/boards/inc/scores', { player: 'p', score: -1 }),
      422,
      'LEADERBOARD_ERR_INCREMENT_TOO_LARGE',
    );
  });

  it('refuses a player who submits too often, with Retry-After', async () => {
    for (let index = 0; index < 3; index += 1) {
      expect(
        (await app.inject(post('/v1/boards/b/scores', { player: 'spammer', score: index }))).statusCode,
      ).toBe(200);
    }
    const response = await app.inject(post('/v1/boards/b/scores', { player: 'spammer', score: 9 }));
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBeDefined();
    expect(response.json()).toMatchObject({ code: 'LEADERBOARD_ERR_PLAYER_RATE_LIMITED' });
  });

  it('refuses huge and empty batches', async () => {
    const scores = Array.from({ length: 11 }, (_, index) => ({ player: `p${index}`, score: 1 }));
    await expectProblem(app, post('/v1/boards/b/scores/batch', { scores }), 400, 'ERR_VALIDATION', 'scores');
    await expectProblem(
      app,
      post('/v1/boards/b/scores/batch', { scores: [] }),
      400,
      'ERR_VALIDATION',
      'scores',
    );
  });

  it('refuses bad players, display names and idempotency keys', async () => {
    for (const player of ['', 'x'.repeat(129), 'a b', 'é', '\ud800']) {
      await expectProblem(
        app,
        post('/v1/boards/b/scores', { player, score: 1 }),
        400,
        'ERR_VALIDATION',
        'player',
      );
    }
    await expectProblem(
      app,
      post('/v1/boards/b/scores', { player: 'p', score: 1, displayName: 'x'.repeat(65) }),
      400,
      'ERR_VALIDATION',
    );
    await expectProblem(
      app,
      post(
        '/v1/boards/b/scores',
        { player: 'p', score: 1 },
        { ...writer, 'idempotency-key': 'k'.repeat(129) },
      ),
      400,
      'ERR_VALIDATION',
    );
  });

  it('lets only a server token with the write scope post', async () => {
    await expectProblem(
      app,
      post('/v1/boards/b/scores', { player: 'p', score: 1 }, {}),
      401,
      'ERR_UNAUTHORIZED',
    );
    await expectProblem(
      app,
      post('/v1/boards/b/scores', { player: 'p', score: 1 }, { authorization: 'Bearer not.a.token' }),
      401,
      'ERR_UNAUTHORIZED',
    );
    await expectProblem(app, post('/v1/boards', { id: 'by-writer' }), 403, 'ERR_FORBIDDEN');
    await expectProblem(
      app,
      { method: 'DELETE', url: '/v1/players/p', headers: writer },
      403,
      'ERR_FORBIDDEN',
    );
  });
});

describe('boards', () => {
  it('refuses bounds that do not fit the tie-break in 53 bits', async () => {
    const wide = { id: 'wide', scoreMin: 0, scoreMax: 2 ** 50, reset: 'monthly', timeResolutionMs: 1 };
    await expectProblem(app, post('/v1/boards', wide, admin), 400, 'LEADERBOARD_ERR_BAD_BOUNDS');
    await expectProblem(
      app,
      post('/v1/boards', { id: 'inverted', scoreMin: 5, scoreMax: 5 }, admin),
      400,
      'LEADERBOARD_ERR_BAD_BOUNDS',
    );
  });

  it('refuses an unknown time zone, reset or operator', async () => {
    await expectProblem(
      app,
      post('/v1/boards', { id: 'tz', reset: 'daily', timeZone: 'Mars/Olympus' }, admin),
      400,
      'LEADERBOARD_ERR_BAD_TIME_ZONE',
    );
    await expectProblem(
      app,
      post('/v1/boards', { id: 'cron', reset: '0 0 * * 1' }, admin),
      400,
      'ERR_VALIDATION',
      'reset',
    );
    await expectProblem(
      app,
      post('/v1/boards', { id: 'op', operator: 'max' }, admin),
      400,
      'ERR_VALIDATION',
      'operator',
    );
  });

  it('refuses bad cron schedules with LEADERBOARD_ERR_BAD_CRON', async () => {
    const bad = [
      '',
      '* * * *',
      '61 * * * *',
      '0 24 * * *',
      '0 0 0 * *',
      '0 0 * 13 *',
      '0 0 * * 8',
      '5-1 * * * *',
      '*/0 * * * *',
      'a b c d e',
      '0 0 31 2 *',
      `${'1,'.repeat(60)}1 * * * *`,
    ];
    for (const cron of bad) {
      const response = await app.inject(post('/v1/boards', { id: 'cron-bad', reset: 'cron', cron }, admin));
      expect(response.statusCode, cron).toBe(400);
      expect(['LEADERBOARD_ERR_BAD_CRON', 'ERR_VALIDATION']).toContain(response.json().code);
    }
    await expectProblem(
      app,
      post('/v1/boards', { id: 'cron-missing', reset: 'cron' }, admin),
      400,
      'LEADERBOARD_ERR_BAD_CRON',
    );
    await expectProblem(
      app,
      post('/v1/boards', { id: 'cron-31feb', reset: 'cron', cron: '0 0 31 2 *' }, admin),
      400,
      'LEADERBOARD_ERR_BAD_CRON',
    );
    await expectProblem(
      app,
      post('/v1/boards', { id: 'cron-daily', reset: 'daily', cron: '0 0 * * *' }, admin),
      400,
      'LEADERBOARD_ERR_BAD_CRON',
    );
  });

  it('refuses a second board with the same id', async () => {
    await expectProblem(app, post('/v1/boards', { id: 'b' }, admin), 409, 'LEADERBOARD_ERR_BOARD_EXISTS');
  });
});

describe('reads', () => {
  it('refuses forged cursors, huge pages and huge friend lists', async () => {
    await expectProblem(app, '/v1/boards/b/top?cursor=garbage', 400, 'LEADERBOARD_ERR_BAD_CURSOR');
    await expectProblem(
      app,
      `/v1/boards/b/top?cursor=${Buffer.from('{"o":-1}').toString('base64url')}`,
      400,
      'LEADERBOARD_ERR_BAD_CURSOR',
    );
    await expectProblem(app, '/v1/boards/b/top?limit=101', 400, 'ERR_VALIDATION', 'limit');
    await expectProblem(app, '/v1/boards/b/players/p/around?k=51', 400, 'ERR_VALIDATION', 'k');
    const players = Array.from({ length: 1_001 }, (_, index) => `p${index}`);
    await expectProblem(app, post('/v1/boards/b/ranks', { players }), 400, 'ERR_VALIDATION', 'players');
  });

  it('answers 404 for a player without a score and for an unknown period', async () => {
    await expectProblem(app, '/v1/boards/b/players/ghost', 404, 'LEADERBOARD_ERR_PLAYER_NOT_RANKED');
    await expectProblem(app, '/v1/boards/b/players/ghost/around', 404, 'LEADERBOARD_ERR_PLAYER_NOT_RANKED');
    await expectProblem(
      app,
      '/v1/boards/b/players/ghost/approximate-rank',
      404,
      'LEADERBOARD_ERR_PLAYER_NOT_RANKED',
    );
    await expectProblem(
      app,
      '/v1/boards/nope/players/p/approximate-rank',
      404,
      'LEADERBOARD_ERR_BOARD_NOT_FOUND',
    );
    await expectProblem(app, '/v1/boards/b/players/bad%20id/approximate-rank', 400, 'ERR_VALIDATION');
    await expectProblem(app, '/v1/boards/b/periods/0/standings', 404, 'LEADERBOARD_ERR_PERIOD_NOT_FOUND');
  });

  it.each(FORGED_REQUEST_IDS)('handles a forged x-request-id (%s)', async (_name, id) => {
    await expectForgedRequestIdHandled(app, { url: '/v1/boards/b/top' }, id);
  });
});
