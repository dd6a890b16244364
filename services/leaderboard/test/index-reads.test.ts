import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { freshSchemaName, seededRandom } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, type Client, clientOf, tokens } from './helpers.js';

/**
 * Reads served by the index alone, on the embedded backends (PGlite and the twin): dense ranks
 * from the distinct-score set stay equal to a recount on random updates (scores going down and
 * players removed included), a rebuild swaps in a whole board so a reader never sees it refill,
 * and rank and top reads keep answering, display names included, with Postgres closed.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let client: Client;
let clock = Date.UTC(2026, 0, 5, 12);

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv(
    { REBUILD_CHUNK: '100', PLAYER_RATE_LIMIT: '1000000' },
    { embedded, schema: freshSchemaName('lb_reads'), nowMs: () => clock },
  );
  client = await clientOf(app);
});

afterAll(async () => {
  await app?.close();
  await embedded?.close();
});

/** The dense rank of every player, recounted from their scores: 1 + distinct scores above. */
function denseRanks(scores: ReadonlyMap<string, number>): Map<string, number> {
  const distinct = [...new Set(scores.values())].sort((a, b) => b - a);
  return new Map([...scores].map(([player, score]) => [player, 1 + distinct.indexOf(score)]));
}

async function submitBatch(board: string, scores: { player: string; score: number; displayName?: string }[]) {
  const { writer } = await tokens();
  clock += 1_000;
  const response = await app.inject({
    method: 'POST',
    url: `/v1/boards/${board}/scores/batch`,
    payload: { scores },
    headers: writer,
  });
  expect(response.statusCode, response.body).toBe(200);
}

describe('dense ranks from the distinct-score set', () => {
  it('equal a recount after random sets (up and down) and removals', async () => {
    // `set` lets a score go down, so a distinct score can lose its last player and must leave the set.
    await client.createBoard({ id: 'dense-random', ranking: 'dense', operator: 'set' });
    const random = seededRandom(23);
    const scores = new Map<string, number>();
    for (let round = 0; round < 20; round += 1) {
      const batch = Array.from({ length: 20 }, () => ({
        player: `p${Math.floor(random() * 60)}`,
        score: Math.floor(random() * 25),
      }));
      const last = new Map(batch.map(({ player, score }) => [player, score]));
      await submitBatch(
        'dense-random',
        [...last].map(([player, score]) => ({ player, score })),
      );
      for (const [player, score] of last) scores.set(player, score);
    }
    const { admin } = await tokens();
    for (const player of [...scores.keys()].slice(0, 5)) {
      const removed = await app.inject({ method: 'DELETE', url: `/v1/players/${player}`, headers: admin });
      expect(removed.statusCode).toBe(200);
      scores.delete(player);
    }
    const expected = denseRanks(scores);
    const top = await client.top('dense-random', 100);
    expect(top).toHaveLength(scores.size);
    for (const entry of top) expect(entry.rank, entry.player).toBe(expected.get(entry.player));
    for (const player of [...scores.keys()].slice(0, 10)) {
      const standing = (await app.inject({ url: `/v1/boards/dense-random/players/${player}` })).json();
      expect(standing.rank).toBe(expected.get(player));
    }
  });
});

describe('rebuild as an atomic swap', () => {
  it('shows every reader a whole board while the index is rebuilt from the log', async () => {
    // 1,000 players in chunks of 100: the rebuild awaits Postgres between chunks, so the reads
    // below run while it fills its keys; each one must see all 1,000 players and the same top 10.
    await client.createBoard({ id: 'swap', ranking: 'dense' });
    for (let start = 0; start < 1_000; start += 100) {
      await submitBatch(
        'swap',
        Array.from({ length: 100 }, (_, index) => ({
          player: `s${start + index}`,
          score: ((start + index) * 7_919) % 500,
          displayName: `Player ${start + index}`,
        })),
      );
    }
    const before = (await app.inject({ url: '/v1/boards/swap/top?limit=10' })).json();
    const standingBefore = (await app.inject({ url: '/v1/boards/swap/players/s77' })).json();
    const { admin } = await tokens();
    let rebuilding = true;
    const rebuild = app
      .inject({ method: 'POST', url: '/v1/boards/swap/rebuild', headers: admin })
      .then((response) => {
        rebuilding = false;
        return response;
      });
    let reads = 0;
    while (rebuilding) {
      const [top, standing] = await Promise.all([
        app.inject({ url: '/v1/boards/swap/top?limit=10' }),
        app.inject({ url: '/v1/boards/swap/players/s77' }),
      ]);
      expect(top.json()).toEqual(before);
      expect(standing.json()).toEqual(standingBefore);
      reads += 1;
      // Twin reads finish without I/O: let the rebuild's Postgres replies in between two reads.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await rebuild).json().players).toBe(1_000);
    expect(reads).toBeGreaterThan(0);
    expect((await app.inject({ url: '/v1/boards/swap/top?limit=10' })).json()).toEqual(before);
    expect((await app.inject({ url: '/v1/boards/swap/players/s77' })).json()).toEqual(standingBefore);
  });
});

describe('reads without SQL', () => {
  it('answers ranks, pages, around-me and friends with display names while Postgres is closed', async () => {
    const { writer } = await tokens();
    await client.createBoard({ id: 'no-sql', ranking: 'competition' });
    for (const [player, score, displayName] of [
      ['ann', 30, 'Ann'],
      ['bob', 20, 'Bob'],
      ['cy', 20, 'Cy'],
    ] as const) {
      clock += 1_000;
      await app.inject({
        method: 'POST',
        url: '/v1/boards/no-sql/scores',
        payload: { player, score, displayName, subScore: score * 2 },
        headers: writer,
      });
    }
    // Warm: the board's rules are cached on the first read; later reads need only the index.
    const warm = await app.inject({ url: '/v1/boards/no-sql/top' });
    const ownEmbedded = await EmbeddedPostgres.open('memory');
    const separate = await buildFromEnv({}, { embedded: ownEmbedded, schema: freshSchemaName('lb_nosql') });
    try {
      const separateClient = await clientOf(separate);
      await separateClient.createBoard({ id: 'closed' });
      await separateClient.submit('closed', 'zed', 5);
      await separate.inject({
        method: 'POST',
        url: '/v1/boards/closed/scores',
        payload: { player: 'zed', score: 5, displayName: 'Zed' },
        headers: writer,
      });
      expect((await separate.inject({ url: '/v1/boards/closed/top' })).statusCode).toBe(200);
      await ownEmbedded.close();
      const top = (await separate.inject({ url: '/v1/boards/closed/top' })).json();
      expect(top.entries).toEqual([{ player: 'zed', score: 5, rank: 1, displayName: 'Zed', subScore: null }]);
      const standing = await separate.inject({ url: '/v1/boards/closed/players/zed' });
      expect(standing.statusCode).toBe(200);
      expect(standing.json()).toMatchObject({ rank: 1, displayName: 'Zed', percentile: 50 });
      const around = await separate.inject({ url: '/v1/boards/closed/players/zed/around?k=2' });
      expect(around.json().entries).toHaveLength(1);
      const friends = await separate.inject({
        method: 'POST',
        url: '/v1/boards/closed/ranks',
        payload: { players: ['zed', 'nobody'] },
      });
      expect(friends.json().entries).toMatchObject([{ player: 'zed', listRank: 1, displayName: 'Zed' }]);
    } finally {
      await separate.close().catch(() => undefined);
    }
    expect(warm.json().entries).toEqual([
      { player: 'ann', score: 30, rank: 1, displayName: 'Ann', subScore: 60 },
      { player: 'bob', score: 20, rank: 2, displayName: 'Bob', subScore: 40 },
      { player: 'cy', score: 20, rank: 2, displayName: 'Cy', subScore: 40 },
    ]);
  });
});
