import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { freshSchemaName, seededRandom } from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildFromEnv, type Client, clientOf, tokens } from './helpers.js';

/**
 * Partitioning is switchable per board and invisible to readers: three boards take the same
 * random scores (one sorted set, four score ranges, four hash shards) and answer every read the
 * same, before and after a rebuild from the log.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let client: Client;
let clock = Date.UTC(2026, 4, 1);

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv(
    { PLAYER_RATE_LIMIT: '100000', BATCH_MAX: '100' },
    { embedded, schema: freshSchemaName('lb_parts'), nowMs: () => clock },
  );
  client = await clientOf(app);
});

afterAll(async () => {
  await app?.close();
  await embedded?.close();
});

const BOARDS = ['flat', 'ranged', 'hashed'] as const;

async function reads(board: string, players: string[]): Promise<unknown[]> {
  const get = async (url: string) => (await app.inject({ url })).json();
  const friends = await app.inject({
    method: 'POST',
    url: `/v1/boards/${board}/ranks`,
    payload: { players },
  });
  return [
    await get(`/v1/boards/${board}/top?limit=50`),
    await get(`/v1/boards/${board}/top?limit=50&cursor=${Buffer.from('{"o":120}').toString('base64url')}`),
    ...(await Promise.all(players.map((player) => get(`/v1/boards/${board}/players/${player}`)))),
    ...(await Promise.all(players.map((player) => get(`/v1/boards/${board}/players/${player}/around?k=3`)))),
    friends.json(),
  ];
}

it('answers the same ranks, pages, around-me and friends on one set, range partitions and hash partitions', async () => {
  const partitionings = {
    flat: { kind: 'single' },
    ranged: { kind: 'range', bounds: [900, 600, 300] },
    hashed: { kind: 'hash', shards: 4 },
  };
  for (const board of BOARDS) {
    await client.createBoard({
      id: board,
      ranking: 'competition',
      scoreMax: 1_000,
      partitioning: partitionings[board],
    });
  }
  const { writer, admin } = await tokens();
  const random = seededRandom(5);
  for (let round = 0; round < 6; round += 1) {
    const scores = Array.from({ length: 100 }, () => ({
      player: `p${Math.floor(random() * 250)}`,
      score: Math.floor(random() * 1_001),
    }));
    clock += 1_000;
    for (const board of BOARDS) {
      const response = await app.inject({
        method: 'POST',
        url: `/v1/boards/${board}/scores/batch`,
        payload: { scores },
        headers: writer,
      });
      expect(response.statusCode).toBe(200);
    }
  }
  const players = ['p0', 'p17', 'p101', 'p249'];
  const expected = await reads('flat', players);
  expect(await reads('ranged', players)).toEqual(expected);
  expect(await reads('hashed', players)).toEqual(expected);
  for (const board of ['ranged', 'hashed']) {
    const rebuilt = await app.inject({ method: 'POST', url: `/v1/boards/${board}/rebuild`, headers: admin });
    expect(rebuilt.statusCode).toBe(200);
    expect(await reads(board, players)).toEqual(expected);
  }
});

it('refuses range bounds out of order or outside the score range', async () => {
  const { admin } = await tokens();
  for (const bounds of [[300, 600], [2_000]]) {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/boards',
      payload: { id: `bad-${bounds.join('-')}`, scoreMax: 1_000, partitioning: { kind: 'range', bounds } },
      headers: admin,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('LEADERBOARD_ERR_BAD_BOUNDS');
  }
});
