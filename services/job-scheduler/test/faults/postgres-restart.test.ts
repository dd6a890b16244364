import { fileURLToPath } from 'node:url';
import { TokenAuthority } from '@sysdesign/platform';
import { freePort, privatePostgres, tempDirSync, waitFor } from '@sysdesign/testkit';
import { NodeProcess } from '@sysdesign/testkit/faults';
import pg from 'pg';
import { expect, it } from 'vitest';

/**
 * Postgres restarted under a running system, on a private cluster (never the shared server): the
 * service (HTTP, built-in workers, cron ticker) and a library worker process (its own cron ticker,
 * a ten-minute safety poll) run while a client submits a stream of jobs with Idempotency-Keys,
 * retrying each until it is acknowledged. Postgres is stopped and started, then killed with
 * SIGKILL and started, while a pull worker holds a lease. Afterwards, read from the database:
 * every submitted job exists once and ended exactly once in a final state; every outcome that
 * counted carried the job's current fencing token, and the pull worker's late completion was
 * refused; no cron tick was enqueued twice, and ticks resumed after the crash; an idle library
 * worker is still woken by NOTIFY (its LISTEN connection came back), not by its poll; no request
 * got a 500.
 */

const SERVICE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'fault-suite-secret-of-at-least-32-bytes!';
const SCHEMA = 'job_queue';
const FINAL_STATES = ['succeeded', 'dead', 'cancelled'];
/** Jobs that must finish on each queue after each fault before the next one: progress, not time. */
const PROGRESS_PER_PHASE = 15;
const SUBMIT_GAP_MS = 20;
const RETRY_GAP_MS = 100;

interface StreamStats {
  acknowledged: Map<string, string>;
  unavailable: number;
  unreachable: number;
  serverErrors: string[];
}

interface EventRow {
  job_id: string;
  from_state: string | null;
  to_state: string;
  fence: string | null;
}

function startService(url: string, port: number): NodeProcess {
  return new NodeProcess({
    script: 'src/main.ts',
    cwd: SERVICE_ROOT,
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    startTimeoutMs: 45_000,
    env: {
      DATABASE_URL: url,
      JOB_QUEUE_SCHEMA: SCHEMA,
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
      AUTH_SECRET: SECRET,
      QUEUES: 'lib,pull',
      BUILTIN_CONCURRENCY: '4',
      BUILTIN_LEASE_MS: '1500',
      REAP_MS: '300',
      CRON_POLL_MS: '200',
      DATA_DIR: tempDirSync('job-scheduler-pg-restart-'),
    },
  });
}

function startLibraryWorker(url: string, port: number): NodeProcess {
  return new NodeProcess({
    script: 'test/faults/library-worker.ts',
    cwd: SERVICE_ROOT,
    readyUrl: `http://127.0.0.1:${port}/ready`,
    env: {
      DATABASE_URL: url,
      JOB_QUEUE_SCHEMA: SCHEMA,
      WORKER_ID: 'lib-worker',
      HANDLER_MS: '50',
      PORT: String(port),
    },
  });
}

/** The fence of every outcome must be the fence its job was last claimed with. */
function staleOutcomes(events: readonly EventRow[]): EventRow[] {
  const claimedWith = new Map<string, string | null>();
  const stale: EventRow[] = [];
  for (const event of events) {
    if (event.from_state === 'running' && claimedWith.get(event.job_id) !== event.fence) stale.push(event);
    if (event.to_state === 'running') claimedWith.set(event.job_id, event.fence);
  }
  return stale;
}

it('keeps every job, refuses stale tokens, ticks each cron once and wakes workers again across a Postgres restart and a kill -9', async () => {
  const postgres = await privatePostgres();
  const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
  pool.on('error', () => undefined);
  const [servicePort, workerPort] = [await freePort(), await freePort()];
  const token = await new TokenAuthority({ secret: SECRET }).issue('fault', {
    ttlSeconds: 600,
    scopes: ['jobs:write', 'jobs:work'],
  });
  const call = (path: string, body?: unknown, method = 'POST') =>
    fetch(`http://127.0.0.1:${servicePort}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  /** Counts per queue of jobs in a final state; null while the database does not answer. */
  const finished = async (): Promise<Record<string, number> | null> => {
    try {
      const result = await pool.query<{ queue: string; n: number }>(
        `SELECT queue, count(*)::int AS n FROM ${SCHEMA}.jobs WHERE state = ANY($1) AND job_key LIKE 'stream-%' GROUP BY queue`,
        [FINAL_STATES],
      );
      return Object.fromEntries(result.rows.map((row) => [row.queue, row.n]));
    } catch {
      return null;
    }
  };
  const progressOnBothQueues = async (what: string) => {
    let start: Record<string, number> | null = null;
    await waitFor(
      async () => {
        start = await finished();
        return start !== null;
      },
      `the database before ${what}`,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const before: Record<string, number> = start ?? {};
    let last: Record<string, number> | null = null;
    await waitFor(
      async () => {
        last = await finished();
        if (last === null) return false;
        const now = last;
        return ['builtin', 'lib'].every(
          (name) => (now[name] ?? 0) >= (before[name] ?? 0) + PROGRESS_PER_PHASE,
        );
      },
      `${PROGRESS_PER_PHASE} more jobs on each queue ${what}`,
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}: finished ${JSON.stringify(before)} -> ${JSON.stringify(last)}\n` +
          `library worker:\n${worker.output()}\nservice:\n${service.output()}`,
      );
    });
  };

  const service = startService(postgres.url, servicePort);
  const worker = startLibraryWorker(postgres.url, workerPort);
  await service.start();
  await worker.start();
  const stream: StreamStats = { acknowledged: new Map(), unavailable: 0, unreachable: 0, serverErrors: [] };
  let streaming = true;
  /** Set when the test ends early: a submit stops retrying. */
  let abandoned = false;
  /** Submits `stream-<n>` until acknowledged: a retry after a 503 or a lost answer must not duplicate. */
  const submit = async (index: number) => {
    const key = `stream-${index}`;
    const body =
      index % 2 === 0
        ? { queue: 'builtin', payload: { handler: 'sleep', ms: 50 } }
        : { queue: 'lib', payload: { n: index } };
    while (!abandoned) {
      let response: Response;
      try {
        response = await fetch(`http://127.0.0.1:${servicePort}/v1/jobs`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: JSON.stringify({ ...body, maxAttempts: 25, backoff: { kind: 'fixed', delayMs: 0 } }),
          signal: AbortSignal.timeout(30_000),
        });
      } catch {
        stream.unreachable += 1;
        await new Promise((resolve) => setTimeout(resolve, RETRY_GAP_MS));
        continue;
      }
      if (response.status === 200 || response.status === 201) {
        stream.acknowledged.set(key, ((await response.json()) as { job: { id: string } }).job.id);
        return;
      }
      const text = await response.text();
      if (response.status === 503) stream.unavailable += 1;
      else stream.serverErrors.push(`${response.status} ${text}`);
      await new Promise((resolve) => setTimeout(resolve, RETRY_GAP_MS));
    }
  };
  const streamDone = (async () => {
    for (let index = 0; streaming; index += 1) {
      await submit(index);
      await new Promise((resolve) => setTimeout(resolve, SUBMIT_GAP_MS));
    }
  })();

  try {
    const cron = await call(
      '/v1/schedules/every-second',
      { queue: 'builtin', cron: '* * * * * *', payload: { handler: 'echo', value: 'tick' } },
      'PUT',
    );
    expect(cron.status).toBe(200);
    await progressOnBothQueues('before the faults');

    // A clean restart: PostgreSQL's fast shutdown ends every session.
    await postgres.restart();
    await progressOnBothQueues('after the restart');

    // A pull worker holds a lease when the server crashes; it answers long after the lease lapsed.
    const pullJob = await call('/v1/jobs', {
      queue: 'pull',
      payload: { n: 1 },
      backoff: { kind: 'fixed', delayMs: 0 },
    });
    expect(pullJob.status).toBe(201);
    const pullId = ((await pullJob.json()) as { job: { id: string } }).job.id;
    const leased = await call('/v1/queues/pull/lease', { limit: 1, leaseMs: 1_000, worker: 'slow' });
    const [held] = ((await leased.json()) as { jobs: { id: string; fence: string }[] }).jobs;
    expect(held?.id).toBe(pullId);

    await postgres.kill();
    const crashedAt = new Date();
    // Down long enough for clients to notice: submits answered 503 and leases past their 1.5 s.
    const refusedBefore = stream.unavailable + stream.unreachable;
    await waitFor(
      () => stream.unavailable + stream.unreachable >= refusedBefore + 3,
      'submits refused while down',
      {
        timeoutMs: 30_000,
      },
    );
    await postgres.start();
    await progressOnBothQueues('after the kill');

    await waitFor(
      async () => {
        const response = await call(`/v1/jobs/${pullId}`, undefined, 'GET');
        return response.status === 200 && ((await response.json()) as { state: string }).state !== 'running';
      },
      'the reaper to take the lapsed pull lease back',
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const late = await call(`/v1/jobs/${pullId}/complete`, { fence: held?.fence, output: { late: true } });
    expect(late.status).toBe(409);
    expect(((await late.json()) as { code: string }).code).toBe('JOBQ_ERR_FENCED');
    const again = await call('/v1/queues/pull/lease', { limit: 1, leaseMs: 30_000, worker: 'fresh' });
    const [retaken] = ((await again.json()) as { jobs: { id: string; fence: string }[] }).jobs;
    expect(retaken?.id).toBe(pullId);
    expect(
      (await call(`/v1/jobs/${pullId}/complete`, { fence: retaken?.fence, output: { fresh: true } })).status,
    ).toBe(200);

    streaming = false;
    await streamDone;
    const ids = [...stream.acknowledged.values()];
    await waitFor(
      async () => {
        const result = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${SCHEMA}.jobs WHERE id = ANY($1::bigint[]) AND state = ANY($2)`,
          [ids, FINAL_STATES],
        );
        return result.rows[0]?.n === ids.length;
      },
      'every acknowledged job to finish',
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    // The library worker is idle and its poll is ten minutes away: only a NOTIFY reaches it now.
    const statsBefore = (await (await fetch(`http://127.0.0.1:${workerPort}/stats`)).json()) as {
      succeeded: number;
    };
    const probe = await call('/v1/jobs', { queue: 'lib', payload: { probe: true } });
    const probeId = ((await probe.json()) as { job: { id: string } }).job.id;
    await waitFor(
      async () => {
        const result = await pool.query<{ state: string }>(`SELECT state FROM ${SCHEMA}.jobs WHERE id = $1`, [
          probeId,
        ]);
        return result.rows[0]?.state === 'succeeded';
      },
      'the idle library worker to be woken by NOTIFY',
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const statsAfter = (await (await fetch(`http://127.0.0.1:${workerPort}/stats`)).json()) as {
      succeeded: number;
    };
    expect(statsAfter.succeeded).toBe(statsBefore.succeeded + 1);
    await call('/v1/schedules/every-second', undefined, 'DELETE');

    // Every submitted key is one job, and every job ended exactly once.
    expect(stream.serverErrors).toEqual([]);
    const keyed = await pool.query<{ job_key: string; id: string }>(
      `SELECT job_key, id::text FROM ${SCHEMA}.jobs WHERE job_key LIKE 'stream-%'`,
    );
    expect(new Map(keyed.rows.map((row) => [row.job_key, row.id]))).toEqual(stream.acknowledged);
    const terminal = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${SCHEMA}.events
       WHERE job_id = ANY($1::bigint[]) AND to_state = ANY($2) GROUP BY job_id`,
      [[...ids, pullId, probeId], FINAL_STATES],
    );
    expect(terminal.rows).toHaveLength(ids.length + 2);
    expect(terminal.rows.filter((row) => row.n !== 1)).toEqual([]);
    const states = await pool.query<{ state: string; n: number }>(
      `SELECT state, count(*)::int AS n FROM ${SCHEMA}.jobs WHERE id = ANY($1::bigint[]) GROUP BY state`,
      [ids],
    );
    expect(states.rows).toEqual([{ state: 'succeeded', n: ids.length }]);

    // No outcome with a stale token, and the output that counted came from the current holder.
    const events = await pool.query<EventRow>(
      `SELECT job_id::text, from_state, to_state, fence::text FROM ${SCHEMA}.events ORDER BY id`,
    );
    expect(staleOutcomes(events.rows)).toEqual([]);
    const wrongHolder = await pool.query(
      `SELECT id FROM ${SCHEMA}.jobs WHERE queue = 'lib' AND state = 'succeeded' AND output->>'fence' <> fence::text`,
    );
    expect(wrongHolder.rows).toEqual([]);
    const pull = await pool.query(`SELECT state, output FROM ${SCHEMA}.jobs WHERE id = $1`, [pullId]);
    expect(pull.rows[0]).toEqual({ state: 'succeeded', output: { fresh: true } });

    // Each tick once, from two tickers (the service's and the library process's), resumed after the crash.
    const ticks = await pool.query<{ job_key: string; n: number; created: Date }>(
      `SELECT job_key, count(*)::int AS n, min(created_at) AS created FROM ${SCHEMA}.jobs
       WHERE job_key LIKE 'cron:every-second:%' GROUP BY job_key`,
    );
    expect(ticks.rows.filter((row) => row.n !== 1)).toEqual([]);
    expect(ticks.rows.filter((row) => row.created > crashedAt).length).toBeGreaterThan(0);

    const lapsed = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${SCHEMA}.events WHERE error->>'code' = 'JOBQ_ERR_LEASE_LAPSED'`,
    );
    console.info(
      `postgres restart run: ${ids.length} jobs acknowledged, ${stream.unavailable} answers 503, ` +
        `${stream.unreachable} requests unanswered, ${lapsed.rows[0]?.n} leases lapsed, ${ticks.rows.length} cron ticks`,
    );
  } finally {
    streaming = false;
    abandoned = true;
    await streamDone.catch(() => undefined);
    await worker.stop();
    await service.stop();
    await pool.end();
  }
}, 300_000);
