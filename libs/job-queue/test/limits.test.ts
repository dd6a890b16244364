import { MemoryLimiter } from '@sysdesign/redis-limiters';
import { waitFor } from '@sysdesign/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isJobQueueError, type JobQueue, JobQueueErrorCode, reap, Worker } from '../src/index.js';
import { databases, ManualClock, type TestDatabase } from './helpers.js';

const LEASE = { worker: 'puller', leaseMs: 60_000 };

describe.each(databases())('per-queue limits on $name', ({ create }) => {
  let database: TestDatabase;
  const workers: Worker<unknown>[] = [];
  beforeAll(async () => {
    database = await create();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close({ graceMs: 100 })));
  });
  afterAll(() => database?.close());

  function started<Payload>(worker: Worker<Payload>): Promise<Worker<Payload>> {
    workers.push(worker as Worker<unknown>);
    return worker.start();
  }

  async function fill(queue: JobQueue, name: string, count: number): Promise<void> {
    await queue.enqueueMany(Array.from({ length: count }, (_, n) => ({ queue: name, payload: { n } })));
  }

  /** Leases from `callers` clients at once, each asking for `each`; resolves with every job leased. */
  async function leaseAtOnce(queue: JobQueue, name: string, callers: number, each: number) {
    const batches = await Promise.all(
      Array.from({ length: callers }, (_, index) =>
        queue.lease(name, { ...LEASE, worker: `c${index}`, limit: each }),
      ),
    );
    return batches.flat();
  }

  it('leases exactly the concurrency limit to 20 claimers racing for it, and a freed slot once', async () => {
    // Proves the claim is race-free: 20 concurrent claims of 5 each against a limit of 7 lease 7
    // jobs in all (an unlocked count would let several claimers see 0 leased and take 5 each);
    // completing 2 leaves room for exactly 2 more.
    const queue = await database.open();
    await fill(queue, 'capped', 100);
    await queue.setLimits('capped', { concurrencyMax: 7 });
    const leased = await leaseAtOnce(queue, 'capped', 20, 5);
    expect(leased).toHaveLength(7);
    expect(new Set(leased.map((job) => job.id)).size).toBe(7);
    expect(await leaseAtOnce(queue, 'capped', 5, 5)).toHaveLength(0);
    for (const job of leased.slice(0, 2)) await queue.complete(job.id, job.fence);
    expect(await leaseAtOnce(queue, 'capped', 10, 5)).toHaveLength(2);
    expect(await queue.stats('capped')).toMatchObject({
      limits: { concurrencyMax: 7, rate: null },
      running: 7,
      startsInWindow: 0,
      externalRateLimiter: false,
    });
  });

  it('leases past the old limit once it is removed, and a limit left out of an update is kept', async () => {
    // Proves null removes a limit and undefined keeps it, through the producer API.
    const queue = await database.open();
    await fill(queue, 'changing', 20);
    await queue.setLimits('changing', { concurrencyMax: 2, rate: { max: 100, intervalMs: 1_000 } });
    expect(await queue.setLimits('changing', { rate: null })).toEqual({ concurrencyMax: 2, rate: null });
    expect(await queue.lease('changing', { ...LEASE, limit: 10 })).toHaveLength(2);
    await queue.setLimits('changing', { concurrencyMax: null });
    expect(await queue.lease('changing', { ...LEASE, limit: 10 })).toHaveLength(10);
  });

  it('refuses limits out of range with INVALID_OPTION', async () => {
    const queue = await database.open();
    const bad = [
      { concurrencyMax: 0 },
      { concurrencyMax: 1.5 },
      { concurrencyMax: 100_001 },
      { rate: { max: 0, intervalMs: 1_000 } },
      { rate: { max: 10, intervalMs: 0 } },
      { rate: { max: 10, intervalMs: 86_400_001 } },
      { rate: { max: Number.NaN, intervalMs: 1_000 } },
    ];
    for (const limits of bad) {
      const error = await queue.setLimits('q', limits).catch((caught: unknown) => caught);
      expect(isJobQueueError(error, JobQueueErrorCode.INVALID_OPTION), JSON.stringify(limits)).toBe(true);
    }
    const error = await queue
      .setLimits('bad name!', { concurrencyMax: 1 })
      .catch((caught: unknown) => caught);
    expect(isJobQueueError(error, JobQueueErrorCode.INVALID_OPTION)).toBe(true);
  });

  it('starts at most the rate in any sliding window, to racing claimers too', async () => {
    // Proves the window slides (no burst at a fixed window's edge): 3 starts at t, 2 at t+500 ms;
    // at t+999 nothing more; at t+1000 the first 3 have left the window and exactly 3 more start.
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const queue = await database.open({ now: clock.now });
    await fill(queue, 'paced', 50);
    await queue.setLimits('paced', { rate: { max: 5, intervalMs: 1_000 } });
    expect(await queue.lease('paced', { ...LEASE, limit: 3 })).toHaveLength(3);
    clock.advance(500);
    expect(await leaseAtOnce(queue, 'paced', 10, 4)).toHaveLength(2);
    clock.advance(499);
    expect(await leaseAtOnce(queue, 'paced', 5, 4)).toHaveLength(0);
    expect((await queue.stats('paced')).startsInWindow).toBe(5);
    clock.advance(1);
    expect(await leaseAtOnce(queue, 'paced', 10, 4)).toHaveLength(3);
    clock.advance(5_000);
    expect(await queue.lease('paced', { ...LEASE, limit: 20 })).toHaveLength(5);
  });

  it('keeps at most the limit of handlers running across eight workers, and drains without the slow poll', async () => {
    // Proves the limit holds for real workers with prefetch (8 workers x concurrency 10 against a
    // limit of 3), and that a finished job wakes the others at once: with a 60 s poll, 60 jobs
    // could not finish in the time allowed if workers waited for it.
    const queue = await database.open();
    await queue.setLimits('workers', { concurrencyMax: 3 });
    let active = 0;
    let activeMax = 0;
    let done = 0;
    for (let index = 0; index < 8; index += 1) {
      await started(
        new Worker(
          queue,
          'workers',
          async () => {
            active += 1;
            activeMax = Math.max(activeMax, active);
            await new Promise((resolve) => setTimeout(resolve, 5));
            active -= 1;
            done += 1;
          },
          { concurrency: 10, pollMs: 60_000, workerId: `w${index}` },
        ),
      );
    }
    await fill(queue, 'workers', 60);
    // The handlers' count first, then the recorded outcomes (written a moment after each returns).
    await waitFor(() => done === 60, '60 handlers done', { timeoutMs: 50_000, intervalMs: 20 });
    await waitFor(async () => (await queue.counts('workers')).succeeded === 60, '60 jobs recorded', {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    expect(activeMax).toBeLessThanOrEqual(3);
    expect(activeMax).toBeGreaterThan(0);
  });

  it('spaces a worker’s starts by the rate and wakes when the window frees, not at the poll', async () => {
    // Proves the worker waits for the window (claims recorded in the history never exceed 2 in any
    // 300 ms) and wakes itself when it frees (9 jobs need 4 windows, well under the 60 s poll).
    const queue = await database.open();
    await queue.setLimits('paced-worker', { rate: { max: 2, intervalMs: 300 } });
    const ids: string[] = [];
    await started(new Worker(queue, 'paced-worker', () => null, { concurrency: 5, pollMs: 60_000 }));
    for (const result of await queue.enqueueMany(
      Array.from({ length: 9 }, (_, n) => ({ queue: 'paced-worker', payload: { n } })),
    ))
      ids.push(result.id);
    await waitFor(async () => (await queue.counts('paced-worker')).succeeded === 9, '9 paced jobs done', {
      timeoutMs: 50_000,
      intervalMs: 50,
    });
    const starts: number[] = [];
    for (const id of ids) {
      for (const event of await queue.history(id))
        if (event.to === 'running') starts.push(event.at.getTime());
    }
    starts.sort((a, b) => a - b);
    expect(starts).toHaveLength(9);
    for (let index = 2; index < starts.length; index += 1) {
      expect((starts[index] as number) - (starts[index - 2] as number)).toBeGreaterThanOrEqual(300);
    }
  });

  it('takes starts from a redis-limiters limiter given for the queue, beside the concurrency limit', async () => {
    // Proves the StartLimiter port: a MemoryLimiter (sliding log, 4 per second) decides the starts,
    // racing claimers included, and the concurrency limit of the row still caps them.
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const limiter = new MemoryLimiter(
      { algorithm: 'sliding_window_log', limit: 4, windowMs: 1_000 },
      { name: 'jobq', clock: clock.now },
    );
    const queue = await database.open({ now: clock.now, startLimiters: { external: limiter } });
    await fill(queue, 'external', 30);
    expect(await leaseAtOnce(queue, 'external', 8, 3)).toHaveLength(4);
    expect(await queue.lease('external', { ...LEASE, limit: 3 })).toHaveLength(0);
    expect(await queue.stats('external')).toMatchObject({ externalRateLimiter: true, running: 4 });
    clock.advance(1_000);
    await queue.setLimits('external', { concurrencyMax: 6 });
    expect(await leaseAtOnce(queue, 'external', 8, 3)).toHaveLength(2);
  });

  it('gives a lapsed pull lease back through the exported reap, freeing its concurrency slot', async () => {
    // Proves `reap` works without a Worker: the lapsed job goes back with its attempt spent, the
    // stale fence is refused, and the slot it held can be leased again.
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const queue = await database.open({ now: clock.now });
    await queue.enqueue('pulled', { n: 1 }, { backoff: { kind: 'fixed', delayMs: 0 } });
    await queue.enqueue('pulled', { n: 2 });
    await queue.setLimits('pulled', { concurrencyMax: 1 });
    const [held] = await queue.lease('pulled', { worker: 'gone', leaseMs: 1_000, limit: 5 });
    expect(held).toBeDefined();
    expect(await reap(queue)).toBe(0);
    clock.advance(1_001);
    expect(await reap(queue, { batch: 10 })).toBe(1);
    const error = await queue
      .complete(held?.id as string, held?.fence as string)
      .catch((caught: unknown) => caught);
    expect(isJobQueueError(error, JobQueueErrorCode.FENCED)).toBe(true);
    expect(await queue.get(held?.id as string)).toMatchObject({ state: 'failed', attempts: 1 });
    expect(await queue.lease('pulled', { ...LEASE, limit: 5 })).toHaveLength(1);
    const bad = await reap(queue, { batch: 0 }).catch((caught: unknown) => caught);
    expect(isJobQueueError(bad, JobQueueErrorCode.INVALID_OPTION)).toBe(true);
  });

  it('claims nothing from a paused limited queue, and round-robin claims respect the limit', async () => {
    // Proves the locked path keeps the pause, and the fair claim's shares are cut to the room.
    const queue = await database.open();
    await queue.enqueueMany(
      Array.from({ length: 40 }, (_, n) => ({
        queue: 'fair-capped',
        payload: { n },
        options: { tenant: `t${n % 4}` },
      })),
    );
    await queue.setLimits('fair-capped', { concurrencyMax: 4 });
    await queue.pause('fair-capped');
    expect(await queue.lease('fair-capped', { ...LEASE, limit: 10 })).toHaveLength(0);
    await queue.resume('fair-capped');
    const tenants = new Set<string>();
    let active = 0;
    let activeMax = 0;
    await started(
      new Worker(
        queue,
        'fair-capped',
        async (job) => {
          tenants.add(job.tenant);
          active += 1;
          activeMax = Math.max(activeMax, active);
          await new Promise((resolve) => setTimeout(resolve, 2));
          active -= 1;
        },
        { concurrency: 8, fairTenants: true, pollMs: 60_000 },
      ),
    );
    await waitFor(async () => (await queue.counts('fair-capped')).succeeded === 40, '40 fair jobs', {
      timeoutMs: 50_000,
      intervalMs: 50,
    });
    expect(activeMax).toBeLessThanOrEqual(4);
    expect(tenants.size).toBe(4);
  });
});
