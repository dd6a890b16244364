import { authVars, backendVars, boolVar, intVar, serviceVars, splitList } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'job-scheduler';
export const DEFAULT_PORT = 3010;

/** The queue the in-process demo handlers (`sleep`, `echo`, `fail-n-times`) work. */
export const BUILTIN_QUEUE = 'builtin';
/** The queue whose jobs are HTTP callbacks to allowlisted hosts. */
export const HTTP_CALLBACK_QUEUE = 'http-callback';

export const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const QUEUES_MAX = 64;

/** Queues external (pull or push) workers serve; the built-in queues are always known besides. */
const queuesVar = z
  .string()
  .default('default')
  .transform(splitList)
  .refine((names) => names.length <= QUEUES_MAX, `at most ${QUEUES_MAX} queues`)
  .refine(
    (names) => names.every((name) => QUEUE_NAME.test(name)),
    'each queue is 1 to 64 of A-Z, a-z, 0-9, ".", "_" and "-", starting with a letter or digit',
  );

/** Hosts (exact names or IPs, or `*.example.com`) that HTTP callbacks and push workers may call. */
const allowlistVar = z
  .string()
  .default('')
  .transform(splitList)
  .refine((hosts) => hosts.length <= 256, 'at most 256 hosts');

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  AUTH_SECRET: authVars.AUTH_SECRET,
  /** The library's schema: shared by every service on the database, so the dashboard sees every queue. */
  JOB_QUEUE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .default('job_queue'),
  QUEUES: queuesVar,
  /** Largest JSON payload a job may carry, in bytes (the library's bound). */
  PAYLOAD_BYTES_MAX: intVar(65_536, 256, 262_144),
  /** Jobs in one DAG submission. */
  DAG_JOBS_MAX: intVar(200, 2, 1_000),
  /** Cron schedules kept at once. */
  SCHEDULES_MAX: intVar(1_000, 1, 100_000),
  /** Run the built-in demo handlers and the HTTP-callback job type in this process. */
  BUILTIN_WORKERS_ENABLED: boolVar(true),
  BUILTIN_CONCURRENCY: intVar(8, 1, 256),
  /** The built-in workers' lease (a killed replica's jobs return after it) and reaper period. */
  BUILTIN_LEASE_MS: intVar(30_000, 500, 600_000),
  REAP_MS: intVar(5_000, 100, 60_000),
  /** The longest `sleep` a demo job may ask for. */
  SLEEP_MS_MAX: intVar(60_000, 0, 3_600_000),
  /** Hosts HTTP callbacks and push workers may reach. Empty: none. */
  CALLBACK_ALLOWLIST: allowlistVar,
  /** Let allowlisted names resolve to private, loopback or link-local addresses (tests, a private network). */
  CALLBACK_ALLOW_PRIVATE: boolVar(false),
  CALLBACK_TIMEOUT_MS: intVar(10_000, 100, 300_000),
  /** Response bytes read from a callback (the rest is dropped); its head is the job's output. */
  CALLBACK_RESPONSE_BYTES_MAX: intVar(16_384, 0, 262_144),
  /** Pull leases: the longest lease a worker may ask for, and the most jobs in one lease call. */
  LEASE_MS_MAX: intVar(600_000, 1_000, 3_600_000),
  LEASE_BATCH_MAX: intVar(100, 1, 1_000),
  /** Push workers: how many may register, how long one stays live without a heartbeat, how often replicas re-read them. */
  PUSH_WORKERS_MAX: intVar(64, 0, 1_024),
  WORKER_HEARTBEAT_TTL_MS: intVar(30_000, 1_000, 600_000),
  PUSH_SYNC_MS: intVar(2_000, 100, 60_000),
  /** Finished jobs (and their history) older than this are deleted, every PURGE_INTERVAL_MS, by every replica. */
  FINISHED_RETENTION_HOURS: intVar(168, 1, 87_600),
  PURGE_INTERVAL_MS: intVar(600_000, 1_000, 86_400_000),
  /** Run the cron ticker in this replica (every replica may: a tick is enqueued once across them). */
  CRON_ENABLED: boolVar(true),
  CRON_POLL_MS: intVar(30_000, 100, 60_000),
});

export type Config = z.infer<typeof configSchema>;
