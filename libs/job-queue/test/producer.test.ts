import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJobQueueError, JobQueueErrorCode } from '../src/index.js';
import { databases, ManualClock, type TestDatabase } from './helpers.js';

describe.each(databases())('producer on $name', ({ create }) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await create();
  });
  afterAll(() => database?.close());

  it('migrates once: a second migrate applies nothing', async () => {
    // Proves the migrations are recorded: the second run finds every version applied.
    const queue = await database.open();
    expect(await queue.migrate()).toEqual([]);
  });

  it('stores a job ready now, or scheduled when its runAt is ahead', async () => {
    // Proves the initial state follows runAt, and every option round-trips through the row.
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const queue = await database.open({ now: clock.now });
    const now = await queue.enqueue('mail', { to: 'a' });
    const empty = await queue.enqueue('mail', null);
    expect((await queue.get(empty.id)).payload).toBeNull();
    const later = await queue.enqueue(
      'mail',
      { to: 'b' },
      {
        delayMs: 60_000,
        priority: 5,
        maxAttempts: 3,
        backoff: { kind: 'fixed', delayMs: 250 },
        timeoutMs: 9_000,
        tenant: 'acme',
      },
    );
    expect((await queue.get(now.id)).state).toBe('ready');
    const job = await queue.get(later.id);
    expect(job).toMatchObject({
      state: 'scheduled',
      payload: { to: 'b' },
      priority: 5,
      maxAttempts: 3,
      backoff: { kind: 'fixed', delayMs: 250 },
      timeoutMs: 9_000,
      tenant: 'acme',
      attempts: 0,
    });
    expect(job.runAt.getTime()).toBe(clock.ms + 60_000);
  });

  it('returns the same job for the same job key, in one call or across calls', async () => {
    // Proves idempotent submission: a key maps to the first job, and later submits create nothing.
    const queue = await database.open();
    const first = await queue.enqueue('mail', { n: 1 }, { jobKey: 'welcome-42' });
    const again = await queue.enqueue('mail', { n: 2 }, { jobKey: 'welcome-42' });
    expect(first.created).toBe(true);
    expect(again).toEqual({ id: first.id, created: false });
    const batch = await queue.enqueueMany([
      { queue: 'mail', payload: 1, options: { jobKey: 'k2' } },
      { queue: 'mail', payload: 2 },
      { queue: 'mail', payload: 3, options: { jobKey: 'k2' } },
      { queue: 'mail', payload: 4, options: { jobKey: 'welcome-42' } },
    ]);
    expect(batch.map((result) => result.created)).toEqual([true, true, false, false]);
    expect(batch[2]?.id).toBe(batch[0]?.id);
    expect(batch[3]?.id).toBe(first.id);
    expect((await queue.get(first.id)).payload).toEqual({ n: 1 });
    expect((await queue.counts('mail')).ready).toBe(3);
  });

  it('gives 20 concurrent submits of one key one job', async () => {
    // Proves the key is enforced by the database, not by a read-then-write race in the client.
    const queue = await database.open();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => queue.enqueue('mail', { index }, { jobKey: 'race' })),
    );
    expect(new Set(results.map((result) => result.id)).size).toBe(1);
    expect(results.filter((result) => result.created)).toHaveLength(1);
  });

  it('bulk-inserts in input order with one statement', async () => {
    // Proves set-based insert keeps the caller's order: ids ascend with the input.
    const queue = await database.open();
    const results = await queue.enqueueMany(
      Array.from({ length: 500 }, (_, index) => ({ queue: 'bulk', payload: { index } })),
    );
    for (const [index, result] of results.entries()) {
      expect((await queue.get(result.id)).payload).toEqual({ index });
      if (index > 5) break;
    }
    const ids = results.map((result) => BigInt(result.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    expect((await queue.counts('bulk')).ready).toBe(500);
  });

  it('enqueues inside the caller transaction: rolled back means no job', async () => {
    // Proves enqueue joins the caller's transaction instead of committing on its own.
    const queue = await database.open();
    const kept = await queue.sql.tx((tx) => queue.enqueue('tx', { kept: true }, { tx }));
    await expect(
      queue.sql.tx(async (tx) => {
        await queue.enqueue('tx', { kept: false }, { tx });
        throw new Error('the caller changed its mind');
      }),
    ).rejects.toThrow('changed its mind');
    const page = await queue.list('tx', 'ready');
    expect(page.jobs.map((job) => job.id)).toEqual([kept.id]);
  });

  it('refuses a payload over the limit, a negative delay, a bad queue name and too many jobs', async () => {
    // Proves the bounds a client could otherwise make us spend are checked before any write.
    const queue = await database.open({ limits: { payloadBytesMax: 100, jobsPerCallMax: 3 } });
    const refused = async (work: () => Promise<unknown>) => {
      const error = await work().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isJobQueueError(error)).toBe(true);
      return (error as { code: string }).code;
    };
    expect(await refused(() => queue.enqueue('q', 'x'.repeat(200)))).toBe(
      JobQueueErrorCode.PAYLOAD_TOO_LARGE,
    );
    expect(await refused(() => queue.enqueue('q', 1, { delayMs: -5 }))).toBe(
      JobQueueErrorCode.INVALID_OPTION,
    );
    expect(await refused(() => queue.enqueue('bad name!', 1))).toBe(JobQueueErrorCode.INVALID_OPTION);
    expect(await refused(() => queue.enqueue('q', 1, { maxAttempts: 0 }))).toBe(
      JobQueueErrorCode.INVALID_OPTION,
    );
    expect(
      await refused(() => queue.enqueueMany(Array.from({ length: 4 }, () => ({ queue: 'q', payload: 1 })))),
    ).toBe(JobQueueErrorCode.TOO_MANY_JOBS);
    expect(await refused(() => queue.get('12abc'))).toBe(JobQueueErrorCode.NOT_FOUND);
    expect((await queue.counts('q')).ready).toBe(0);
  });

  it('purges finished jobs past the retention age, keeping unfinished ones and their inputs', async () => {
    // Proves retention bounds the table: old finished jobs and their history go, a job that an
    // unfinished flow job still depends on stays, and a purged key can be used again.
    const clock = new ManualClock(Date.parse('2026-05-01T00:00:00Z'));
    const queue = await database.open({ now: clock.now });
    const done = await queue.enqueue('old', 1, { jobKey: 'once' });
    const pending = await queue.enqueue('old', 2);
    const flow = await queue.flow([
      { ref: 'input', queue: 'old', payload: 3 },
      { ref: 'join', queue: 'old', payload: 4, dependsOn: ['input'] },
    ]);
    const leased = await queue.lease('old', { limit: 3, worker: 'w', leaseMs: 60_000 });
    for (const job of leased) if (job.id !== pending.id) await queue.complete(job.id, job.fence, null);
    clock.advance(2 * 60 * 60 * 1000);
    expect(await queue.purgeFinished(60 * 60 * 1000)).toBe(1);
    await expect(queue.get(done.id)).rejects.toMatchObject({ code: JobQueueErrorCode.NOT_FOUND });
    expect(await queue.history(done.id)).toEqual([]);
    expect((await queue.get(flow.jobs.input as string)).state).toBe('succeeded');
    expect((await queue.get(pending.id)).state).toBe('running');
    expect((await queue.enqueue('old', 5, { jobKey: 'once' })).created).toBe(true);
  });

  it('pages a queue by state with a cursor', async () => {
    // Proves cursor paging visits every job once.
    const queue = await database.open();
    await queue.enqueueMany(Array.from({ length: 7 }, (_, index) => ({ queue: 'pages', payload: index })));
    const seen: unknown[] = [];
    let after: string | undefined;
    do {
      const page = await queue.list('pages', 'ready', { limit: 3, ...(after ? { after } : {}) });
      seen.push(...page.jobs.map((job) => job.payload));
      after = page.next ?? undefined;
    } while (after);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
