import { describeWith, dropSchema, freshSchemaName, postgresBackend, waitFor } from '@sysdesign/testkit';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { JobQueue, type JobQueueSql, pgPoolSql } from '../src/index.js';

const postgres = await postgresBackend();

const NOTIFY_STATEMENT = 'SELECT count(pg_notify(';

describeWith(postgres, 'wake-up NOTIFY of enqueues on Postgres', ({ url }) => {
  const schema = freshSchemaName('jobq_notify');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const listener = new pg.Client({ connectionString: url });
  const heard: string[] = [];
  const queue = new JobQueue({ sql: pgPoolSql(pool), schema });

  beforeAll(async () => {
    await queue.migrate();
    await listener.connect();
    listener.on('notification', (message) => heard.push(message.payload ?? ''));
    await listener.query(`LISTEN "${schema}_wake"`);
  });
  afterAll(async () => {
    await listener.end();
    await pool.end();
    await dropSchema(url, schema);
  });

  /** Enqueues a sentinel and waits for its wake-up: every notification committed before it has arrived. */
  async function drained(): Promise<string[]> {
    const sentinel = `sentinel-${heard.length}`;
    await queue.enqueue(sentinel, null);
    await waitFor(() => heard.some((payload) => payload.startsWith(`${sentinel}|`)), 'the sentinel wake-up');
    const payloads = heard.filter((payload) => !payload.startsWith('sentinel-'));
    heard.length = 0;
    return payloads;
  }

  it('wakes each queue once per enqueue with its earliest runAt, after the commit', async () => {
    await drained();
    const nowMs = queue.now();
    const later = new Date(nowMs + 60_000);
    const earlier = new Date(nowMs + 30_000);
    await queue.enqueueMany([
      { queue: 'alpha', payload: 1, options: { runAt: later } },
      { queue: 'alpha', payload: 2, options: { runAt: earlier } },
      { queue: 'beta', payload: 3, options: { runAt: later } },
    ]);
    expect((await drained()).sort()).toEqual([`alpha|${earlier.getTime()}`, `beta|${later.getTime()}`]);
  });

  it('does not wake for a job key that met an existing job', async () => {
    await queue.enqueue('keyed', 1, { jobKey: 'once' });
    expect(await drained()).toHaveLength(1);
    const again = await queue.enqueue('keyed', 2, { jobKey: 'once' });
    expect(again.created).toBe(false);
    expect(await drained()).toEqual([]);
  });

  it("sends the NOTIFY inside the caller's transaction: a rollback wakes nobody, a commit wakes", async () => {
    await drained();
    const sql = pgPoolSql(pool);
    await expect(
      sql.tx(async (tx) => {
        await queue.enqueue('rolled-back', 1, { tx });
        throw new Error('the caller gives up');
      }),
    ).rejects.toThrow('the caller gives up');
    expect(await drained()).toEqual([]);
    await sql.tx((tx) => queue.enqueue('committed', 1, { tx }));
    expect((await drained()).map((payload) => payload.split('|')[0])).toEqual(['committed']);
  });

  it('coalesces the wake-ups of enqueues that commit while a NOTIFY is in flight into one statement', async () => {
    await drained();
    const base = pgPoolSql(pool);
    const notifyStatements: unknown[][] = [];
    let inserts = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Holds the first NOTIFY statement until every other enqueue has committed its insert.
    const sql: JobQueueSql = {
      ...base,
      async query(text, params) {
        if (text.startsWith(NOTIFY_STATEMENT)) {
          notifyStatements.push([...(params ?? [])]);
          if (notifyStatements.length === 1) await gate;
        }
        const result = await base.query(text, params);
        if (text.includes('INSERT INTO')) inserts += 1;
        return result as never;
      },
    };
    const gated = new JobQueue({ sql, schema });
    const first = gated.enqueue('one', 0);
    await waitFor(() => notifyStatements.length === 1, 'the first NOTIFY to be held');
    const rest = Array.from({ length: 9 }, (_, index) =>
      gated.enqueue(index % 2 === 0 ? 'one' : 'two', index),
    );
    await waitFor(() => inserts === 10, 'every insert to commit');
    expect(notifyStatements).toHaveLength(1);
    release();
    const results = await Promise.all([first, ...rest]);
    expect(results.every((result) => result.created)).toBe(true);
    expect(notifyStatements).toHaveLength(2);
    expect(notifyStatements[1]?.[1]).toEqual(['one', 'two']);
    expect((await drained()).map((payload) => payload.split('|')[0]).sort()).toEqual(['one', 'one', 'two']);
  });

  it('resolves the enqueue of a committed job when its NOTIFY fails, and reports the failure', async () => {
    const base = pgPoolSql(pool);
    const failures: unknown[] = [];
    const sql: JobQueueSql = {
      ...base,
      async query(text, params) {
        if (text.startsWith(NOTIFY_STATEMENT)) throw new Error('connection lost');
        return base.query(text, params) as never;
      },
    };
    const failing = new JobQueue({ sql, schema, onWakeError: (error) => failures.push(error) });
    const result = await failing.enqueue('unheard', 1);
    expect(result.created).toBe(true);
    expect((await queue.get(result.id)).state).toBe('ready');
    expect(failures).toEqual([new Error('connection lost')]);
  });
});
