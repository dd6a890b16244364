import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CronScheduler, isJobQueueError, type JobQueue, JobQueueErrorCode, nextTick } from '../src/index.js';
import { databases, ManualClock, type TestDatabase } from './helpers.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('nextTick', () => {
  it('refuses bad expressions and zones with JOBQ_ERR_INVALID_CRON', () => {
    // Proves bad cron input is a typed error, never a crash inside the parser.
    for (const [cron, zone] of [
      ['61 * * * *', 'UTC'],
      ['* * *', 'UTC'],
      ['* * * * *', 'Mars/Olympus'],
      ['* * * * * * *', 'UTC'],
    ] as const) {
      let caught: unknown;
      try {
        nextTick(cron, zone, Date.now());
      } catch (error) {
        caught = error;
      }
      expect(isJobQueueError(caught, JobQueueErrorCode.INVALID_CRON)).toBe(true);
    }
  });

  it('takes 6 fields with seconds', () => {
    // Proves the seconds field is honoured.
    expect(nextTick('*/10 * * * * *', 'UTC', Date.parse('2026-01-01T00:00:00Z')).toISOString()).toBe(
      '2026-01-01T00:00:10.000Z',
    );
  });
});

describe.each(databases())('cron schedules on $name', ({ create }) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await create();
  });
  afterAll(() => database?.close());

  async function jobKeys(queue: JobQueue, name: string): Promise<string[]> {
    const keys: string[] = [];
    for (const state of ['ready', 'scheduled'] as const) {
      let after: string | undefined;
      do {
        const page = await queue.list(name, state, { limit: 500, ...(after ? { after } : {}) });
        keys.push(...page.jobs.map((job) => job.jobKey as string));
        after = page.next ?? undefined;
      } while (after);
    }
    return keys.sort();
  }

  it('enqueues each tick once across two replicas ticking together through the fall-back night', async () => {
    // Proves exactly one job per (schedule, tick) with two replicas and a fake clock moved in
    // 10-minute steps across America/New_York's fall back: the daily 01:30 runs once on Nov 1,
    // and the hourly schedule gets 25 ticks on that 25-hour day.
    const clock = new ManualClock(Date.parse('2026-10-31T04:00:00Z'));
    const queue = await database.open({ now: clock.now });
    const replicas = [new CronScheduler(queue), new CronScheduler(queue)];
    await replicas[0]?.upsert({
      name: 'daily',
      queue: 'cron-fall',
      cron: '30 1 * * *',
      timeZone: 'America/New_York',
    });
    await replicas[1]?.upsert({
      name: 'hourly',
      queue: 'cron-fall',
      cron: '0 * * * *',
      timeZone: 'America/New_York',
    });
    const endMs = Date.parse('2026-11-03T05:00:00Z');
    while (clock.ms < endMs) {
      clock.advance(10 * MINUTE);
      await Promise.all(replicas.map((replica) => replica.tick()));
    }
    const keys = await jobKeys(queue, 'cron-fall');
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((key) => key.startsWith('cron:daily:'))).toEqual([
      'cron:daily:2026-10-31T05:30:00.000Z',
      'cron:daily:2026-11-01T05:30:00.000Z',
      'cron:daily:2026-11-02T06:30:00.000Z',
    ]);
    const fallBackDay = keys.filter(
      (key) => key >= 'cron:hourly:2026-11-01T04:00' && key < 'cron:hourly:2026-11-02T05:00',
    );
    expect(fallBackDay).toHaveLength(25);
  });

  it('runs the spring-forward 02:30 once, at 03:30 EDT', async () => {
    // Proves a wall time that does not exist still runs that day, once, just after the gap.
    const clock = new ManualClock(Date.parse('2026-03-07T12:00:00Z'));
    const queue = await database.open({ now: clock.now });
    const scheduler = new CronScheduler(queue);
    await scheduler.upsert({
      name: 'spring',
      queue: 'cron-spring',
      cron: '30 2 * * *',
      timeZone: 'America/New_York',
    });
    while (clock.ms < Date.parse('2026-03-09T12:00:00Z')) {
      clock.advance(15 * MINUTE);
      await scheduler.tick();
    }
    expect(await jobKeys(queue, 'cron-spring')).toEqual([
      'cron:spring:2026-03-08T07:30:00.000Z',
      'cron:spring:2026-03-09T06:30:00.000Z',
    ]);
  });

  it('after five hours down, catch-up enqueues the five missed ticks and skip only the latest', async () => {
    // Proves the missed-tick policy after downtime.
    const clock = new ManualClock(Date.parse('2026-06-01T00:00:30Z'));
    const queue = await database.open({ now: clock.now });
    const scheduler = new CronScheduler(queue);
    await scheduler.upsert({
      name: 'catch',
      queue: 'cron-missed',
      cron: '0 * * * *',
      missedTicks: 'catch-up',
    });
    await scheduler.upsert({ name: 'skip', queue: 'cron-missed', cron: '0 * * * *', missedTicks: 'skip' });
    clock.advance(5 * HOUR);
    expect(await scheduler.tick()).toBe(6);
    const keys = await jobKeys(queue, 'cron-missed');
    expect(keys.filter((key) => key.startsWith('cron:catch:'))).toHaveLength(5);
    expect(keys.filter((key) => key.startsWith('cron:skip:'))).toEqual([
      'cron:skip:2026-06-01T05:00:00.000Z',
    ]);
    expect(await scheduler.tick()).toBe(0);
    const [schedule] = (await scheduler.list()).filter((entry) => entry.name === 'skip');
    expect(schedule?.nextTickAt.toISOString()).toBe('2026-06-01T06:00:00.000Z');
  });

  it('refuses a bad cron at upsert', async () => {
    // Proves a schedule that could never tick is refused when created.
    const queue = await database.open();
    const scheduler = new CronScheduler(queue);
    await expect(scheduler.upsert({ name: 'bad', queue: 'q', cron: 'every day' })).rejects.toMatchObject({
      code: JobQueueErrorCode.INVALID_CRON,
    });
    expect(await scheduler.list()).toEqual([]);
  });
});
