/**
 * `@sysdesign/job-queue` against what a user would install instead: BullMQ on Redis (the run's private
 * redis-server), pg-boss and graphile-worker on Postgres (a database of the run's own on DATABASE_URL's
 * server, created here and dropped at the end; each contender in its own schema, each with a pool of
 * POOL_SIZE connections). No-op handlers, 50 jobs at once per contender (DECISIONS), same process for
 * producer and workers. Three measurements: jobs/s end to end with the backlog kept topped up, the
 * add-to-start latency of single adds offered at a fixed rate, and a correctness pass in which every job
 * added must run exactly once.
 */
import { randomBytes } from 'node:crypto';
import { JobQueue, pgPoolSql, Worker as QueueWorker } from '@sysdesign/job-queue';
import { Worker as BullWorker, Queue } from 'bullmq';
import { makeWorkerUtils, run as runGraphile } from 'graphile-worker';
import pg from 'pg';
import PgBoss from 'pg-boss';
import type { PeerContext, PeerDesign, PeerDesignResult, PeerTable } from '../design.js';
import { alternateRounds, formatMs, formatRatio, formatSpread, spreadOf } from '../rounds.js';

const CONCURRENCY = 50;
const POOL_SIZE = 10;
/** The producer tops the backlog up to this many jobs, in batches of ADD_BATCH. */
const BACKLOG_TARGET = 2_000;
const ADD_BATCH = 200;
const WARMUP_MS = 500;
const LATENCY_RATE_PER_SECOND = 500;
const DRAIN_TIMEOUT_MS = 60_000;
const OURS = 'ours @sysdesign/job-queue (Postgres)';
const BULLMQ = 'BullMQ (Redis)';
const GRAPHILE = 'graphile-worker, batched (Postgres)';
const PGBOSS = 'pg-boss (Postgres)';

interface JobPayload {
  seq: number;
  /** performance.now() when it was added: producer and workers share the process. */
  sentAt: number;
}

/** What a contender's handler reports for each run of a job. */
type OnRun = (payload: JobPayload) => void;

interface Instance {
  /** Adds jobs in one call (each peer's bulk insert). */
  addMany(payloads: readonly JobPayload[]): Promise<void>;
  addOne(payload: JobPayload): Promise<void>;
  /** Stops the workers (jobs left are dropped by `clear`). */
  close(): Promise<void>;
}

interface Contender {
  name: string;
  /** A fresh queue (or task) named `queue`, with CONCURRENCY jobs at once calling `onRun`. */
  start(queue: string, onRun: OnRun): Promise<Instance>;
  /** Deletes every job of every queue this contender made. */
  clear(): Promise<void>;
  shutdown(): Promise<void>;
}

interface Backends {
  redisUrl: string;
  /** The run's own database. */
  databaseUrl: string;
}

function ours(backends: Backends): Contender {
  const pool = new pg.Pool({ connectionString: backends.databaseUrl, max: POOL_SIZE });
  pool.on('error', () => undefined);
  const queue = new JobQueue({ sql: pgPoolSql(pool), schema: 'job_queue' });
  let migrated: Promise<unknown> | undefined;
  return {
    name: OURS,
    async start(name, onRun) {
      migrated ??= queue.migrate();
      await migrated;
      const worker = await new QueueWorker<JobPayload>(queue, name, (job) => onRun(job.payload), {
        concurrency: CONCURRENCY,
      }).start();
      return {
        addMany: async (payloads) => {
          await queue.enqueueMany(payloads.map((payload) => ({ queue: name, payload })));
        },
        addOne: async (payload) => {
          await queue.enqueue(name, payload);
        },
        close: () => worker.close({ graceMs: 1_000 }),
      };
    },
    async clear() {
      await pool.query('TRUNCATE job_queue.jobs CASCADE');
    },
    shutdown: () => pool.end(),
  };
}

function redisConnection(url: string): { host: string; port: number; maxRetriesPerRequest: null } {
  const parsed = new URL(url);
  // BullMQ's workers block on Redis and require ioredis's maxRetriesPerRequest: null.
  return { host: parsed.hostname, port: Number(parsed.port || 6379), maxRetriesPerRequest: null };
}

function bullmq(backends: Backends): Contender {
  const connection = redisConnection(backends.redisUrl);
  const queues: Queue[] = [];
  return {
    name: BULLMQ,
    async start(name, onRun) {
      const queue = new Queue<JobPayload>(name, {
        connection,
        // What a production user sets: finished jobs are not kept in Redis's memory.
        defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
      });
      queues.push(queue);
      const worker = new BullWorker<JobPayload>(name, async (job) => onRun(job.data), {
        connection,
        concurrency: CONCURRENCY,
      });
      await worker.waitUntilReady();
      return {
        addMany: async (payloads) => {
          await queue.addBulk(payloads.map((payload) => ({ name: 'noop', data: payload })));
        },
        addOne: async (payload) => {
          await queue.add('noop', payload);
        },
        close: () => worker.close(true),
      };
    },
    async clear() {
      for (const queue of queues.splice(0)) {
        await queue.obliterate({ force: true });
        await queue.close();
      }
    },
    async shutdown() {
      await this.clear();
    },
  };
}

function graphile(backends: Backends): Contender {
  const pool = new pg.Pool({ connectionString: backends.databaseUrl, max: POOL_SIZE });
  pool.on('error', () => undefined);
  // graphile-worker checks that a pool it is given handles its clients' errors too.
  pool.on('connect', (client) => client.on('error', () => undefined));
  let utils: Awaited<ReturnType<typeof makeWorkerUtils>> | undefined;
  return {
    name: GRAPHILE,
    async start(name, onRun) {
      const runner = await runGraphile({
        pgPool: pool,
        concurrency: CONCURRENCY,
        noHandleSignals: true,
        pollInterval: 2_000,
        taskList: { [name]: async (payload) => onRun(payload as JobPayload) },
        logger: silentGraphileLogger,
        // Its documented throughput settings: jobs fetched in batches into a local queue, completions
        // written in batches (https://worker.graphile.org/docs/performance).
        preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      });
      utils ??= await makeWorkerUtils({ pgPool: pool, logger: silentGraphileLogger });
      const workerUtils = utils;
      return {
        addMany: async (payloads) => {
          await workerUtils.addJobs(payloads.map((payload) => ({ identifier: name, payload })));
        },
        addOne: async (payload) => {
          await workerUtils.addJob(name, payload);
        },
        close: () => runner.stop(),
      };
    },
    async clear() {
      await pool.query('DELETE FROM graphile_worker._private_jobs');
    },
    async shutdown() {
      try {
        await utils?.release();
      } finally {
        await pool.end();
      }
    },
  };
}

function pgBoss(backends: Backends): Contender {
  const boss = new PgBoss({ connectionString: backends.databaseUrl, max: POOL_SIZE, schema: 'pgboss' });
  boss.on('error', () => undefined);
  let started: Promise<unknown> | undefined;
  return {
    name: PGBOSS,
    async start(name, onRun) {
      started ??= boss.start();
      await started;
      await boss.createQueue(name);
      // One fetch loop of CONCURRENCY jobs at a time, polling at its minimum interval (0.5 s): the
      // fastest pg-boss 10 takes jobs at 50 in flight. Its handler receives the batch.
      const workerId = await boss.work<JobPayload>(
        name,
        { batchSize: CONCURRENCY, pollingIntervalSeconds: 0.5 },
        async (jobs) => {
          for (const job of jobs) onRun(job.data);
        },
      );
      return {
        addMany: async (payloads) => {
          await boss.insert(payloads.map((payload) => ({ name, data: payload })));
        },
        addOne: async (payload) => {
          await boss.send(name, payload);
        },
        close: () => boss.offWork({ id: workerId }),
      };
    },
    async clear() {
      await boss.getDb().executeSql('TRUNCATE pgboss.job', []);
    },
    shutdown: () => boss.stop({ graceful: false, wait: true }),
  };
}

const silentGraphileLogger = new (class {
  scope() {
    return this;
  }
  debug() {}
  info() {}
  warn() {}
  error() {}
})() as unknown as NonNullable<Parameters<typeof runGraphile>[0]['logger']>;

interface Throughput {
  perSecond: number;
  cpuMsPerThousand: number;
  /** Jobs added and not yet run when the clock stopped. */
  backlog: number;
  duplicates: number;
}

/** Jobs/s with the backlog kept topped up by bulk adds, over `durationMs` after a warm-up. */
async function throughput(contender: Contender, queue: string, durationMs: number): Promise<Throughput> {
  const runs = new Map<number, number>();
  let completed = 0;
  const instance = await contender.start(queue, (payload) => {
    runs.set(payload.seq, (runs.get(payload.seq) ?? 0) + 1);
    completed += 1;
  });
  // One job through first: a worker that is still loading its scripts or opening connections is
  // not what the sample measures.
  await instance.addMany([{ seq: 0, sentAt: performance.now() }]);
  await waitUntil(() => completed > 0, DRAIN_TIMEOUT_MS);
  let added = 1;
  const startedAt = performance.now();
  const measureFrom = startedAt + WARMUP_MS;
  const deadline = measureFrom + durationMs;
  let completedAtStart = -1;
  let cpuBefore = process.cpuUsage();
  while (performance.now() < deadline) {
    if (completedAtStart < 0 && performance.now() >= measureFrom) {
      completedAtStart = completed;
      cpuBefore = process.cpuUsage();
    }
    if (added - completed < BACKLOG_TARGET) {
      const batch = Array.from({ length: ADD_BATCH }, (_, index) => ({
        seq: added + index,
        sentAt: performance.now(),
      }));
      added += ADD_BATCH;
      await instance.addMany(batch);
    } else {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
  const elapsedMs = performance.now() - measureFrom;
  const done = completed - Math.max(0, completedAtStart);
  const cpu = process.cpuUsage(cpuBefore);
  const backlog = added - completed;
  await instance.close();
  await contender.clear();
  let duplicates = 0;
  for (const count of runs.values()) if (count > 1) duplicates += count - 1;
  return {
    perSecond: done / (elapsedMs / 1_000),
    cpuMsPerThousand: done > 0 ? (cpu.user + cpu.system) / 1_000 / (done / 1_000) : Number.NaN,
    backlog,
    duplicates,
  };
}

interface Latency {
  p50: number;
  p99: number;
}

/** Single adds offered at LATENCY_RATE_PER_SECOND (open loop); add-to-start of each job. */
async function latency(contender: Contender, queue: string, jobs: number): Promise<Latency> {
  const waits: number[] = [];
  const instance = await contender.start(queue, (payload) => {
    waits.push(performance.now() - payload.sentAt);
  });
  const gapMs = 1_000 / LATENCY_RATE_PER_SECOND;
  const startedAt = performance.now();
  const adds: Promise<void>[] = [];
  for (let seq = 0; seq < jobs; seq += 1) {
    const dueAt = startedAt + seq * gapMs;
    const waitMs = dueAt - performance.now();
    if (waitMs > 1) await new Promise((resolve) => setTimeout(resolve, waitMs));
    adds.push(instance.addOne({ seq, sentAt: performance.now() }));
  }
  await Promise.all(adds);
  await waitUntil(() => waits.length >= jobs, DRAIN_TIMEOUT_MS);
  await instance.close();
  await contender.clear();
  const sorted = [...waits].sort((left, right) => left - right);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

interface Correctness {
  ranOnce: number;
  missing: number;
  duplicates: number;
}

/** Adds `jobs` in bulk and waits for them: each must run exactly once. */
async function correctness(contender: Contender, queue: string, jobs: number): Promise<Correctness> {
  const runs = new Map<number, number>();
  const instance = await contender.start(queue, (payload) => {
    runs.set(payload.seq, (runs.get(payload.seq) ?? 0) + 1);
  });
  for (let first = 0; first < jobs; first += ADD_BATCH) {
    const size = Math.min(ADD_BATCH, jobs - first);
    await instance.addMany(
      Array.from({ length: size }, (_, index) => ({ seq: first + index, sentAt: performance.now() })),
    );
  }
  await waitUntil(() => runs.size >= jobs, DRAIN_TIMEOUT_MS);
  // Long enough for a duplicate delivery of the last jobs to show up.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await instance.close();
  await contender.clear();
  let duplicates = 0;
  for (const count of runs.values()) if (count > 1) duplicates += count - 1;
  return {
    ranOnce: [...runs.values()].filter((count) => count === 1).length,
    missing: jobs - runs.size,
    duplicates,
  };
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A database of the run's own on DATABASE_URL's server, dropped when `body` ends. */
async function withRunDatabase<Result>(
  log: (line: string) => void,
  body: (url: string) => Promise<Result>,
): Promise<Result> {
  const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('job-queue peers need Postgres: set DATABASE_URL (or BENCH_DATABASE_URL)');
  const name = `peers_jobq_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    log(`database ${name} created`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    try {
      return await body(url.toString());
    } finally {
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      log(`database ${name} dropped`);
    }
  } finally {
    await admin.end();
  }
}

function queueName(contender: number, phase: string, round: number): string {
  return `peers_${phase}_${contender}_${round}`;
}

async function run(context: PeerContext): Promise<PeerDesignResult> {
  const redisUrl = context.redisUrl;
  if (redisUrl === undefined) throw new Error('job-queue peers need a Redis for BullMQ');
  const durationMs = context.smoke ? 500 : 5_000;
  const latencyJobs = context.smoke ? 50 : 1_000;
  const correctnessJobs = context.smoke ? 200 : 5_000;
  return withRunDatabase(context.log, async (databaseUrl) => {
    const backends = { redisUrl, databaseUrl };
    const contenders = [ours(backends), bullmq(backends), graphile(backends), pgBoss(backends)];
    const byName = new Map(contenders.map((contender, index) => [contender.name, { contender, index }]));
    const names = contenders.map((contender) => contender.name);
    try {
      // Warm: schemas migrated, connections open, JIT compiled.
      for (const [index, contender] of contenders.entries())
        await throughput(contender, queueName(index, 'warm', 0), 200);
      const details = new Map<string, Throughput[]>(names.map((name) => [name, []]));
      const rates = await alternateRounds(
        names,
        context.rounds,
        async (name, round) => {
          const { contender, index } = byName.get(name)!;
          const result = await throughput(contender, queueName(index, 'rate', round), durationMs);
          details.get(name)!.push(result);
          return result.perSecond;
        },
        context.log,
      );
      const p99s = new Map<string, number[]>(names.map((name) => [name, []]));
      const p50s = await alternateRounds(
        names,
        context.rounds,
        async (name, round) => {
          const { contender, index } = byName.get(name)!;
          const result = await latency(contender, queueName(index, 'latency', round), latencyJobs);
          p99s.get(name)!.push(result.p99);
          return result.p50;
        },
        context.log,
        (value) => `p50 ${formatMs(value)} ms`,
      );
      const checks = new Map<string, Correctness>();
      for (const [index, contender] of contenders.entries()) {
        checks.set(
          contender.name,
          await correctness(contender, queueName(index, 'check', 0), correctnessJobs),
        );
      }
      return report(context, {
        names,
        rates,
        details,
        p50s,
        p99s,
        checks,
        durationMs,
        latencyJobs,
        correctnessJobs,
      });
    } finally {
      for (const contender of contenders) await contender.shutdown().catch(() => undefined);
    }
  });
}

function report(
  context: PeerContext,
  measured: {
    names: string[];
    rates: Map<string, ReturnType<typeof spreadOf>>;
    details: Map<string, Throughput[]>;
    p50s: Map<string, ReturnType<typeof spreadOf>>;
    p99s: Map<string, number[]>;
    checks: Map<string, Correctness>;
    durationMs: number;
    latencyJobs: number;
    correctnessJobs: number;
  },
): PeerDesignResult {
  const ourRate = measured.rates.get(OURS)!.median;
  const speed: PeerTable = {
    title: 'Jobs per second end to end, no-op handlers, 50 at once',
    intro: `Each sample: ${measured.durationMs / 1_000} s after a ${WARMUP_MS} ms warm-up, the producer keeping ${BACKLOG_TARGET.toLocaleString('en-US')} jobs queued with bulk adds of ${ADD_BATCH}. **ours ÷ this**: our median over this contender's (above 1.00 ours is faster). **node CPU**: this process's CPU time (producer, client library and workers) per 1,000 jobs run; the database's or Redis's own CPU is not in it.`,
    header: [
      'contender',
      'jobs/s',
      'ours ÷ this',
      'node CPU ms per 1,000 jobs',
      'backlog at the end',
      'run twice',
    ],
    rows: measured.names.map((name) => {
      const samples = measured.details.get(name)!;
      return [
        name,
        formatSpread(measured.rates.get(name)!),
        name === OURS ? '-' : formatRatio(ourRate, measured.rates.get(name)!.median),
        formatSpread(spreadOf(samples.map((sample) => sample.cpuMsPerThousand)), (value) => value.toFixed(0)),
        samples.map((sample) => sample.backlog.toLocaleString('en-US')).join(', '),
        String(samples.reduce((sum, sample) => sum + sample.duplicates, 0)),
      ];
    }),
  };
  const latencyTable: PeerTable = {
    title: `Add-to-start latency at ${LATENCY_RATE_PER_SECOND} jobs/s offered`,
    intro: `${measured.latencyJobs.toLocaleString('en-US')} single adds (no bulk) per sample, one every ${1_000 / LATENCY_RATE_PER_SECOND} ms whatever the answers (open loop); the time from the add call to the handler's start. A contender slower than the offered rate builds a backlog, and its latency is the backlog's.`,
    header: ['contender', 'p50 ms', 'p99 ms'],
    rows: measured.names.map((name) => [
      name,
      formatSpread(measured.p50s.get(name)!, formatMs),
      formatSpread(spreadOf(measured.p99s.get(name)!), formatMs),
    ]),
  };
  const correctnessTable: PeerTable = {
    title: 'Correctness: every job added runs exactly once',
    intro: `${measured.correctnessJobs.toLocaleString('en-US')} jobs added in bulk, then waited for (up to ${DRAIN_TIMEOUT_MS / 1_000} s) and 0.5 s more for late duplicates.`,
    header: ['contender', 'ran once', 'missing', 'run twice'],
    rows: measured.names.map((name) => {
      const check = measured.checks.get(name)!;
      return [name, String(check.ranOnce), String(check.missing), String(check.duplicates)];
    }),
  };
  return {
    settings: [
      `BullMQ on a private redis-server (no persistence: its writes are not durable, Postgres commits are); the Postgres contenders in a database of the run's own on ${context.smoke ? 'the test' : 'the shared'} server (fsync on), each in its own schema with a pool of ${POOL_SIZE} connections (BullMQ: its own ioredis connections).`,
      `Concurrency ${CONCURRENCY} for every contender. Ours: one \`Worker\` with concurrency 50 (prefetch 50, defaults otherwise). BullMQ: one \`Worker\` with concurrency 50, \`removeOnComplete\`. graphile-worker: \`run()\` with concurrency 50, \`localQueue.size\` 500 and \`completeJobBatchDelay\` 0 (its documented batching). pg-boss: one \`work()\` with \`batchSize\` 50 at its minimum \`pollingIntervalSeconds\`, 0.5.`,
      'Producer and workers in this one process, contenders one after another, the order rotated each round; finished jobs deleted between samples so every sample starts on an empty table.',
    ],
    tables: [speed, latencyTable, correctnessTable],
  };
}

export const jobQueuePeers: PeerDesign = {
  name: 'job-queue',
  peers: ['bullmq', 'graphile-worker', 'pg-boss'],
  needsRedis: true,
  run,
  findings: [
    "graphile-worker (batched) is faster than ours end to end, and the difference is in Postgres, not in Node: a CPU profile of our bench process with only ours running shows it 68 % idle, waiting for replies (socket writes 5 %, row parsing and date parsing about 2 %), so the database's work per job sets the pace. Counted from `pg_stat_database` of the run's database over one sample: ours writes 2.95 rows per job (the job, and two history rows: claimed, finished) and updates the job row twice (claim, completion), with about 64 buffer hits per job; graphile-worker inserts the job, updates it once (its lock) and deletes it on completion (0.9 / 1.0 / 1.0 per job), with about 30 buffer hits. Both commit in batches (ours about 20 jobs per commit, graphile-worker about 50).",
    "Why ours does more: the history rows are the job's timeline the dashboard and `history()` show (graphile-worker keeps none, and deletes a finished job), and each state change rewrites the row and adds entries to its indexes: the columns a claim and a completion change (`state`, `lease_expires_at`, `run_at`) are keys or predicates of four of the table's indexes (claim, fair claim, leases, queue and state), so no update is HOT and each one writes new entries into every index of the table. graphile-worker fetches up to `localQueue.size` (500) jobs per statement where ours claims at most concurrency + prefetch (100). What to try, one change at a time, for #23's gap work: larger claims into the buffer, a history row only for attempts that did not succeed at once (or history in one row per job), and fewer indexes that carry `state`.",
    "Node's side: ours spends about 2.5x graphile-worker's CPU per job in this process (full job rows with six timestamps parsed into Dates on every claim, an AbortController and a timeout timer per job, JSON inputs built for each batched statement). It is not what bounds the rate here, but on a machine where Postgres has cores of its own it will be: returning only the columns a handler needs from the claim is the first thing to measure.",
    "BullMQ: Redis's own CPU per job, from INFO cpu on the private server, is about 0.1 ms (a no-op job runs some 2.5 scripts: add, move to active, move to finished, each with several HMSETs, XADDs to the events stream and ZADDs), so one Redis core tops out near 10,000 jobs/s, near the 8.4k/s #23 quotes from a quieter machine. On this machine, with the load average at 14-18 on two cores, the single-threaded Redis gets a small share of a core and BullMQ runs below ours: a ratio above 1.00 against BullMQ here says more about the machine than about the designs; re-run on a quiet machine before quoting it. BullMQ also kept finished jobs out of Redis (`removeOnComplete`) and had no persistence (AOF off), so it did less durable work per job than the Postgres contenders.",
    'pg-boss 10 is bound by its poll: a `work()` loop fetches one batch, runs it, and waits for `pollingIntervalSeconds` (at least 0.5 s) before the next fetch unless a `send` in the same process notifies it, so 50 at once gives at most 100 jobs/s however fast the database is. More `work()` loops or a larger batch raise that bound; both run more than 50 jobs at once.',
    "Add-to-start at 500 jobs/s offered: none of the Postgres contenders keeps up with single adds, so their latency is the backlog's. For ours the cause is the NOTIFY in the enqueue: a transaction that notifies takes PostgreSQL's one notification-queue lock at commit and holds it through the commit's WAL flush, so notifying commits across the whole server go one at a time (no group commit) and a single add costs a full flush. Measured on the shared server, 10 in flight, in one sitting: single-row INSERTs 576/s; the same INSERT with pg_notify in the same statement 247/s; the INSERT then pg_notify as a statement of its own 645/s. Ours did 119-172 single enqueues/s. graphile-worker notifies from an insert trigger, the same way. Sending the wake-up after the commit, in its own statement, removes the cap at the price of a wake-up lost if the process dies between the two (the job then waits for the other workers' safety poll): a change for the library (#23's gap work), measured here first. BullMQ's add is one script with no flush.",
  ],
};
