export { type Backoff, type BackoffKind, retryDelayMs } from './backoff.js';
export { type EnqueueOptions, type JobPage, JobQueue, type JobQueueOptions } from './client.js';
export {
  CronScheduler,
  type CronSchedulerOptions,
  type MissedTicks,
  nextTick,
  type Schedule,
  type ScheduleSpec,
} from './cron.js';
export { isJobQueueError, type JobErrorRecord, JobQueueError, JobQueueErrorCode } from './errors.js';
export {
  type ChildSpec,
  FLOW_GRAPH_JOBS_MAX,
  type FlowDependency,
  type FlowGraph,
  type FlowGraphEdge,
  type FlowGraphJob,
  type FlowJobSpec,
  type FlowResult,
  findCycle,
} from './flow.js';
export { REAP_BATCH_DEFAULT, reap } from './leases.js';
export {
  CONCURRENCY_LIMIT_MAX,
  type QueueLimits,
  type QueueStats,
  RATE_INTERVAL_MS_MAX,
  RATE_MAX,
  type RateLimit,
  type StartLimiter,
} from './limits.js';
export { DEFAULT_SCHEMA, migrate } from './migrate.js';
export { DEFAULT_LIMITS, type Limits } from './options.js';
export {
  type JobQueueSql,
  type PGliteLike,
  type PgClientLike,
  type PgPoolLike,
  type PgPoolSqlOptions,
  type PgQueryConfig,
  pgliteSql,
  pgPoolSql,
  type Queryable,
  type QueryResultLike,
} from './sql.js';
export type {
  DependencyResult,
  EnqueueResult,
  FailurePolicy,
  Job,
  JobEvent,
  JobOptions,
  JobState,
  JsonValue,
} from './types.js';
export {
  type Handler,
  type JobContext,
  type Logger,
  PermanentJobError,
  Worker,
  type WorkerOptions,
  type WorkerStats,
} from './worker.js';
