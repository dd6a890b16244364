import type { ServiceApp } from '@sysdesign/platform';
import {
  deleteRedisPrefix,
  describeWith,
  dropSchema,
  freshRedisPrefix,
  freshSchemaName,
  redisAndPostgresBackend,
  tempDirSync,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildFromEnv, clientOf, tokens } from './helpers.js';

const both = await redisAndPostgresBackend();

describeWith(both, 'two instances on one Redis and one Postgres', ({ redisUrl, databaseUrl }) => {
  const prefix = freshRedisPrefix('leaderboard');
  const schema = freshSchemaName('lb_redis');
  const env = (dir: string) => ({
    DATA_DIR: dir,
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: prefix,
    PLAYER_RATE_LIMIT: '1000000',
  });
  let a: ServiceApp;
  let b: ServiceApp;

  beforeAll(async () => {
    a = await buildFromEnv(env(tempDirSync('lb-a-')), { schema });
    b = await buildFromEnv(env(tempDirSync('lb-b-')), { schema });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await deleteRedisPrefix(redisUrl, prefix);
    await dropSchema(databaseUrl, schema);
  });

  it('sums 1,000 concurrent increments to one player exactly, half through each instance', async () => {
    // Each increment locks the player's row, appends to the log and writes the index before
    // committing, so no two read the same old score, whichever instance takes them.
    await (await clientOf(a)).createBoard({ id: 'race-incr', operator: 'incr' });
    const { writer } = await tokens();
    const responses = await Promise.all(
      Array.from({ length: 1_000 }, (_, index) =>
        (index % 2 === 0 ? a : b).inject({
          method: 'POST',
          url: '/v1/boards/race-incr/scores',
          payload: { player: 'hot', score: 1 },
          headers: writer,
        }),
      ),
    );
    expect(
      responses.filter((response) => response.statusCode !== 200).map((response) => response.body),
    ).toEqual([]);
    const scores = responses.map((response) => response.json().score as number).sort((x, y) => x - y);
    expect(scores).toEqual(Array.from({ length: 1_000 }, (_, index) => index + 1));
    for (const app of [a, b]) {
      expect((await app.inject({ url: '/v1/boards/race-incr/players/hot' })).json().score).toBe(1_000);
    }
  });

  it('counts both of two concurrent first increments of a new player (regression: both read "no score")', async () => {
    // A new player has no row to lock: without the placeholder insert both transactions wrote 1.
    await (await clientOf(a)).createBoard({ id: 'race-first', operator: 'incr' });
    const { writer } = await tokens();
    for (let trial = 0; trial < 30; trial += 1) {
      const player = `new-${trial}`;
      await Promise.all(
        [a, b].map((app) =>
          app.inject({
            method: 'POST',
            url: '/v1/boards/race-first/scores',
            payload: { player, score: 1 },
            headers: writer,
          }),
        ),
      );
      expect((await a.inject({ url: `/v1/boards/race-first/players/${player}` })).json().score).toBe(2);
    }
  });

  it('counts one Idempotency-Key once when both instances receive it at the same time', async () => {
    await (await clientOf(a)).createBoard({ id: 'race-idem', operator: 'incr' });
    const { writer } = await tokens();
    const responses = await Promise.all(
      [a, b, a, b].map((app) =>
        app.inject({
          method: 'POST',
          url: '/v1/boards/race-idem/scores',
          payload: { player: 'p', score: 7 },
          headers: { ...writer, 'idempotency-key': 'same-key' },
        }),
      ),
    );
    expect(responses.map((response) => response.json().score)).toEqual([7, 7, 7, 7]);
    expect((await b.inject({ url: '/v1/boards/race-idem/players/p' })).json().score).toBe(7);
  });
});
