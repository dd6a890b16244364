/**
 * End-to-end throughput and add-to-start latency of the queue with no-op handlers, on Postgres
 * (DATABASE_URL) and on an in-memory PGlite.
 *
 *   pnpm --filter @sysdesign/job-queue bench            # full run
 *   JOBQ_BENCH_JOBS=2000 JOBQ_BENCH_WORKERS=1,4 JOBQ_BENCH_CONCURRENCY=50 JOBQ_BENCH_PARTS=throughput \
 *     JOBQ_BENCH_BACKENDS=postgres pnpm --filter @sysdesign/job-queue bench
 *
 * Each throughput row also gives the CPU spent per 1,000 jobs by this node process (producer,
 * workers, and PGlite when it is the backend) and by the Postgres server's backends serving it (read
 * from /proc, so only for a server on this machine): which side bounds the rate.
 *
 * Throughput: a producer submits JOBS jobs in bulk batches of 500 while W workers (each a Worker
 * with concurrency C) run them; jobs/s is JOBS over the time from the first submit to the last
 * completion. Latency: single enqueues at a steady rate to idle workers; add-to-start is the time
 * from enqueue() being called to the handler starting. Fairness: a big tenant floods the queue
 * with FLOOD jobs at once while a small tenant submits one job every 20 ms; the small tenant's
 * wait (enqueue to start) with round-robin claims against plain FIFO claims. Singles: SINGLES
 * single `enqueue()` calls (no batching, no workers), SINGLES_IN_FLIGHT of them at a time: the
 * rate of one-job commits, which the wake-up NOTIFY bounds when it is sent inside the insert's
 * transaction.
 */
import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { JobQueue, type JobQueueSql, pgliteSql, pgPoolSql, Worker } from '../src/index.js';
import { claim, recordOutcomes } from '../src/leases.js';

const JOBS = Number(process.env.JOBQ_BENCH_JOBS ?? 20_000);
const LATENCY_SAMPLES = Number(process.env.JOBQ_BENCH_LATENCY_SAMPLES ?? 500);
const LATENCY_RATE_PER_S = 200;
const BATCH = 500;
const WORKER_COUNTS = (process.env.JOBQ_BENCH_WORKERS ?? '1,4,16').split(',').map(Number);
const CONCURRENCY = Number(process.env.JOBQ_BENCH_CONCURRENCY ?? 8);
const FLOOD = Number(process.env.JOBQ_BENCH_FLOOD ?? 5_000);
const SPLIT_BATCH = 50;
const SINGLES = Number(process.env.JOBQ_BENCH_SINGLES ?? 3_000);
const SINGLES_IN_FLIGHT = (process.env.JOBQ_BENCH_SINGLES_IN_FLIGHT ?? '1,8,32').split(',').map(Number);
/** `throughput`, `latency` (with each throughput row), `fairness`, `split`, `singles`; default all, comma-separated. */
const PARTS = new Set(
  (process.env.JOBQ_BENCH_PARTS ?? 'throughput,latency,fairness,split,singles').split(','),
);
/** `postgres`, `pglite` or both (default). */
const BACKENDS = new Set((process.env.JOBQ_BENCH_BACKENDS ?? 'postgres,pglite').split(','));
const SMALL_TENANT_JOBS = 50;
const SMALL_TENANT_GAP_MS = 20;

interface Backend {
  name: string;
  sql: JobQueueSql;
  /** CPU ms the database spent for this process so far (its server backends), when it can be read. */
  databaseCpuMs(): Promise<number | null>;
  dropSchema(schema: string): Promise<void>;
  close(): Promise<void>;
}

const APPLICATION_NAME = `jobq-bench-${process.pid}`;
const CLOCK_TICKS_PER_S = 100;

/** utime + stime of a local process in ms, from /proc (null when it is not readable: another host). */
function processCpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

async function postgres(url: string): Promise<Backend> {
  const pool = new pg.Pool({ connectionString: url, max: 40, application_name: APPLICATION_NAME });
  return {
    name: 'postgres',
    sql: pgPoolSql(pool),
    // The server's backends for this pool, on this machine: the CPU split between node and Postgres.
    async databaseCpuMs() {
      const result = await pool.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
        [APPLICATION_NAME],
      );
      let total = 0;
      for (const { pid } of result.rows) {
        const ms = processCpuMs(pid);
        if (ms === null) return null;
        total += ms;
      }
      return total;
    },
    async dropSchema(schema) {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
    close: () => pool.end(),
  };
}

async function pglite(): Promise<Backend> {
  const db = await PGlite.create();
  return {
    name: 'pglite',
    sql: pgliteSql(db),
    // PGlite runs inside this process: its CPU is node's.
    databaseCpuMs: async () => 0,
    async dropSchema(schema) {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
    close: () => db.close(),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface ThroughputResult {
  jobsPerS: number;
  /** CPU ms per 1,000 jobs: this node process (producer, workers, PGlite), and the Postgres backends. */
  nodeCpuMsPerKJob: number;
  databaseCpuMsPerKJob: number | null;
}

async function throughput(backend: Backend, workerCount: number): Promise<ThroughputResult> {
  const schema = `bench_jobq_${workerCount}_${Date.now().toString(36)}`;
  const queue = new JobQueue({ sql: backend.sql, schema });
  await queue.migrate();
  let done = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const workers = Array.from(
    { length: workerCount },
    () =>
      new Worker(
        queue,
        'bench',
        () => {
          done += 1;
          if (done === JOBS) finish();
          return null;
        },
        { concurrency: CONCURRENCY },
      ),
  );
  for (const worker of workers) await worker.start();
  const databaseCpuBefore = await backend.databaseCpuMs();
  const nodeCpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  for (let offset = 0; offset < JOBS; offset += BATCH) {
    const size = Math.min(BATCH, JOBS - offset);
    await queue.enqueueMany(
      Array.from({ length: size }, (_, index) => ({ queue: 'bench', payload: { n: offset + index } })),
    );
  }
  await finished;
  const elapsedMs = performance.now() - startedAt;
  const nodeCpu = process.cpuUsage(nodeCpuBefore);
  const databaseCpuAfter = await backend.databaseCpuMs();
  await Promise.all(workers.map((worker) => worker.close()));
  await backend.dropSchema(schema);
  const perKJob = (ms: number) => (ms * 1000) / JOBS;
  return {
    jobsPerS: JOBS / (elapsedMs / 1000),
    nodeCpuMsPerKJob: perKJob((nodeCpu.user + nodeCpu.system) / 1000),
    databaseCpuMsPerKJob:
      databaseCpuBefore === null || databaseCpuAfter === null
        ? null
        : perKJob(databaseCpuAfter - databaseCpuBefore),
  };
}

async function latency(backend: Backend, workerCount: number): Promise<{ p50: number; p99: number }> {
  const schema = `bench_jobq_lat_${Date.now().toString(36)}`;
  const queue = new JobQueue({ sql: backend.sql, schema });
  await queue.migrate();
  const samples: number[] = [];
  const workers = Array.from(
    { length: workerCount },
    () =>
      new Worker<{ at: number }>(
        queue,
        'latency',
        (job) => {
          samples.push(performance.timeOrigin + performance.now() - job.payload.at);
          return null;
        },
        { concurrency: CONCURRENCY },
      ),
  );
  for (const worker of workers) await worker.start();
  const gapMs = 1000 / LATENCY_RATE_PER_S;
  for (let index = 0; index < LATENCY_SAMPLES; index += 1) {
    await queue.enqueue('latency', { at: performance.timeOrigin + performance.now() });
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  while (samples.length < LATENCY_SAMPLES) await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.all(workers.map((worker) => worker.close()));
  await backend.dropSchema(schema);
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function fairness(backend: Backend, fairTenants: boolean): Promise<{ p50: number; p99: number }> {
  const schema = `bench_jobq_fair_${Date.now().toString(36)}`;
  const queue = new JobQueue({ sql: backend.sql, schema });
  await queue.migrate();
  const waits: number[] = [];
  let bigDone = 0;
  for (let offset = 0; offset < FLOOD; offset += BATCH) {
    const at = performance.timeOrigin + performance.now();
    await queue.enqueueMany(
      Array.from({ length: Math.min(BATCH, FLOOD - offset) }, () => ({
        queue: 'fair',
        payload: { at, tenant: 'big' },
        options: { tenant: 'big' },
      })),
    );
  }
  // The backlog exists before any worker runs: the small tenant arrives behind all of it.
  const worker = await new Worker<{ at: number; tenant: string }>(
    queue,
    'fair',
    (job) => {
      if (job.payload.tenant === 'small')
        waits.push(performance.timeOrigin + performance.now() - job.payload.at);
      else bigDone += 1;
      return null;
    },
    { concurrency: CONCURRENCY, fairTenants },
  ).start();
  for (let index = 0; index < SMALL_TENANT_JOBS; index += 1) {
    await queue.enqueue(
      'fair',
      { at: performance.timeOrigin + performance.now(), tenant: 'small' },
      { tenant: 'small' },
    );
    await new Promise((resolve) => setTimeout(resolve, SMALL_TENANT_GAP_MS));
  }
  while (waits.length < SMALL_TENANT_JOBS || bigDone < FLOOD)
    await new Promise((resolve) => setTimeout(resolve, 20));
  await worker.close();
  await backend.dropSchema(schema);
  const sorted = [...waits].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/**
 * The CPU of each step on one connection, with nothing else of ours running: enqueue (bulk 500),
 * claim and complete (batches of 50), each as the server's CPU and node's per job, with the pg
 * adapter's named prepared statements and without. Reads the server backend's CPU from /proc.
 */
async function split(url: string): Promise<string[]> {
  const rows: string[] = [];
  for (const prepare of [false, true]) {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const schema = `bench_jobq_split_${Date.now().toString(36)}`;
    const queue = new JobQueue({ sql: pgPoolSql(pool, { prepare }), schema });
    await queue.migrate();
    const { pid } = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0] as {
      pid: number;
    };
    const held: { id: string; fence: string }[] = [];
    const steps: [string, () => Promise<void>][] = [
      [
        'enqueue',
        async () => {
          for (let offset = 0; offset < JOBS; offset += BATCH) {
            const size = Math.min(BATCH, JOBS - offset);
            await queue.enqueueMany(
              Array.from({ length: size }, (_, n) => ({ queue: 'split', payload: { n } })),
            );
          }
        },
      ],
      [
        'claim',
        async () => {
          for (let offset = 0; offset < JOBS; offset += SPLIT_BATCH) {
            const claimed = await claim(queue, {
              queue: 'split',
              limit: SPLIT_BATCH,
              worker: 'split',
              leaseMs: 60_000,
              fair: false,
              tenantCursor: null,
            });
            for (const row of claimed) held.push({ id: String(row.id), fence: String(row.fence) });
          }
        },
      ],
      [
        'complete',
        async () => {
          for (let offset = 0; offset < held.length; offset += SPLIT_BATCH) {
            const outcomes = held.slice(offset, offset + SPLIT_BATCH).map((lease) => ({
              ...lease,
              hasDependents: false,
              result: { ok: true as const, outputJson: 'null' },
            }));
            await recordOutcomes(queue, outcomes, 'split');
          }
        },
      ],
    ];
    for (const [name, step] of steps) {
      const serverBefore = processCpuMs(pid);
      const nodeBefore = process.cpuUsage();
      await step();
      const nodeCpu = process.cpuUsage(nodeBefore);
      const serverAfter = processCpuMs(pid);
      const server =
        serverBefore === null || serverAfter === null
          ? 'n/a'
          : (((serverAfter - serverBefore) * 1000) / JOBS).toFixed(0);
      const node = ((nodeCpu.user + nodeCpu.system) / JOBS).toFixed(0);
      rows.push(`| ${prepare ? 'named' : 'unnamed'} | ${name} | ${server} | ${node} |`);
    }
    await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await pool.end();
  }
  return rows;
}

/** Single enqueues, `inFlight` concurrent callers until SINGLES are in: enqueues per second. */
async function singles(backend: Backend, inFlight: number): Promise<number> {
  const schema = `bench_jobq_singles_${inFlight}_${Date.now().toString(36)}`;
  const queue = new JobQueue({ sql: backend.sql, schema });
  await queue.migrate();
  let submitted = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (submitted < SINGLES) {
        submitted += 1;
        await queue.enqueue('bench', { n: submitted });
      }
    }),
  );
  const perS = (SINGLES * 1000) / (performance.now() - started);
  await backend.dropSchema(schema);
  return perS;
}

const backends: Backend[] = [];
if (BACKENDS.has('postgres')) {
  if (process.env.DATABASE_URL) backends.push(await postgres(process.env.DATABASE_URL));
  else console.warn('DATABASE_URL is not set: Postgres skipped');
}
if (BACKENDS.has('pglite')) backends.push(await pglite());

console.log(`jobs per run ${JOBS}, Worker concurrency ${CONCURRENCY}, bulk batches of ${BATCH}`);
console.log(
  '| backend | workers | jobs/s | add-to-start p50 ms | p99 ms | CPU ms per 1k jobs: node | Postgres |',
);
console.log('|---|---|---|---|---|---|---|');
const fairnessRows: string[] = [];
const singleRows: string[] = [];
for (const backend of backends) {
  for (const workerCount of PARTS.has('throughput') ? WORKER_COUNTS : []) {
    const run = await throughput(backend, workerCount);
    const { p50, p99 } = PARTS.has('latency')
      ? await latency(backend, workerCount)
      : { p50: Number.NaN, p99: Number.NaN };
    const databaseCpu =
      backend.name === 'pglite' ? '(in node)' : (run.databaseCpuMsPerKJob?.toFixed(0) ?? 'n/a');
    console.log(
      `| ${backend.name} | ${workerCount} | ${Math.round(run.jobsPerS)} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${run.nodeCpuMsPerKJob.toFixed(0)} | ${databaseCpu} |`,
    );
  }
  for (const inFlight of PARTS.has('singles') ? SINGLES_IN_FLIGHT : []) {
    singleRows.push(`| ${backend.name} | ${inFlight} | ${Math.round(await singles(backend, inFlight))} |`);
  }
  for (const fairTenants of PARTS.has('fairness') ? [true, false] : []) {
    const { p50, p99 } = await fairness(backend, fairTenants);
    fairnessRows.push(
      `| ${backend.name} | ${fairTenants ? 'round-robin' : 'FIFO'} | ${p50.toFixed(1)} | ${p99.toFixed(1)} |`,
    );
  }
  await backend.close();
}
console.log(
  `\nsmall tenant's wait (enqueue to start): ${SMALL_TENANT_JOBS} jobs, one every ${SMALL_TENANT_GAP_MS} ms, behind a flood of ${FLOOD}; one Worker of concurrency ${CONCURRENCY}`,
);
console.log('| backend | claims | p50 ms | p99 ms |');
console.log('|---|---|---|---|');
for (const row of fairnessRows) console.log(row);
if (PARTS.has('split') && process.env.DATABASE_URL && BACKENDS.has('postgres')) {
  const rows = await split(process.env.DATABASE_URL);
  console.log(
    `\nCPU µs per job of each step on one connection (${JOBS} jobs; claims and completions in batches of ${SPLIT_BATCH})`,
  );
  console.log('| statements | step | Postgres µs/job | node µs/job |');
  console.log('|---|---|---|---|');
  for (const row of rows) console.log(row);
}
console.log(`\nsingle enqueues: ${SINGLES} enqueue() calls, no workers`);
console.log('| backend | callers in flight | enqueues/s |');
console.log('|---|---|---|');
for (const row of singleRows) console.log(row);
