import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CronScheduler, JobQueue, type JobQueueSql, pgPoolSql, type Worker } from '@sysdesign/job-queue';
import {
  defineService,
  openServiceSql,
  resolveAuthSecret,
  type ServiceApp,
  type ServiceContext,
  type Sql,
  TokenAuthority,
} from '@sysdesign/platform';
import pg from 'pg';
import { registerApp } from './app.js';
import {
  BUILTIN_QUEUE,
  type Config,
  configSchema,
  DEFAULT_PORT,
  HTTP_CALLBACK_QUEUE,
  SERVICE_NAME,
} from './config.js';
import { HostAllowlist } from './domain/allowlist.js';
import { mapJobSchedulerError } from './errors.js';
import { createSchedulerMetrics, type SchedulerMetrics } from './metrics.js';
import { WORK_SCOPE, WRITE_SCOPE } from './routes/context.js';
import { PushWorkerStore } from './store/push-workers.js';
import { startBuiltinWorkers } from './workers/builtin.js';
import { AllowlistedHttp } from './workers/http-call.js';
import { PushDispatcher } from './workers/push-dispatcher.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
const GAUGE_REFRESH_MS = 5_000;
const WORKER_GRACE_MS = 5_000;

/** Test seams that configuration cannot express. */
export interface BuildOptions {
  /** The clock of the queue (due times, leases, cron ticks); defaults to Date.now. */
  nowMs: () => number;
  /** Names this replica's built-in workers in leases and history. */
  workerId: string;
}

/**
 * The queue's SQL port: the platform's Sql for queries and transactions, plus, on Postgres, LISTEN
 * on a connection of its own (the library shares one per client among its workers), so jobs
 * submitted through another replica wake this one's workers at once instead of at the safety
 * poll. PGlite is one process: in-process wake-ups suffice.
 */
function queueSqlOf(app: ServiceApp, config: Config, sql: Sql): JobQueueSql {
  const port: JobQueueSql = { query: (text, params) => sql.query(text, params), tx: (work) => sql.tx(work) };
  if (config.DATABASE_URL === undefined) return port;
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: 1,
    application_name: `${SERVICE_NAME}-listen`,
  });
  app.lifecycle.defer('postgres listener', () => pool.end());
  const { listen } = pgPoolSql(pool);
  return listen ? { ...port, listen } : port;
}

/** Queue depth and lag per known queue, and the lease expiries the built-in workers' reapers saw. */
function startGauges(
  app: ServiceApp,
  queue: JobQueue,
  names: readonly string[],
  workers: readonly Worker[],
  metrics: SchedulerMetrics,
): void {
  let reapedSeen = 0;
  const sample = async () => {
    for (const name of names) {
      const counts = await queue.counts(name);
      for (const [state, count] of Object.entries(counts)) metrics.depth.set({ queue: name, state }, count);
      const oldest = await queue.sql.query<{ run_at: Date | string | null }>(
        `SELECT min(run_at) AS run_at FROM ${queue.schema}.jobs
         WHERE queue = $1 AND state IN ('ready', 'scheduled', 'failed') AND run_at <= $2`,
        [name, queue.nowDate()],
      );
      const runAt = oldest.rows[0]?.run_at;
      metrics.lagSeconds.set(
        { queue: name },
        runAt ? Math.max(0, (queue.now() - new Date(runAt).getTime()) / 1000) : 0,
      );
    }
    const reaped = workers.reduce((sum, worker) => sum + worker.stats.reaped, 0);
    metrics.leaseExpiries.inc(reaped - reapedSeen);
    reapedSeen = reaped;
  };
  const timer = setInterval(() => {
    sample().catch((error: unknown) => app.log.warn({ err: error }, 'sampling queue gauges failed'));
  }, GAUGE_REFRESH_MS);
  timer.unref();
  app.lifecycle.defer('gauges', () => clearInterval(timer));
}

/** Retention: deletes finished jobs past their age on a timer (the library keeps jobs unfinished dependents read). */
function startRetention(app: ServiceApp, queue: JobQueue, config: Config): void {
  const olderThanMs = config.FINISHED_RETENTION_HOURS * 3_600_000;
  const timer = setInterval(() => {
    queue
      .purgeFinished(olderThanMs)
      .then((purged) => {
        if (purged > 0) app.log.info({ purged }, 'finished jobs past retention deleted');
      })
      .catch((error: unknown) => app.log.warn({ err: error }, 'deleting finished jobs failed'));
  }, config.PURGE_INTERVAL_MS);
  timer.unref();
  app.lifecycle.defer('retention', () => clearInterval(timer));
}

/**
 * Opens the scheduler's parts in dependency order, each closed in reverse by the app's lifecycle:
 * Sql (Postgres or PGlite) with the job queue's migrations, the cron ticker, the built-in workers
 * (demo handlers and HTTP callbacks; they also run the reaper that puts back lapsed leases), the
 * gauges, and the routes.
 */
async function setup(
  app: ServiceApp,
  config: Config,
  context: ServiceContext,
  options: Partial<BuildOptions>,
) {
  const metrics = createSchedulerMetrics(app.metrics);
  const sql = await openServiceSql(app, config, context, { migrations: [MIGRATIONS_DIR] });
  const queue = new JobQueue({
    sql: queueSqlOf(app, config, sql),
    schema: config.JOB_QUEUE_SCHEMA,
    ...(options.nowMs ? { now: options.nowMs } : {}),
    limits: { payloadBytesMax: config.PAYLOAD_BYTES_MAX, outputBytesMax: config.PAYLOAD_BYTES_MAX },
  });
  await queue.migrate();
  const cron = new CronScheduler(queue, {
    pollMs: config.CRON_POLL_MS,
    onError: (error) => app.log.warn({ err: error }, 'cron tick failed'),
  });
  if (config.CRON_ENABLED) {
    cron.start();
    app.lifecycle.defer('cron', () => cron.close());
  }
  const allowlist = new HostAllowlist({
    hosts: config.CALLBACK_ALLOWLIST,
    allowPrivate: config.CALLBACK_ALLOW_PRIVATE,
  });
  const http = new AllowlistedHttp(allowlist);
  app.lifecycle.defer('http agents', () => http.close());
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${config.PORT}`;
  const workers = config.BUILTIN_WORKERS_ENABLED
    ? await startBuiltinWorkers(
        queue,
        { builtin: BUILTIN_QUEUE, httpCallback: HTTP_CALLBACK_QUEUE },
        {
          concurrency: config.BUILTIN_CONCURRENCY,
          sleepMsMax: config.SLEEP_MS_MAX,
          http,
          callbackTimeoutMs: config.CALLBACK_TIMEOUT_MS,
          callbackResponseBytesMax: config.CALLBACK_RESPONSE_BYTES_MAX,
          workerId,
          leaseMs: config.BUILTIN_LEASE_MS,
          reapMs: config.REAP_MS,
        },
      )
    : [];
  app.lifecycle.defer('builtin workers', async () => {
    await Promise.all(workers.map((worker) => worker.close({ graceMs: WORKER_GRACE_MS })));
  });
  const store = new PushWorkerStore(sql);
  const dispatcher = new PushDispatcher({
    queue,
    store,
    http,
    heartbeatTtlMs: config.WORKER_HEARTBEAT_TTL_MS,
    syncMs: config.PUSH_SYNC_MS,
    callTimeoutMs: config.CALLBACK_TIMEOUT_MS,
    responseBytesMax: config.CALLBACK_RESPONSE_BYTES_MAX,
    workersMax: config.PUSH_WORKERS_MAX,
    replicaId: workerId,
    onError: (error) => app.log.warn({ err: error }, 'reading the push workers failed'),
  }).start();
  app.lifecycle.defer('push dispatcher', () => dispatcher.close());
  const knownQueues = new Set([...config.QUEUES, BUILTIN_QUEUE, HTTP_CALLBACK_QUEUE]);
  startGauges(app, queue, [...knownQueues], workers, metrics);
  startRetention(app, queue, config);
  const secret = await resolveAuthSecret({
    configured: config.AUTH_SECRET,
    dataDir: config.DATA_DIR,
    log: app.log,
    devScopes: [WRITE_SCOPE, WORK_SCOPE],
  });
  registerApp(
    app,
    {
      queue,
      cron,
      authority: new TokenAuthority({ secret }),
      allowlist,
      metrics,
      knownQueues,
      builtinQueue: BUILTIN_QUEUE,
      httpCallbackQueue: HTTP_CALLBACK_QUEUE,
      limits: {
        payloadBytesMax: config.PAYLOAD_BYTES_MAX,
        dagJobsMax: config.DAG_JOBS_MAX,
        schedulesMax: config.SCHEDULES_MAX,
        sleepMsMax: config.SLEEP_MS_MAX,
        leaseMsMax: config.LEASE_MS_MAX,
        leaseBatchMax: config.LEASE_BATCH_MAX,
      },
    },
    {
      store,
      dispatcher,
      workersMax: config.PUSH_WORKERS_MAX,
      heartbeatTtlMs: config.WORKER_HEARTBEAT_TTL_MS,
    },
  );
}

export const jobScheduler = defineService<typeof configSchema, BuildOptions>({
  name: SERVICE_NAME,
  description:
    'Jobs on Postgres over HTTP: submit, schedule on cron, chain into DAGs, lease to pull workers with fencing tokens, and watch them on a dashboard.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  mapError: mapJobSchedulerError,
  setup,
});

/** Builds the app from its configuration (tests pass seams); closing it closes everything it opened. */
export const buildService = jobScheduler.build;
