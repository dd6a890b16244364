import { fileURLToPath } from 'node:url';
import { TokenAuthority } from '@sysdesign/platform';
import {
  describeWith,
  dropSchema,
  freePort,
  freshSchemaName,
  postgresBackend,
  tempDirSync,
  waitFor,
} from '@sysdesign/testkit';
import { NodeProcess } from '@sysdesign/testkit/faults';
import pg from 'pg';
import { expect, it } from 'vitest';

/**
 * Two scheduler replicas as real processes on one Postgres, each running the built-in workers
 * and the cron ticker. Replica A is killed with SIGKILL while it holds running jobs and started
 * again; a pull worker completes after its lease lapsed. Afterwards, read from the database:
 * every submitted job ends exactly once in a final state, the late completion was refused (409)
 * and recorded nothing, and no cron tick was enqueued twice although both replicas ticked.
 */

const postgres = await postgresBackend();
const SERVICE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'fault-suite-secret-of-at-least-32-bytes!';
const JOBS = 40;
const FINAL = new Set(['succeeded', 'dead', 'cancelled']);

async function startReplica(url: string, schema: string, port: number, name: string): Promise<NodeProcess> {
  const node = new NodeProcess({
    script: 'src/main.ts',
    cwd: SERVICE_ROOT,
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    startTimeoutMs: 45_000,
    env: {
      DATABASE_URL: url,
      JOB_QUEUE_SCHEMA: schema,
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
      AUTH_SECRET: SECRET,
      QUEUES: 'pull',
      BUILTIN_CONCURRENCY: '4',
      BUILTIN_LEASE_MS: '1000',
      REAP_MS: '200',
      CRON_POLL_MS: '200',
      DATA_DIR: tempDirSync(`job-scheduler-fault-${name}-`),
    },
  });
  await node.start();
  return node;
}

describeWith(postgres, 'two scheduler replicas under kill -9 and a lapsed pull lease', ({ url }) => {
  it('ends every job exactly once, refuses the stale completion, and enqueues each cron tick once', async () => {
    const schema = freshSchemaName('jobsched_fault');
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const [portA, portB] = [await freePort(), await freePort()];
    const token = await new TokenAuthority({ secret: SECRET }).issue('fault', {
      ttlSeconds: 600,
      scopes: ['jobs:write', 'jobs:work'],
    });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const call = (port: number, path: string, body?: unknown, method = 'POST') =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    let replicaA = await startReplica(url, schema, portA, 'a');
    const replicaB = await startReplica(url, schema, portB, 'b');
    try {
      // A cron schedule every second, ticked by both replicas.
      const cron = await call(
        portA,
        '/v1/schedules/every-second',
        {
          queue: 'builtin',
          cron: '* * * * * *',
          payload: { handler: 'echo', value: 'tick' },
        },
        'PUT',
      );
      expect(cron.status).toBe(200);

      const ids: string[] = [];
      for (let index = 0; index < JOBS; index += 1) {
        const response = await call(index % 2 === 0 ? portA : portB, '/v1/jobs', {
          queue: 'builtin',
          payload: { handler: 'sleep', ms: 300 },
          backoff: { kind: 'fixed', delayMs: 0 },
          maxAttempts: 10,
        });
        ids.push(((await response.json()) as { job: { id: string } }).job.id);
      }
      // Kill A while it holds running jobs.
      await waitFor(
        async () => {
          const running = await pool.query(
            `SELECT count(*)::int AS n FROM ${schema}.jobs WHERE state = 'running' AND worker LIKE $1`,
            [`%:${portA}`],
          );
          return running.rows[0].n > 0;
        },
        'A to hold running jobs',
        { timeoutMs: 20_000, intervalMs: 20 },
      );
      await replicaA.kill();

      // A pull worker leases a job on B and goes silent past its lease.
      const pullJob = await call(portB, '/v1/jobs', {
        queue: 'pull',
        payload: { n: 1 },
        backoff: { kind: 'fixed', delayMs: 0 },
      });
      const pullId = ((await pullJob.json()) as { job: { id: string } }).job.id;
      const leased = await call(portB, '/v1/queues/pull/lease', { limit: 1, leaseMs: 1_000, worker: 'slow' });
      const [held] = ((await leased.json()) as { jobs: { id: string; fence: string }[] }).jobs;
      expect(held?.id).toBe(pullId);
      await waitFor(
        async () =>
          (await pool.query(`SELECT state FROM ${schema}.jobs WHERE id = $1`, [pullId])).rows[0].state !==
          'running',
        'the reaper to take the lapsed lease back',
        { timeoutMs: 15_000, intervalMs: 50 },
      );
      const late = await call(portB, `/v1/jobs/${pullId}/complete`, {
        fence: held?.fence,
        output: { late: true },
      });
      expect(late.status).toBe(409);
      expect(((await late.json()) as { code: string }).code).toBe('JOBQ_ERR_FENCED');
      // A fresh lease gets the job with a newer token and completes it.
      const again = await call(portB, '/v1/queues/pull/lease', {
        limit: 1,
        leaseMs: 10_000,
        worker: 'fresh',
      });
      const [retaken] = ((await again.json()) as { jobs: { id: string; fence: string }[] }).jobs;
      expect(BigInt(retaken?.fence ?? '0')).toBeGreaterThan(BigInt(held?.fence ?? '0'));
      expect(
        (await call(portB, `/v1/jobs/${pullId}/complete`, { fence: retaken?.fence, output: { fresh: true } }))
          .status,
      ).toBe(200);

      replicaA = await startReplica(url, schema, portA, 'a');
      await waitFor(
        async () => {
          const result = await pool.query(`SELECT state FROM ${schema}.jobs WHERE id = ANY($1::bigint[])`, [
            ids,
          ]);
          return result.rows.every((row) => FINAL.has(row.state));
        },
        'every job to finish',
        { timeoutMs: 40_000, intervalMs: 100 },
      );
      // Both replicas tick the schedule for a few seconds more.
      await waitFor(
        async () => {
          const result = await pool.query(
            `SELECT count(*)::int AS n FROM ${schema}.jobs WHERE job_key LIKE 'cron:every-second:%'`,
          );
          return result.rows[0].n >= 6;
        },
        'six cron ticks',
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      await call(portA, '/v1/schedules/every-second', undefined, 'DELETE');

      const terminal = await pool.query(
        `SELECT job_id::text AS id, count(*)::int AS n FROM ${schema}.events
         WHERE job_id = ANY($1::bigint[]) AND to_state IN ('succeeded', 'dead', 'cancelled') GROUP BY job_id`,
        [[...ids, pullId]],
      );
      expect(terminal.rows).toHaveLength(JOBS + 1);
      expect(terminal.rows.every((row) => row.n === 1)).toBe(true);
      const pull = await pool.query(`SELECT state, output FROM ${schema}.jobs WHERE id = $1`, [pullId]);
      expect(pull.rows[0]).toEqual({ state: 'succeeded', output: { fresh: true } });
      const lapsed = await pool.query(
        `SELECT count(*)::int AS n FROM ${schema}.events WHERE job_id = ANY($1::bigint[]) AND error->>'code' = 'JOBQ_ERR_LEASE_LAPSED'`,
        [ids],
      );
      expect(lapsed.rows[0].n).toBeGreaterThan(0);

      const ticks = await pool.query(
        `SELECT job_key, count(*)::int AS n FROM ${schema}.jobs WHERE job_key LIKE 'cron:every-second:%' GROUP BY job_key`,
      );
      expect(ticks.rows.length).toBeGreaterThanOrEqual(6);
      expect(ticks.rows.every((row) => row.n === 1)).toBe(true);
      const tickers = await pool.query(
        `SELECT DISTINCT e.worker FROM ${schema}.jobs j JOIN ${schema}.events e ON e.job_id = j.id
         WHERE j.job_key LIKE 'cron:every-second:%' AND e.to_state = 'running'`,
      );
      expect(tickers.rows.length).toBeGreaterThan(0);
    } finally {
      await replicaA.stop();
      await replicaB.stop();
      await pool.end();
      await dropSchema(url, schema);
    }
  }, 120_000);
});
