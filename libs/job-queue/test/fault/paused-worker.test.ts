import { fileURLToPath } from 'node:url';
import {
  describeWith,
  dropSchema,
  freePort,
  freshSchemaName,
  postgresBackend,
  waitFor,
} from '@sysdesign/testkit';
import { NodeProcess } from '@sysdesign/testkit/faults';
import pg from 'pg';
import { expect, it } from 'vitest';
import { JobQueue, pgPoolSql, Worker, type WorkerStats } from '../../src/index.js';

const postgres = await postgresBackend();
const packageDir = fileURLToPath(new URL('../..', import.meta.url));

/** P's lease is 1 s; it stays frozen this long, well past the lease and B's takeover. */
const PAUSE_MS = 3_000;

describeWith(postgres, 'a worker process SIGSTOPped past its lease', ({ url }) => {
  it('is fenced: the job completes once, by the worker that took it over, and the stale effect is refused', async () => {
    // Proves the fencing claim against a real stalled process: worker P takes the job, is frozen
    // (SIGSTOP) for 3 s against a 1 s lease, the reaper hands the job to worker B, and when P wakes
    // nothing it does counts: the job has one success (B's output) and the effect store keeps B's write.
    const schema = freshSchemaName('jobq_fault');
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const queue = new JobQueue({ sql: pgPoolSql(pool), schema });
    await queue.migrate();
    await pool.query(
      `CREATE TABLE ${schema}.effects (job_id bigint PRIMARY KEY, fence bigint NOT NULL, written_by text NOT NULL)`,
    );
    const port = await freePort();
    const paused = new NodeProcess({
      script: 'test/fault/worker-process.ts',
      cwd: packageDir,
      env: { DATABASE_URL: url, SCHEMA: schema, WORKER_ID: 'P', HANDLER_MS: '1500', PORT: String(port) },
      readyUrl: `http://127.0.0.1:${port}/ready`,
    });
    let takeover: Worker | undefined;
    try {
      await paused.start();
      const { id } = await queue.enqueue('fault', { n: 1 }, { backoff: { kind: 'fixed', delayMs: 0 } });
      await waitFor(async () => (await queue.get(id)).worker === 'P', 'P to claim the job', {
        timeoutMs: 10_000,
      });
      const pausedAt = Date.now();
      paused.pause();
      takeover = new Worker(
        queue,
        'fault',
        async (job, context) => {
          await pool.query(
            `INSERT INTO ${schema}.effects (job_id, fence, written_by) VALUES ($1, $2, 'B')
             ON CONFLICT (job_id) DO UPDATE SET fence = EXCLUDED.fence, written_by = EXCLUDED.written_by
             WHERE effects.fence < EXCLUDED.fence`,
            [job.id, context.fence],
          );
          return { by: 'B' };
        },
        { workerId: 'B', reapMs: 100, pollMs: 200 },
      );
      await takeover.start();
      await waitFor(async () => (await queue.get(id)).state === 'succeeded', 'B to complete the job', {
        timeoutMs: 10_000,
      });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, pausedAt + PAUSE_MS - Date.now())));
      paused.resume();
      const stats = async () => (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as WorkerStats;
      await waitFor(
        async () => {
          const seen = await stats();
          return seen.fenced + seen.leasesLost >= 1;
        },
        'P to learn it lost the job',
        { timeoutMs: 10_000 },
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));

      const job = await queue.get(id);
      expect(job).toMatchObject({ state: 'succeeded', output: { by: 'B' }, attempts: 2 });
      const history = await queue.history(id);
      expect(history.filter((event) => event.to === 'succeeded')).toHaveLength(1);
      expect(history.map((event) => [event.to, event.worker])).toEqual([
        ['running', 'P'],
        ['failed', null],
        ['running', 'B'],
        ['succeeded', 'B'],
      ]);
      const effect = await pool.query(
        `SELECT fence::text, written_by FROM ${schema}.effects WHERE job_id = $1`,
        [id],
      );
      expect(effect.rows).toEqual([{ fence: job.fence, written_by: 'B' }]);
      expect((await stats()).succeeded).toBe(0);
    } finally {
      await takeover?.close({ graceMs: 100 });
      await paused.stop();
      await pool.end();
      await dropSchema(url, schema);
    }
  }, 60_000);
});
