import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { freshSchemaName } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, type Client, clientOf, tokens } from './helpers.js';

/**
 * The HTTP API on the embedded backends (PGlite and the skip-list twin): ranking modes with ties,
 * each operator, around-me at the edges, friends, percentiles, pages. A fake clock orders the
 * tie-breaks: each submission happens one second after the previous one.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let client: Client;
let clock = Date.UTC(2026, 0, 5, 12);

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv({}, { embedded, schema: freshSchemaName('lb_api'), nowMs: () => clock });
  client = await clientOf(app);
});

afterAll(async () => {
  await app?.close();
  await embedded?.close();
});

async function submitAll(board: string, scores: [string, number][]): Promise<void> {
  for (const [player, score] of scores) {
    clock += 1_000;
    await client.submit(board, player, score);
  }
}

const ranksOf = async (board: string) =>
  (await client.top(board)).map(({ player, score, rank }) => `${player}:${score}:${rank}`);

describe('ranking modes', () => {
  // Ties at the top (a, b), in the middle (d, e, f) and at the bottom (h, i); earlier submitters first.
  const scores: [string, number][] = [
    ['a', 100],
    ['b', 100],
    ['c', 90],
    ['d', 80],
    ['e', 80],
    ['f', 80],
    ['g', 70],
    ['h', 10],
    ['i', 10],
  ];

  it('numbers ties 1234 (ordinal, the first to reach the score first), 1224 (competition) and 1223 (dense)', async () => {
    for (const ranking of ['ordinal', 'competition', 'dense']) {
      await client.createBoard({ id: `modes-${ranking}`, ranking });
      await submitAll(`modes-${ranking}`, scores);
    }
    expect(await ranksOf('modes-ordinal')).toEqual([
      'a:100:1',
      'b:100:2',
      'c:90:3',
      'd:80:4',
      'e:80:5',
      'f:80:6',
      'g:70:7',
      'h:10:8',
      'i:10:9',
    ]);
    expect(await ranksOf('modes-competition')).toEqual([
      'a:100:1',
      'b:100:1',
      'c:90:3',
      'd:80:4',
      'e:80:4',
      'f:80:4',
      'g:70:7',
      'h:10:8',
      'i:10:8',
    ]);
    expect(await ranksOf('modes-dense')).toEqual([
      'a:100:1',
      'b:100:1',
      'c:90:2',
      'd:80:3',
      'e:80:3',
      'f:80:3',
      'g:70:4',
      'h:10:5',
      'i:10:5',
    ]);
  });

  it('ranks a page that starts in the middle of a tie as the whole board does', async () => {
    for (const ranking of ['competition', 'dense']) {
      const first = await app.inject({ url: `/v1/boards/modes-${ranking}/top?limit=4` });
      const second = await app.inject({
        url: `/v1/boards/modes-${ranking}/top?limit=4&cursor=${first.json().nextCursor}`,
      });
      const whole = await client.top(`modes-${ranking}`);
      expect(second.json().entries).toEqual(whole.slice(4, 8));
    }
  });

  it('answers a player’s rank, score and percentile in each mode', async () => {
    const competition = await app.inject({ url: '/v1/boards/modes-competition/players/e' });
    expect(competition.json()).toMatchObject({ player: 'e', score: 80, rank: 4, players: 9 });
    // 3 below (g, h, i) and 3 tied: (3 + 1.5) / 9.
    expect(competition.json().percentile).toBe(50);
    const dense = await app.inject({ url: '/v1/boards/modes-dense/players/i' });
    expect(dense.json()).toMatchObject({ rank: 5, percentile: 11.11 });
  });

  it('orders a low-wins board from the lowest score', async () => {
    await client.createBoard({ id: 'race', sortOrder: 'asc', ranking: 'competition' });
    await submitAll('race', [
      ['slow', 300],
      ['fast', 120],
      ['tied', 120],
    ]);
    expect(await ranksOf('race')).toEqual(['fast:120:1', 'tied:120:1', 'slow:300:3']);
  });
});

describe('operators', () => {
  it('best keeps the better score and the time it was first reached', async () => {
    await client.createBoard({ id: 'op-best', operator: 'best' });
    await submitAll('op-best', [
      ['p', 50],
      ['q', 50],
      ['p', 40],
      ['p', 50],
    ]);
    expect(await ranksOf('op-best')).toEqual(['p:50:1', 'q:50:2']);
    await submitAll('op-best', [['q', 60]]);
    expect(await ranksOf('op-best')).toEqual(['q:60:1', 'p:50:2']);
  });

  it('best on a low-wins board keeps the lower score', async () => {
    await client.createBoard({ id: 'op-best-asc', operator: 'best', sortOrder: 'asc' });
    await submitAll('op-best-asc', [
      ['p', 50],
      ['p', 70],
      ['p', 30],
    ]);
    expect(await ranksOf('op-best-asc')).toEqual(['p:30:1']);
  });

  it('set replaces, incr adds, decr subtracts', async () => {
    await client.createBoard({ id: 'op-set', operator: 'set' });
    await client.createBoard({ id: 'op-incr', operator: 'incr' });
    await client.createBoard({ id: 'op-decr', operator: 'decr', scoreMin: -1_000 });
    await submitAll('op-set', [
      ['p', 50],
      ['p', 20],
    ]);
    await submitAll('op-incr', [
      ['p', 5],
      ['p', 7],
    ]);
    await submitAll('op-decr', [
      ['p', 5],
      ['p', 7],
    ]);
    expect(await ranksOf('op-set')).toEqual(['p:20:1']);
    expect(await ranksOf('op-incr')).toEqual(['p:12:1']);
    expect(await ranksOf('op-decr')).toEqual(['p:-12:1']);
  });
});

describe('around-me and friends', () => {
  beforeAll(async () => {
    await client.createBoard({ id: 'ladder' });
    await submitAll(
      'ladder',
      Array.from({ length: 20 }, (_, index): [string, number] => [`p${index}`, 1_000 - index * 10]),
    );
  });

  const around = async (player: string, k: number) => {
    const response = await app.inject({ url: `/v1/boards/ladder/players/${player}/around?k=${k}` });
    return response
      .json()
      .entries.map((entry: { player: string; rank: number }) => `${entry.player}:${entry.rank}`);
  };

  it('shows k above and below in the middle', async () => {
    expect(await around('p10', 2)).toEqual(['p8:9', 'p9:10', 'p10:11', 'p11:12', 'p12:13']);
  });

  it('shows fewer above at the top edge and fewer below at the bottom edge', async () => {
    expect(await around('p0', 2)).toEqual(['p0:1', 'p1:2', 'p2:3']);
    expect(await around('p1', 3)).toEqual(['p0:1', 'p1:2', 'p2:3', 'p3:4', 'p4:5']);
    expect(await around('p19', 2)).toEqual(['p17:18', 'p18:19', 'p19:20']);
  });

  it('ranks a list of friends among themselves, skipping players without a score', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/boards/ladder/ranks',
      payload: { players: ['p15', 'p3', 'nobody', 'p7', 'p3'] },
    });
    expect(response.statusCode).toBe(200);
    expect(
      response
        .json()
        .entries.map(
          (entry: { player: string; rank: number; listRank: number }) =>
            `${entry.player}:${entry.rank}:${entry.listRank}`,
        ),
    ).toEqual(['p3:4:1', 'p7:8:2', 'p15:16:3']);
  });
});

describe('idempotency', () => {
  it('counts the same Idempotency-Key once and refuses it with another body', async () => {
    await client.createBoard({ id: 'idem', operator: 'incr' });
    const first = await client.submit('idem', 'p', 5, { 'idempotency-key': 'k-1' });
    const again = await client.submit('idem', 'p', 5, { 'idempotency-key': 'k-1' });
    expect(first.score).toBe(5);
    expect(again).toMatchObject({ score: 5, replayed: true });
    expect(await ranksOf('idem')).toEqual(['p:5:1']);
    const { writer } = await tokens();
    const conflict = await app.inject({
      method: 'POST',
      url: '/v1/boards/idem/scores',
      payload: { player: 'p', score: 6 },
      headers: { ...writer, 'idempotency-key': 'k-1' },
    });
    expect(conflict.statusCode).toBe(422);
    expect(conflict.json().type).toMatch(/leaderboard-err-idempotency-conflict/);
  });

  it('applies a batch at once and replays it under its key', async () => {
    await client.createBoard({ id: 'batch', operator: 'incr' });
    const { writer } = await tokens();
    const send = () =>
      app.inject({
        method: 'POST',
        url: '/v1/boards/batch/scores/batch',
        payload: {
          scores: [
            { player: 'a', score: 1 },
            { player: 'b', score: 2 },
            { player: 'a', score: 3, displayName: 'Ann' },
          ],
        },
        headers: { ...writer, 'idempotency-key': 'batch-1' },
      });
    expect((await send()).json()).toMatchObject({
      replayed: false,
      results: [{ score: 1 }, { score: 2 }, { score: 4 }],
    });
    expect((await send()).json()).toMatchObject({ replayed: true });
    const top = await app.inject({ url: '/v1/boards/batch/top' });
    expect(top.json().entries).toMatchObject([
      { player: 'a', score: 4, displayName: 'Ann' },
      { player: 'b', score: 2 },
    ]);
  });
});

describe('privacy', () => {
  it('removes a player from every board', async () => {
    await client.createBoard({ id: 'forget-1' });
    await client.createBoard({ id: 'forget-2' });
    await submitAll('forget-1', [
      ['leaver', 10],
      ['stayer', 5],
    ]);
    await submitAll('forget-2', [['leaver', 10]]);
    const { admin } = await tokens();
    const removed = await app.inject({ method: 'DELETE', url: '/v1/players/leaver', headers: admin });
    expect(removed.json()).toEqual({ removedEntries: 2 });
    expect(await ranksOf('forget-1')).toEqual(['stayer:5:1']);
    expect(await ranksOf('forget-2')).toEqual([]);
  });
});
