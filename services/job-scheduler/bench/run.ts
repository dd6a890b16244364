import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  createLogger,
  EmbeddedPostgres,
  loadConfig,
  type ServiceApp,
  TokenAuthority,
} from '@sysdesign/platform';
import pg from 'pg';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/**
 * `pnpm --filter @sysdesign/job-scheduler bench`: jobs/s end to end through the service's HTTP
 * API (submit -> complete, no-op work) with 1, 4 and 16 workers, pulled over HTTP and pushed by
 * the scheduler, beside a bare node:http baseline doing the same number of round trips in the
 * same run; then add-to-start latency (submit -> the worker sees the job) for each mode. Postgres
 * when DATABASE_URL is set, else PGlite. Writes load-tests/results/job-scheduler.md.
 */

const JOBS = Number(process.env.BENCH_JOBS ?? 1_000);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 100);
const SUBMITTERS = 16;
const SECRET = 'bench-secret-of-at-least-thirty-two-bytes!';
const RESULTS = fileURLToPath(new URL('../../../load-tests/results/job-scheduler.md', import.meta.url));

let headers: Record<string, string>;
let base: string;

async function post(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json().catch(() => null) };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Submits `count` jobs to `queue`, SUBMITTERS at a time. */
async function submitAll(queue: string, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async () => {
      while (next < count) {
        next += 1;
        const answer = await post('/v1/jobs', { queue, payload: { at: Date.now() } });
        if (answer.status !== 201) throw new Error(`submit: ${answer.status} ${JSON.stringify(answer.json)}`);
      }
    }),
  );
}

/** W pull loops: lease a batch, complete each; stop after `count` completions. */
async function pullWorkers(queue: string, workers: number, count: number, seen?: (payload: unknown) => void) {
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, index) => {
      while (done < count) {
        const leased = await post(`/v1/queues/${queue}/lease`, {
          limit: 8,
          leaseMs: 30_000,
          worker: `w${index}`,
        });
        const jobs = (leased.json as { jobs: { id: string; fence: string; payload: unknown }[] }).jobs;
        if (jobs.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          continue;
        }
        for (const job of jobs) {
          seen?.(job.payload);
          const answer = await post(`/v1/jobs/${job.id}/complete`, { fence: job.fence, output: null });
          if (answer.status !== 200) throw new Error(`complete: ${answer.status}`);
          done += 1;
        }
      }
    }),
  );
}

/** A push worker: answers 200 at once, and tells `onJob` what it saw. */
async function pushWorker(onJob: (payload: unknown) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      onJob((JSON.parse(body) as { payload: unknown }).payload);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('null');
    });
  });
  return { server, port: await listen(server) };
}

/** The same number of round trips a job costs a pull worker (submit, lease, complete) against a bare server. */
async function baselineMs(roundTrips: number, concurrency: number): Promise<number> {
  const server = createServer((_request, response) => {
    _request.resume();
    _request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"ok":true}');
    });
  });
  const port = await listen(server);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < roundTrips) {
        next += 1;
        const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers, body: '{}' });
        await response.json();
      }
    }),
  );
  const elapsed = performance.now() - started;
  await new Promise((resolve) => server.close(resolve));
  return elapsed;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function addToStart(
  queue: string,
  startWorkers: () => Promise<void>,
  collected: number[],
): Promise<string> {
  const running = startWorkers();
  for (let index = 0; index < LATENCY_SAMPLES; index += 1) {
    await post('/v1/jobs', { queue, payload: { at: Date.now() } });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await running;
  const sorted = [...collected].sort((a, b) => a - b);
  return `${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)}`;
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  const embedded = databaseUrl ? undefined : await EmbeddedPostgres.open('memory');
  const suffix = `${process.pid}`;
  const serviceSchema = `jobsched_bench_svc_${suffix}`;
  const config = loadConfig(configSchema, {
    LOG_LEVEL: 'warn',
    PGLITE_DIR: 'memory',
    AUTH_SECRET: SECRET,
    DATA_DIR: `/tmp/job-scheduler-bench-${suffix}`,
    BUILTIN_WORKERS_ENABLED: 'false',
    CRON_ENABLED: 'false',
    CALLBACK_ALLOWLIST: '127.0.0.1',
    CALLBACK_ALLOW_PRIVATE: 'true',
    PUSH_SYNC_MS: '100',
    QUEUES: Array.from({ length: 8 }, (_, index) => `q${index}`).join(','),
    JOB_QUEUE_SCHEMA: `jobsched_bench_${suffix}`,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const app: ServiceApp = await buildService(config, {
    logger: createLogger('warn'),
    sqlSchema: serviceSchema,
    ...(embedded ? { embedded } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const token = await new TokenAuthority({ secret: SECRET }).issue('bench', {
    ttlSeconds: 3_600,
    scopes: ['jobs:write', 'jobs:work'],
  });
  headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const rows: string[] = [];
  let queueIndex = 0;
  try {
    for (const workers of [1, 4, 16]) {
      const baseline = baselineMs(JOBS * 3, SUBMITTERS + workers).then((ms) => (JOBS * 1000) / ms);
      const baselineJobsPerSecond = await baseline;

      const pullQueue = `q${queueIndex++}`;
      let started = performance.now();
      await Promise.all([submitAll(pullQueue, JOBS), pullWorkers(pullQueue, workers, JOBS)]);
      const pull = (JOBS * 1000) / (performance.now() - started);

      const pushQueue = `q${queueIndex++}`;
      let pushed = 0;
      let finish: () => void = () => undefined;
      const allPushed = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const target = await pushWorker(() => {
        pushed += 1;
        if (pushed === JOBS) finish();
      });
      const registered = await post('/v1/workers', {
        queue: pushQueue,
        url: `http://127.0.0.1:${target.port}/`,
        concurrency: workers,
      });
      started = performance.now();
      await Promise.all([submitAll(pushQueue, JOBS), allPushed]);
      const push = (JOBS * 1000) / (performance.now() - started);
      await fetch(`${base}/v1/workers/${(registered.json as { id: string }).id}`, {
        method: 'DELETE',
        headers,
      });
      await new Promise((resolve) => target.server.close(resolve));
      rows.push(
        `| ${workers} | ${pull.toFixed(0)} | ${push.toFixed(0)} | ${baselineJobsPerSecond.toFixed(0)} | ${(pull / baselineJobsPerSecond).toFixed(2)} | ${(push / baselineJobsPerSecond).toFixed(2)} |`,
      );
      console.log(rows.at(-1));
    }

    const pullLatencies: number[] = [];
    const pullQueue = `q${queueIndex++}`;
    const pullLine = await addToStart(
      pullQueue,
      () =>
        pullWorkers(pullQueue, 1, LATENCY_SAMPLES, (payload) =>
          pullLatencies.push(Date.now() - (payload as { at: number }).at),
        ),
      pullLatencies,
    );
    const pushLatencies: number[] = [];
    const pushQueue = `q${queueIndex++}`;
    let finishPush: () => void = () => undefined;
    const pushDone = new Promise<void>((resolve) => {
      finishPush = resolve;
    });
    const target = await pushWorker((payload) => {
      pushLatencies.push(Date.now() - (payload as { at: number }).at);
      if (pushLatencies.length === LATENCY_SAMPLES) finishPush();
    });
    await post('/v1/workers', { queue: pushQueue, url: `http://127.0.0.1:${target.port}/`, concurrency: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pushLine = await addToStart(pushQueue, () => pushDone, pushLatencies);
    await new Promise((resolve) => target.server.close(resolve));

    const markdown = [
      '# job-scheduler',
      '',
      `Backend: ${databaseUrl ? 'Postgres' : 'PGlite'}; ${JOBS} no-op jobs per cell, submitted over HTTP by ${SUBMITTERS} clients while the workers drain them; jobs/s = jobs / (first submit to last completion). Baseline: the same number of HTTP round trips a pulled job costs (submit, lease share, complete: 3) against a bare node:http server, same client, same run.`,
      '',
      '| workers | pull over HTTP jobs/s | push jobs/s | bare HTTP baseline jobs/s | pull / baseline | push / baseline |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      `Add-to-start (submit answered -> the worker sees the job), ${LATENCY_SAMPLES} single submits at 50/s to idle workers:`,
      '',
      '| mode | p50 ms | p99 ms |',
      '|---|---|---|',
      `| pull (one worker, lease polled every 10 ms when empty) | ${pullLine} |`,
      `| push (one worker, concurrency 1) | ${pushLine} |`,
      '',
    ].join('\n');
    process.stdout.write(markdown);
    await mkdir(fileURLToPath(new URL('.', `file://${RESULTS}`)), { recursive: true });
    await writeFile(RESULTS, markdown);
  } finally {
    if (databaseUrl) {
      // The run's two schemas on a shared server go with it.
      const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
      await pool.query(`DROP SCHEMA IF EXISTS ${config.JOB_QUEUE_SCHEMA} CASCADE`);
      await pool.query(`DROP SCHEMA IF EXISTS ${serviceSchema} CASCADE`);
      await pool.end();
    }
    await app.close();
    await embedded?.close();
  }
}

await main();
