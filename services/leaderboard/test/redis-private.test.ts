import { createRedis, type ServiceApp } from '@sysdesign/platform';
import {
  describeWith,
  dropSchema,
  freshSchemaName,
  type PrivateServer,
  postgresBackend,
  privateRedis,
  seededRandom,
  tempDirSync,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildFromEnv, clientOf, tokens } from './helpers.js';

/**
 * On Redis servers of the test's own (nothing here touches the shared Redis): a real FLUSHALL
 * mid-run is repaired from the Postgres log with nothing accepted lost; a hash-partitioned board
 * spreads its shards over several Redis URLs and serves the same pages, with an approximate rank
 * whose bracket holds the exact one; a rebuild on Redis swaps its keys in whole, so a reader on
 * another instance never sees the board refill.
 */

async function flushAll(url: string): Promise<void> {
  const redis = await createRedis({ url });
  try {
    await redis.flushall();
  } finally {
    redis.disconnect();
  }
}

async function keysOf(url: string, pattern: string): Promise<string[]> {
  const redis = await createRedis({ url });
  try {
    return await redis.keys(pattern);
  } finally {
    redis.disconnect();
  }
}

describeWith(await postgresBackend(), 'leaderboard on private Redis servers', ({ url: databaseUrl }) => {
  const schema = freshSchemaName('lb_private');
  const apps: ServiceApp[] = [];
  let main: PrivateServer;
  let shardA: PrivateServer;
  let shardB: PrivateServer;

  const start = async (env: Record<string, string> = {}) => {
    const app = await buildFromEnv(
      {
        DATA_DIR: tempDirSync('lb-private-'),
        REDIS_URL: main.url,
        DATABASE_URL: databaseUrl,
        PLAYER_RATE_LIMIT: '1000000',
        REBUILD_CHUNK: '100',
        ...env,
      },
      { schema },
    );
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    [main, shardA, shardB] = await Promise.all([privateRedis(), privateRedis(), privateRedis()]);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await Promise.all([main, shardA, shardB].map((server) => server?.stop()));
    await dropSchema(databaseUrl, schema);
  });

  it('rebuilds a FLUSHALLed Redis from Postgres: the same board, and every score accepted mid-flush', async () => {
    const a = await start();
    const b = await start();
    const client = await clientOf(a);
    await client.createBoard({ id: 'flushed', ranking: 'competition' });
    const { writer, admin } = await tokens();
    const random = seededRandom(11);
    const submit = (app: ServiceApp, player: string, score: number) =>
      app.inject({
        method: 'POST',
        url: '/v1/boards/flushed/scores',
        payload: { player, score, displayName: `name of ${player}` },
        headers: writer,
      });
    for (let index = 0; index < 300; index += 1) {
      await submit(index % 2 ? a : b, `p${Math.floor(random() * 150)}`, Math.floor(random() * 50));
    }
    const before = (await a.inject({ url: '/v1/boards/flushed/top?limit=100' })).json();
    await flushAll(main.url);
    expect((await a.inject({ url: '/v1/boards/flushed/top?limit=100' })).json().entries).toEqual([]);
    const rebuilt = await b.inject({ method: 'POST', url: '/v1/boards/flushed/rebuild', headers: admin });
    expect(rebuilt.json().players).toBe(before.players);
    expect((await a.inject({ url: '/v1/boards/flushed/top?limit=100' })).json()).toEqual(before);

    // Flushed again while 200 submissions are in flight through both instances: every one that
    // was acknowledged is in the log, and a new instance's start-up recovery brings all back.
    const accepted = new Map<string, number>();
    const inFlight = Array.from({ length: 200 }, (_, index) =>
      submit(index % 2 ? a : b, `late-${index % 40}`, 50 + (index % 17)).then((response) => {
        if (response.statusCode === 200) {
          const { player, score } = response.json() as { player: string; score: number };
          accepted.set(player, Math.max(accepted.get(player) ?? 0, score));
        }
      }),
    );
    await Promise.all([...inFlight.slice(0, 100), flushAll(main.url)]);
    await Promise.all(inFlight);
    expect(accepted.size).toBe(40);
    const c = await start();
    const top = (await c.inject({ url: '/v1/boards/flushed/top?limit=100' })).json();
    expect(top.players).toBe(before.players + 40);
    for (const [player, score] of accepted) {
      const standing = (await a.inject({ url: `/v1/boards/flushed/players/${player}` })).json();
      expect(standing).toMatchObject({ score, displayName: `name of ${player}` });
    }
  }, 180_000);

  it('spreads a hash board over several Redis URLs, with the same pages and bracketed approximate ranks', async () => {
    const app = await start({ SHARD_REDIS_URLS: `${shardA.url},${shardB.url}` });
    const client = await clientOf(app);
    await client.createBoard({ id: 'hashed', partitioning: { kind: 'hash', shards: 4 } });
    await client.createBoard({ id: 'flat' });
    const { writer, admin } = await tokens();
    const random = seededRandom(5);
    for (let round = 0; round < 4; round += 1) {
      const scores = Array.from({ length: 100 }, (_, index) => ({
        player: `h${round * 100 + index}`,
        score: Math.floor(random() * 100_000),
      }));
      for (const board of ['hashed', 'flat']) {
        const response = await app.inject({
          method: 'POST',
          url: `/v1/boards/${board}/scores/batch`,
          payload: { scores },
          headers: writer,
        });
        expect(response.statusCode).toBe(200);
      }
    }
    // Shards 0 and 2 on the first URL, 1 and 3 on the second; nothing of the board on REDIS_URL's.
    expect((await keysOf(shardA.url, '*hashed*:s*')).length).toBe(2);
    expect((await keysOf(shardB.url, '*hashed*:s*')).length).toBe(2);
    expect(await keysOf(main.url, '*hashed*:s*')).toEqual([]);
    const page = async (board: string) =>
      (await app.inject({ url: `/v1/boards/${board}/top?limit=50` })).json().entries;
    expect(await page('hashed')).toEqual(await page('flat'));

    for (const player of ['h0', 'h123', 'h250', 'h399']) {
      const exact = (await app.inject({ url: `/v1/boards/flat/players/${player}` })).json().rank;
      const approximate = (
        await app.inject({ url: `/v1/boards/hashed/players/${player}/approximate-rank` })
      ).json();
      expect(approximate).toMatchObject({ player, exact: false, players: 400 });
      expect(approximate.rankMin).toBeLessThanOrEqual(exact);
      expect(approximate.rankMax).toBeGreaterThanOrEqual(exact);
      const flat = (await app.inject({ url: `/v1/boards/flat/players/${player}/approximate-rank` })).json();
      expect(flat).toMatchObject({ rank: exact, rankMin: exact, rankMax: exact, exact: true });
    }

    // One shard server loses everything: the rebuild refills its shards from the log.
    await flushAll(shardB.url);
    expect(await page('hashed')).not.toEqual(await page('flat'));
    const rebuilt = await app.inject({ method: 'POST', url: '/v1/boards/hashed/rebuild', headers: admin });
    expect(rebuilt.json()).toMatchObject({ players: 400 });
    expect(await page('hashed')).toEqual(await page('flat'));
  }, 180_000);

  it('swaps a rebuilt board in whole on Redis: a reader on another instance never sees it refill', async () => {
    const writerApp = await start();
    const reader = await start();
    const client = await clientOf(writerApp);
    await client.createBoard({ id: 'swap', ranking: 'dense' });
    const { writer, admin } = await tokens();
    for (let first = 0; first < 1_000; first += 100) {
      const scores = Array.from({ length: 100 }, (_, index) => ({
        player: `s${first + index}`,
        score: ((first + index) * 7_919) % 500,
      }));
      await writerApp.inject({
        method: 'POST',
        url: '/v1/boards/swap/scores/batch',
        payload: { scores },
        headers: writer,
      });
    }
    const before = (await reader.inject({ url: '/v1/boards/swap/top?limit=10' })).json();
    const standingBefore = (await reader.inject({ url: '/v1/boards/swap/players/s77' })).json();
    let rebuilding = true;
    const rebuild = writerApp
      .inject({ method: 'POST', url: '/v1/boards/swap/rebuild', headers: admin })
      .then((response) => {
        rebuilding = false;
        return response;
      });
    let reads = 0;
    while (rebuilding) {
      const [top, standing] = await Promise.all([
        reader.inject({ url: '/v1/boards/swap/top?limit=10' }),
        reader.inject({ url: '/v1/boards/swap/players/s77' }),
      ]);
      expect(top.json()).toEqual(before);
      expect(standing.json()).toEqual(standingBefore);
      reads += 1;
    }
    expect((await rebuild).json().players).toBe(1_000);
    expect(reads).toBeGreaterThan(0);
    expect(await keysOf(main.url, '*~rebuild*')).toEqual([]);
  }, 180_000);
});
