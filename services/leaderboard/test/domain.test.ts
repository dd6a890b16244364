import { seededRandom } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { applyOperator, BoardBoundsError, NEVER_HORIZON_MS, resolveBounds } from '../src/domain/board.js';
import { BadCronError, parseCron } from '../src/domain/cron.js';
import { ScoreOutOfRangeError, TieBreakEncoding, TieBreakHorizonError } from '../src/domain/encoding.js';
import { KeyedQueue } from '../src/domain/keyed-queue.js';
import {
  BadTimeZoneError,
  nextFire,
  nextPeriodStart,
  periodStartOf,
  previousFire,
} from '../src/domain/schedule.js';

const HOUR_MS = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('tie-break encoding', () => {
  it('orders by score, then by the earlier tick, on random pairs, on both sort orders', () => {
    // Proves the single index score carries both keys: comparing encodings equals comparing (score, tick).
    const random = seededRandom(3);
    for (const sortOrder of ['desc', 'asc'] as const) {
      const encoding = new TieBreakEncoding({
        sortOrder,
        scoreMin: -500,
        scoreMax: 500,
        timeResolutionMs: 1_000,
      });
      for (let trial = 0; trial < 2_000; trial += 1) {
        const a = { score: Math.floor(random() * 1_001) - 500, at: Math.floor(random() * 1e9) };
        const b = { score: Math.floor(random() * 1_001) - 500, at: Math.floor(random() * 1e9) };
        const better = (x: typeof a, y: typeof a) =>
          x.score !== y.score
            ? sortOrder === 'desc'
              ? x.score > y.score
              : x.score < y.score
            : Math.floor(x.at / 1_000) < Math.floor(y.at / 1_000);
        const ea = encoding.encode(a.score, a.at, 0);
        const eb = encoding.encode(b.score, b.at, 0);
        if (better(a, b)) expect(ea).toBeGreaterThan(eb);
        else if (better(b, a)) expect(eb).toBeGreaterThan(ea);
        else expect(ea).toBe(eb);
        expect(encoding.decodeScore(ea)).toBe(a.score);
      }
    }
  });

  it('stays below 2^53 at the range’s corners and refuses what it cannot encode', () => {
    const encoding = new TieBreakEncoding({
      sortOrder: 'desc',
      scoreMin: 0,
      scoreMax: 2 ** 31 - 1,
      timeResolutionMs: 1_000,
    });
    expect(encoding.timeBits).toBe(22);
    expect(encoding.encode(2 ** 31 - 1, 0, 0)).toBe(2 ** 53 - 1);
    expect(encoding.encode(0, encoding.horizonMs - 1, 0)).toBe(0);
    expect(() => encoding.encode(2 ** 31, 0, 0)).toThrow(ScoreOutOfRangeError);
    expect(() => encoding.encode(1.5, 0, 0)).toThrow(ScoreOutOfRangeError);
    expect(() => encoding.encode(Number.NaN, 0, 0)).toThrow(ScoreOutOfRangeError);
    expect(() => encoding.encode(1, encoding.horizonMs, 0)).toThrow(TieBreakHorizonError);
  });

  it('picks the finest resolution whose horizon covers the longest period, or says why none does', () => {
    const spec = {
      id: 'x',
      sortOrder: 'desc',
      operator: 'best',
      ranking: 'ordinal',
      timeZone: 'UTC',
      scoreMin: 0,
      partitioning: { kind: 'single' },
    } as const;
    expect(resolveBounds({ ...spec, reset: 'daily', scoreMax: 2 ** 31 - 1 }).timeResolutionMs).toBe(100);
    expect(resolveBounds({ ...spec, reset: 'monthly', scoreMax: 2 ** 31 - 1 }).timeResolutionMs).toBe(1_000);
    const never = resolveBounds({ ...spec, reset: 'never', scoreMax: 2 ** 31 - 1 });
    expect(new TieBreakEncoding(never).horizonMs).toBeGreaterThanOrEqual(NEVER_HORIZON_MS);
    expect(() =>
      resolveBounds({ ...spec, reset: 'monthly', scoreMax: 2 ** 44, timeResolutionMs: 1 }),
    ).toThrow(BoardBoundsError);
    expect(() => resolveBounds({ ...spec, reset: 'daily', scoreMax: 10, timeZone: 'Nowhere/City' })).toThrow(
      BadTimeZoneError,
    );
  });
});

describe('operators', () => {
  it('applies best (per sort order), set, incr and decr', () => {
    expect(applyOperator({ operator: 'best', sortOrder: 'desc' }, 5, 3)).toBe(5);
    expect(applyOperator({ operator: 'best', sortOrder: 'asc' }, 5, 3)).toBe(3);
    expect(applyOperator({ operator: 'best', sortOrder: 'desc' }, null, 3)).toBe(3);
    expect(applyOperator({ operator: 'set', sortOrder: 'desc' }, 5, 3)).toBe(3);
    expect(applyOperator({ operator: 'incr', sortOrder: 'desc' }, 5, 3)).toBe(8);
    expect(applyOperator({ operator: 'decr', sortOrder: 'desc' }, null, 3)).toBe(-3);
  });
});

describe('reset schedules across DST', () => {
  it('starts Paris days at local midnight: a 23-hour day in March and a 25-hour day in October', () => {
    const spring = periodStartOf('daily', 'Europe/Paris', Date.UTC(2026, 2, 29, 12), 0);
    expect(iso(spring)).toBe('2026-03-28T23:00:00.000Z');
    expect(nextPeriodStart('daily', 'Europe/Paris', spring)! - spring).toBe(23 * HOUR_MS);
    const autumn = periodStartOf('daily', 'Europe/Paris', Date.UTC(2026, 9, 25, 12), 0);
    expect(iso(autumn)).toBe('2026-10-24T22:00:00.000Z');
    expect(nextPeriodStart('daily', 'Europe/Paris', autumn)! - autumn).toBe(25 * HOUR_MS);
  });

  it('starts weeks on Monday and months on the 1st, in the board’s zone', () => {
    // Sunday 2026-03-29 20:00 in New York is in the week that began Monday 2026-03-23 (EDT).
    expect(iso(periodStartOf('weekly', 'America/New_York', Date.UTC(2026, 2, 30, 0), 0))).toBe(
      '2026-03-23T04:00:00.000Z',
    );
    // 2026-03-01 05:00 UTC is still February in Los Angeles.
    expect(iso(periodStartOf('monthly', 'America/Los_Angeles', Date.UTC(2026, 2, 1, 5), 0))).toBe(
      '2026-02-01T08:00:00.000Z',
    );
    expect(iso(nextPeriodStart('monthly', 'America/Los_Angeles', Date.UTC(2026, 1, 1, 8))!)).toBe(
      '2026-03-01T08:00:00.000Z',
    );
    expect(periodStartOf('never', 'UTC', 123_456, 42)).toBe(42);
  });

  it('finds the period of every hour around both 2026 Paris transitions', () => {
    // Each instant lies in [start, next) of its own period.
    for (const day of [Date.UTC(2026, 2, 27), Date.UTC(2026, 9, 23)]) {
      for (let at = day; at < day + 5 * 24 * HOUR_MS; at += HOUR_MS / 2) {
        const start = periodStartOf('daily', 'Europe/Paris', at, 0);
        expect(start).toBeLessThanOrEqual(at);
        expect(nextPeriodStart('daily', 'Europe/Paris', start)!).toBeGreaterThan(at);
      }
    }
  });
});

describe('cron schedules', () => {
  it('parses lists, ranges, steps and both Sundays, and refuses the rest', () => {
    const cron = parseCron('0,30 9-17/4 * 1-3 0,7');
    expect(cron.minutes).toEqual([0, 30]);
    expect(cron.hours).toEqual([9, 13, 17]);
    expect([...cron.months]).toEqual([1, 2, 3]);
    expect([...cron.weekdays]).toEqual([0]);
    for (const bad of ['* * * *', '60 * * * *', '1-0 * * * *', '*/0 * * * *', '1/2/3 * * * *', 'x * * * *']) {
      expect(() => parseCron(bad), bad).toThrow(BadCronError);
    }
  });

  it('fires at the local time on either side of a DST change, and finds the last firing before now', () => {
    // Fridays 18:00 in Paris: 17:00 UTC in winter (CET), 16:00 UTC in summer (CEST).
    const friday = parseCron('0 18 * * 5');
    expect(iso(nextFire(friday, 'Europe/Paris', Date.UTC(2026, 2, 21))!)).toBe('2026-03-27T17:00:00.000Z');
    expect(iso(nextFire(friday, 'Europe/Paris', Date.UTC(2026, 2, 28))!)).toBe('2026-04-03T16:00:00.000Z');
    expect(iso(previousFire(friday, 'Europe/Paris', Date.UTC(2026, 3, 3, 15, 59))!)).toBe(
      '2026-03-27T17:00:00.000Z',
    );
    expect(iso(previousFire(friday, 'Europe/Paris', Date.UTC(2026, 3, 3, 16))!)).toBe(
      '2026-04-03T16:00:00.000Z',
    );
    // Day of month or day of week (both restricted): the 1st, and every Monday.
    const either = parseCron('0 0 1 * 1');
    expect(iso(nextFire(either, 'UTC', Date.UTC(2026, 5, 30))!)).toBe('2026-07-01T00:00:00.000Z');
    expect(iso(nextFire(either, 'UTC', Date.UTC(2026, 6, 1, 1))!)).toBe('2026-07-06T00:00:00.000Z');
    expect(nextFire(parseCron('0 0 31 2 *'), 'UTC', 0)).toBeNull();
  });

  it('starts a cron board’s period at its last firing, or at its creation before the first one', () => {
    const cron = parseCron('0 18 * * 5');
    const created = Date.UTC(2026, 2, 23);
    expect(periodStartOf('cron', 'Europe/Paris', Date.UTC(2026, 2, 24), created, cron)).toBe(created);
    expect(iso(periodStartOf('cron', 'Europe/Paris', Date.UTC(2026, 3, 1), created, cron))).toBe(
      '2026-03-27T17:00:00.000Z',
    );
    expect(iso(nextPeriodStart('cron', 'Europe/Paris', Date.UTC(2026, 2, 27, 17), cron)!)).toBe(
      '2026-04-03T16:00:00.000Z',
    );
  });
});

describe('keyed queue', () => {
  it('runs one key’s tasks one at a time in order, and different keys side by side', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      log.push(`end ${name}`);
    };
    await Promise.all([
      queue.run(['a'], task('a1', 20)),
      queue.run(['a'], task('a2', 1)),
      queue.run(['b'], task('b1', 1)),
    ]);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('end b1')).toBeLessThan(log.indexOf('end a1'));
    expect(queue.size).toBe(0);
  });
});
