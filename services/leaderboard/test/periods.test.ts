import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { freshSchemaName } from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildFromEnv, type Client, clientOf } from './helpers.js';

/**
 * Periods rolling over with a fake clock, across the spring DST change in Paris: at local
 * midnight the finished day is archived (its final standings stay readable) and the next day
 * starts empty; the day of the change lasts 23 hours.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let client: Client;
let clock = Date.UTC(2026, 2, 28, 10); // Saturday 11:00 in Paris (CET)

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv({}, { embedded, schema: freshSchemaName('lb_periods'), nowMs: () => clock });
  client = await clientOf(app);
});

afterAll(async () => {
  await app?.close();
  await embedded?.close();
});

it('archives each finished Paris day at local midnight and starts the next one empty, across DST', async () => {
  await client.createBoard({ id: 'daily', reset: 'daily', timeZone: 'Europe/Paris', ranking: 'competition' });
  await client.submit('daily', 'a', 30);
  clock += 1_000;
  await client.submit('daily', 'b', 30);
  clock += 1_000;
  await client.submit('daily', 'c', 10);
  // Saturday 23:59:59 CET: still Saturday's period.
  clock = Date.UTC(2026, 2, 28, 22, 59, 59);
  await client.submit('daily', 'c', 40);
  expect((await client.top('daily')).map(({ player, rank }) => `${player}:${rank}`)).toEqual([
    'c:1',
    'a:2',
    'b:2',
  ]);

  // Sunday 00:00:01 CET: a new day, empty; Saturday is archived with its final standings.
  clock = Date.UTC(2026, 2, 28, 23, 0, 1);
  expect(await client.top('daily')).toEqual([]);
  await client.submit('daily', 'a', 5);
  const periods = (await app.inject({ url: '/v1/boards/daily/periods' })).json().periods;
  expect(periods).toEqual([
    expect.objectContaining({ start: Date.UTC(2026, 2, 27, 23), end: Date.UTC(2026, 2, 28, 23), players: 3 }),
  ]);
  const standings = await app.inject({
    url: `/v1/boards/daily/periods/${Date.UTC(2026, 2, 27, 23)}/standings`,
  });
  expect(
    standings
      .json()
      .entries.map(
        ({ player, score, rank }: { player: string; score: number; rank: number }) =>
          `${player}:${score}:${rank}`,
      ),
  ).toEqual(['c:40:1', 'a:30:2', 'b:30:2']);

  // Sunday is the 23-hour day: Monday starts at 22:00 UTC (CEST), not 23:00.
  clock = Date.UTC(2026, 2, 29, 21, 59, 59);
  expect((await client.top('daily')).map(({ player }) => player)).toEqual(['a']);
  clock = Date.UTC(2026, 2, 29, 22, 0, 1);
  expect(await client.top('daily')).toEqual([]);
  const board = (await app.inject({ url: '/v1/boards/daily' })).json();
  expect(board.periodStart).toBe('2026-03-29T22:00:00.000Z');
  const archived = (await app.inject({ url: '/v1/boards/daily/periods' })).json().periods;
  expect(archived[0]).toMatchObject({
    start: Date.UTC(2026, 2, 28, 23),
    end: Date.UTC(2026, 2, 29, 22),
    players: 1,
  });
});

it('archives only the last active period when the board sat idle through several', async () => {
  clock = Date.UTC(2026, 3, 1, 12);
  await client.createBoard({ id: 'weekly', reset: 'weekly', timeZone: 'UTC' });
  await client.submit('weekly', 'p', 1);
  clock = Date.UTC(2026, 3, 30, 12);
  expect(await client.top('weekly')).toEqual([]);
  const periods = (await app.inject({ url: '/v1/boards/weekly/periods' })).json().periods;
  expect(periods).toEqual([
    expect.objectContaining({ start: Date.UTC(2026, 2, 30), end: Date.UTC(2026, 3, 6), players: 1 }),
  ]);
});

it('rolls a cron board over at each firing (Fridays 18:00 Paris) and archives the finished period', async () => {
  clock = Date.UTC(2026, 2, 25, 12); // Wednesday
  await client.createBoard({ id: 'friday', reset: 'cron', cron: '0 18 * * 5', timeZone: 'Europe/Paris' });
  await client.submit('friday', 'early', 3);
  clock = Date.UTC(2026, 2, 27, 16, 59); // Friday 17:59 CET
  await client.submit('friday', 'late', 4);
  clock = Date.UTC(2026, 2, 27, 17, 0, 1); // 18:00:01 CET: the next period
  expect(await client.top('friday')).toEqual([]);
  const [archived] = (await app.inject({ url: '/v1/boards/friday/periods' })).json().periods;
  expect(archived).toMatchObject({
    start: Date.UTC(2026, 2, 25, 12),
    end: Date.UTC(2026, 2, 27, 17),
    players: 2,
  });
  // After the DST change, Friday 18:00 is 16:00 UTC.
  clock = Date.UTC(2026, 3, 3, 16, 0, 1);
  await client.submit('friday', 'next', 1);
  expect((await app.inject({ url: '/v1/boards/friday' })).json().periodStart).toBe(
    '2026-04-03T16:00:00.000Z',
  );
});
