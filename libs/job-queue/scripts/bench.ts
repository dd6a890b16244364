/**
 * End-to-end throughput and add-to-start latency of the queue with no-op handlers, on Postgres
 * (DATABASE_URL) and on an in-memory PGlite.
 *
 *   pnpm --filter @sysdesign/job-queue bench            # full run
 *   JOBQ_BENCH_JOBS=2000 JOBQ_BENCH_WORKERS=1,4 JOBQ_BENCH_CONCURRENCY=50 JOBQ_BENCH_PARTS=throughput \
 *     pnpm --filter @sysdesign/job-queue bench
 *
 * Throughput: a producer submits JOBS jobs in bulk batches of 500 while W workers (each a Worker
 * with concurrency C) run them; jobs/s is JOBS over the time from the first submit to the last
 * completion. Latency: single enqueues at a steady rate to idle workers; add-to-start is the time
 * from enqueue() being called to the handler starting. Fairness: a big tenant floods the queue
 * with FLOOD jobs at once while a small tenant submits one job every 20 ms; the small tenant's
 * wait (enqueue to start) with round-robin claims against plain FIFO claims.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { JobQueue, type JobQueueSql, pgliteSql, pgPoolSql, Worker } from '../src/index.js';

const JOBS = Number(process.env.JOBQ_BENCH_JOBS ?? 20_000);
const LATENCY_SAMPLES = Number(process.env.JOBQ_BENCH_LATENCY_SAMPLES ?? 500);
const LATENCY_RATE_PER_S = 200;
const BATCH = 500;
const WORKER_COUNTS = (process.env.JOBQ_BENCH_WORKERS ?? '1,4,16').split(',').map(Number);
const CONCURRENCY = Number(process.env.JOBQ_BENCH_CONCURRENCY ?? 8);
const FLOOD = Number(process.env.JOBQ_BENCH_FLOOD ?? 5_000);
/** `throughput`, `fairness` or both (default), comma-separated. */
const PARTS = new Set((process.env.JOBQ_BENCH_PARTS ?? 'throughput,fairness').split(','));
const SMALL_TENANT_JOBS = 50;
const SMALL_TENANT_GAP_MS = 20;

interface Backend {
  name: string;
  sql: JobQueueSql;
  dropSchema(schema: string): Promise<void>;
  close(): Promise<void>;
}

async function postgres(url: string): Promise<Backend> {
  const pool = new pg.Pool({ connectionString: url, max: 40 });
  return {
    name: 'postgres',
    sql: pgPoolSql(pool),
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
    async dropSchema(schema) {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
    close: () => db.close(),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function throughput(backend: Backend, workerCount: number): Promise<number> {
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
  const startedAt = performance.now();
  for (let offset = 0; offset < JOBS; offset += BATCH) {
    const size = Math.min(BATCH, JOBS - offset);
    await queue.enqueueMany(
      Array.from({ length: size }, (_, index) => ({ queue: 'bench', payload: { n: offset + index } })),
    );
  }
  await finished;
  const elapsedMs = performance.now() - startedAt;
  await Promise.all(workers.map((worker) => worker.close()));
  await backend.dropSchema(schema);
  return JOBS / (elapsedMs / 1000);
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

const backends: Backend[] = [];
if (process.env.DATABASE_URL) backends.push(await postgres(process.env.DATABASE_URL));
else console.warn('DATABASE_URL is not set: Postgres skipped');
backends.push(await pglite());

console.log(`jobs per run ${JOBS}, Worker concurrency ${CONCURRENCY}, bulk batches of ${BATCH}`);
console.log('| backend | workers | jobs/s | add-to-start p50 ms | p99 ms |');
console.log('|---|---|---|---|---|');
const fairnessRows: string[] = [];
for (const backend of backends) {
  for (const workerCount of PARTS.has('throughput') ? WORKER_COUNTS : []) {
    const rate = await throughput(backend, workerCount);
    const { p50, p99 } = await latency(backend, workerCount);
    console.log(
      `| ${backend.name} | ${workerCount} | ${Math.round(rate)} | ${p50.toFixed(1)} | ${p99.toFixed(1)} |`,
    );
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
