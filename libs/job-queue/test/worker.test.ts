import { waitFor } from '@sysdesign/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isJobQueueError, JobQueue, JobQueueErrorCode, PermanentJobError, Worker } from '../src/index.js';
import { databases, ManualClock, type TestDatabase } from './helpers.js';

describe.each(databases())('worker on $name', ({ create }) => {
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

  async function settled(queue: JobQueue, name: string, total: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        const counts = await queue.counts(name);
        return counts.succeeded + counts.dead + counts.cancelled === total;
      },
      `${total} jobs of ${name} to finish`,
      { timeoutMs, intervalMs: 50 },
    );
  }

  it('runs every job once with four workers of concurrency 4 sharing the queue', async () => {
    // Proves SKIP LOCKED claims never hand one job to two workers: each payload runs once, and
    // each job's history has exactly one claim.
    const queue = await database.open();
    const runs = new Map<number, number>();
    for (let index = 0; index < 4; index += 1) {
      await started(
        new Worker<{ n: number }>(
          queue,
          'many',
          (job) => {
            runs.set(job.payload.n, (runs.get(job.payload.n) ?? 0) + 1);
            return { doubled: job.payload.n * 2 };
          },
          { concurrency: 4, workerId: `w${index}` },
        ),
      );
    }
    const ids = await queue.enqueueMany(
      Array.from({ length: 300 }, (_, n) => ({ queue: 'many', payload: { n } })),
    );
    await settled(queue, 'many', 300);
    expect(runs.size).toBe(300);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    const job = await queue.get(ids[7]?.id as string);
    expect(job).toMatchObject({ state: 'succeeded', output: { doubled: 14 }, attempts: 1 });
    const history = await queue.history(job.id);
    expect(history.map((event) => [event.from, event.to])).toEqual([
      ['ready', 'running'],
      ['running', 'succeeded'],
    ]);
    expect(history[0]?.worker).toMatch(/^w[0-3]$/);
  });

  it('retries with backoff, then dead-letters; replays one and all from the dead state', async () => {
    // Proves the retry path (failed -> running) ends in `dead` after maxAttempts, and replay puts
    // dead jobs back from attempt 0.
    const queue = await database.open();
    let failing = true;
    await started(
      new Worker(
        queue,
        'flaky',
        () => {
          if (failing) throw new Error('downstream is down');
          return 'ok';
        },
        { concurrency: 2 },
      ),
    );
    const jobs = await queue.enqueueMany(
      Array.from({ length: 3 }, (_, n) => ({
        queue: 'flaky',
        payload: n,
        options: { maxAttempts: 3, backoff: { kind: 'fixed' as const, delayMs: 20 } },
      })),
    );
    await settled(queue, 'flaky', 3);
    const dead = await queue.list('flaky', 'dead');
    expect(dead.jobs.map((job) => job.id)).toEqual(jobs.map((job) => job.id));
    expect(dead.jobs[0]).toMatchObject({ attempts: 3, error: { message: 'downstream is down' } });
    const history = await queue.history(jobs[0]?.id as string);
    expect(history.map((event) => event.to)).toEqual([
      'running',
      'failed',
      'running',
      'failed',
      'running',
      'dead',
    ]);

    failing = false;
    await queue.replay(jobs[0]?.id as string);
    await waitFor(
      async () => (await queue.get(jobs[0]?.id as string)).state === 'succeeded',
      'the replayed job',
    );
    expect(await queue.replayAll('flaky')).toBe(2);
    await waitFor(async () => (await queue.counts('flaky')).succeeded === 3, 'all replayed jobs');
    const replayed = await queue.get(jobs[1]?.id as string);
    expect(replayed).toMatchObject({ state: 'succeeded', attempts: 1 });
    await expect(queue.replay(jobs[1]?.id as string)).rejects.toMatchObject({
      code: JobQueueErrorCode.WRONG_STATE,
    });
  });

  it('sends a PermanentJobError straight to dead', async () => {
    // Proves a handler can refuse retries for a failure no retry fixes.
    const queue = await database.open();
    await started(
      new Worker(queue, 'permanent', () => {
        throw new PermanentJobError('bad input');
      }),
    );
    const { id } = await queue.enqueue('permanent', 1, { maxAttempts: 5 });
    await settled(queue, 'permanent', 1);
    expect(await queue.get(id)).toMatchObject({ state: 'dead', attempts: 1 });
  });

  it('fences a worker whose lease lapsed: its completion is refused after another worker took the job', async () => {
    // Proves the lease + fence contract with a hand-moved clock: A leases, stalls past its lease,
    // the reaper puts the job back, B runs it, and A's late completion is refused.
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const queue = await database.open({ now: clock.now });
    const { id } = await queue.enqueue('lapse', 'x', { backoff: { kind: 'fixed', delayMs: 0 } });
    const [leased] = await queue.lease('lapse', { limit: 1, worker: 'A', leaseMs: 1_000 });
    expect(leased?.state).toBe('running');
    clock.advance(1_001);
    const outputs: string[] = [];
    await started(
      new Worker(
        queue,
        'lapse',
        (_job, context) => {
          outputs.push(context.fence);
          return 'by B';
        },
        { reapMs: 20, workerId: 'B', pollMs: 50 },
      ),
    );
    await waitFor(async () => (await queue.get(id)).state === 'succeeded', 'B to finish the job');
    const refused = await queue.complete(id, leased?.fence as string, 'by A').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isJobQueueError(refused, JobQueueErrorCode.FENCED)).toBe(true);
    await expect(queue.heartbeat(id, leased?.fence as string, 1_000)).rejects.toMatchObject({
      code: JobQueueErrorCode.FENCED,
    });
    const job = await queue.get(id);
    expect(job).toMatchObject({ state: 'succeeded', output: 'by B', attempts: 2 });
    expect(BigInt(outputs[0] as string)).toBeGreaterThan(BigInt(leased?.fence as string));
    const history = await queue.history(id);
    expect(history.map((event) => [event.to, event.worker])).toEqual([
      ['running', 'A'],
      ['failed', null],
      ['running', 'B'],
      ['succeeded', 'B'],
    ]);
    expect(history[1]?.error?.code).toBe('JOBQ_ERR_LEASE_LAPSED');
  });

  it('accepts one completion per fence: a duplicate is refused and changes nothing', async () => {
    // Proves duplicate completions (a retried HTTP call, a double ack) cannot rewrite the outcome.
    const queue = await database.open();
    const { id } = await queue.enqueue('dup', 1);
    const [leased] = await queue.lease('dup', { limit: 1, worker: 'x', leaseMs: 10_000 });
    await queue.complete(id, leased?.fence as string, 'first');
    await expect(queue.complete(id, leased?.fence as string, 'second')).rejects.toMatchObject({
      code: JobQueueErrorCode.FENCED,
    });
    await expect(queue.fail(id, leased?.fence as string, { message: 'late' })).rejects.toMatchObject({
      code: JobQueueErrorCode.FENCED,
    });
    expect(await queue.get(id)).toMatchObject({ state: 'succeeded', output: 'first', error: null });
    expect((await queue.history(id)).filter((event) => event.to === 'succeeded')).toHaveLength(1);
  });

  it('aborts the signal on timeout and records the timeout as the failure', async () => {
    // Proves a handler past its timeout sees its signal aborted with JOBQ_ERR_TIMEOUT.
    const queue = await database.open();
    let reason: unknown;
    await started(
      new Worker(queue, 'slow', (_job, context) => {
        return new Promise((_resolve, reject) => {
          context.signal.addEventListener('abort', () => {
            reason = context.signal.reason;
            reject(context.signal.reason);
          });
        });
      }),
    );
    const { id } = await queue.enqueue('slow', 1, { timeoutMs: 100, maxAttempts: 1 });
    await settled(queue, 'slow', 1);
    expect(isJobQueueError(reason, JobQueueErrorCode.TIMEOUT)).toBe(true);
    expect(await queue.get(id)).toMatchObject({ state: 'dead', error: { code: JobQueueErrorCode.TIMEOUT } });
  });

  it('aborts a running job that is cancelled, and keeps its cancelled state', async () => {
    // Proves cancel reaches the handler through its signal (NOTIFY or in-process), and the
    // handler's late return cannot complete the job.
    const queue = await database.open();
    let running = false;
    let aborted = false;
    await started(
      new Worker(queue, 'cancel', (_job, context) => {
        running = true;
        return new Promise((resolve) => {
          context.signal.addEventListener('abort', () => {
            aborted = true;
            resolve('finished anyway');
          });
        });
      }),
    );
    const { id } = await queue.enqueue('cancel', 1);
    await waitFor(() => running, 'the handler to start');
    await queue.cancel(id);
    await waitFor(() => aborted, 'the signal to abort');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await queue.get(id)).toMatchObject({ state: 'cancelled' });
  });

  it('wakes for a delayed job at its due time, not at the slow poll', async () => {
    // Proves the timer to the next due job: a 60 s poll, yet a job due in 300 ms runs within a second.
    const queue = await database.open();
    const ranAt: number[] = [];
    await started(new Worker(queue, 'later', () => void ranAt.push(Date.now()), { pollMs: 60_000 }));
    const submittedAt = Date.now();
    await queue.enqueue('later', 1, { delayMs: 300 });
    await waitFor(() => ranAt.length === 1, 'the delayed job', { timeoutMs: 3_000 });
    expect((ranAt[0] as number) - submittedAt).toBeGreaterThanOrEqual(290);
    expect((ranAt[0] as number) - submittedAt).toBeLessThan(1_500);
  });

  it('wakes without LISTEN on enqueues through the same client (a port with query and tx only)', async () => {
    // Proves the platform's Sql, which has no listen(), is enough: in-process wake-ups, not the
    // 60 s poll, start the job.
    const listening = await database.open();
    const queue = new JobQueue({
      sql: {
        query: (text, params) => listening.sql.query(text, params),
        tx: (work) => listening.sql.tx(work),
      },
      schema: listening.schema,
    });
    let runs = 0;
    const count = () => {
      runs += 1;
    };
    await started(new Worker(queue, 'unlistened', count, { pollMs: 60_000 }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await queue.enqueue('unlistened', 1);
    await waitFor(() => runs === 1, 'the job to run', { timeoutMs: 3_000 });
  });

  it('claims nothing from a paused queue until it is resumed', async () => {
    // Proves pause stops claims across workers and resume wakes them.
    const queue = await database.open();
    await queue.pause('paused');
    let runs = 0;
    const count = () => {
      runs += 1;
    };
    await started(new Worker(queue, 'paused', count, { pollMs: 60_000 }));
    await queue.enqueue('paused', 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(runs).toBe(0);
    expect(await queue.isPaused('paused')).toBe(true);
    await queue.resume('paused');
    await waitFor(() => runs === 1, 'the resumed queue to run its job');
  });

  it('on close, releases buffered jobs without spending their attempt and lets the running one finish', async () => {
    // Proves graceful shutdown: prefetched jobs go back to ready with attempts 0.
    const queue = await database.open();
    let release: () => void = () => undefined;
    let started1 = false;
    const worker = new Worker(
      queue,
      'drain',
      () => {
        started1 = true;
        return new Promise<string>((resolve) => {
          release = () => resolve('done');
        });
      },
      { concurrency: 1, prefetch: 3 },
    );
    await worker.start();
    const jobs = await queue.enqueueMany(
      Array.from({ length: 4 }, (_, n) => ({ queue: 'drain', payload: n })),
    );
    await waitFor(() => started1 && worker.heldCount === 4, 'one running and three buffered');
    const closing = worker.close({ graceMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await closing;
    const counts = await queue.counts('drain');
    expect(counts).toMatchObject({ succeeded: 1, ready: 3, running: 0 });
    const buffered = await queue.get(jobs[3]?.id as string);
    expect(buffered.attempts).toBe(0);
  });

  it('stores progress under the fence', async () => {
    // Proves progress(value) is written while the lease is held.
    const queue = await database.open();
    await started(
      new Worker(queue, 'progress', async (_job, context) => {
        await context.progress({ percent: 50 });
        return null;
      }),
    );
    const { id } = await queue.enqueue('progress', 1);
    await settled(queue, 'progress', 1);
    expect((await queue.get(id)).progress).toEqual({ percent: 50 });
  });
});
