import type { CronScheduler, Job, JobEvent, JobOptions, JobQueue } from '@sysdesign/job-queue';
import type { TokenAuthority } from '@sysdesign/platform';
import { z } from 'zod';
import type { HostAllowlist } from '../domain/allowlist.js';
import { parseBuiltin, parseHttpCallback } from '../domain/payloads.js';
import { errors } from '../errors.js';
import type { SchedulerMetrics } from '../metrics.js';

/** Scopes: submitting and operating jobs, and working them as a pull worker. */
export const WRITE_SCOPE = 'jobs:write';
export const WORK_SCOPE = 'jobs:work';

export interface RouteContext {
  queue: JobQueue;
  cron: CronScheduler;
  authority: TokenAuthority;
  allowlist: HostAllowlist;
  metrics: SchedulerMetrics;
  /** Every queue this service accepts jobs for, the built-in ones included. */
  knownQueues: ReadonlySet<string>;
  builtinQueue: string;
  httpCallbackQueue: string;
  limits: {
    payloadBytesMax: number;
    dagJobsMax: number;
    schedulesMax: number;
    sleepMsMax: number;
    leaseMsMax: number;
    leaseBatchMax: number;
  };
}

export function assertKnownQueue(context: RouteContext, queue: string): void {
  if (!context.knownQueues.has(queue))
    throw errors.JOBSCHED_ERR_UNKNOWN_QUEUE(`no queue ${JSON.stringify(queue)}`, {
      queues: [...context.knownQueues],
    });
}

/** The service's own job types are checked at submission; other queues carry any JSON. */
export function checkPayload(context: RouteContext, queue: string, payload: unknown): void {
  if (queue === context.builtinQueue) parseBuiltin(payload, context.limits.sleepMsMax);
  if (queue === context.httpCallbackQueue) parseHttpCallback(payload, context.allowlist);
}

const MS_MAX = 366 * 24 * 3_600_000;

export const jobOptionsSchema = {
  priority: z.number().int().min(-1000).max(1000).optional().describe('Higher runs first'),
  delayMs: z.number().int().min(0).max(MS_MAX).optional().describe('Not before this many ms from now'),
  runAt: z.iso.datetime({ offset: true }).optional().describe('Not before this time (ISO 8601)'),
  maxAttempts: z.number().int().min(1).max(100).optional(),
  backoff: z
    .strictObject({
      kind: z.enum(['fixed', 'exponential']),
      delayMs: z.number().int().min(0).max(MS_MAX),
      maxDelayMs: z.number().int().min(0).max(MS_MAX).optional(),
    })
    .optional(),
  timeoutMs: z.number().int().min(1).max(86_400_000).optional(),
  tenant: z.string().min(1).max(128).optional().describe('Fairness group within the queue'),
};

export const queueName = z.string().min(1).max(64);

type JobOptionsInput = {
  priority?: number | undefined;
  delayMs?: number | undefined;
  runAt?: string | undefined;
  maxAttempts?: number | undefined;
  backoff?: { kind: 'fixed' | 'exponential'; delayMs: number; maxDelayMs?: number | undefined } | undefined;
  timeoutMs?: number | undefined;
  tenant?: string | undefined;
};

/** The request's options as the library takes them (absent fields stay absent). */
export function jobOptionsOf(input: JobOptionsInput): JobOptions {
  const options: JobOptions = {};
  if (input.priority !== undefined) options.priority = input.priority;
  if (input.delayMs !== undefined) options.delayMs = input.delayMs;
  if (input.runAt !== undefined) options.runAt = new Date(input.runAt);
  if (input.maxAttempts !== undefined) options.maxAttempts = input.maxAttempts;
  if (input.backoff !== undefined) {
    const { kind, delayMs, maxDelayMs } = input.backoff;
    options.backoff = { kind, delayMs, ...(maxDelayMs === undefined ? {} : { maxDelayMs }) };
  }
  if (input.timeoutMs !== undefined) options.timeoutMs = input.timeoutMs;
  if (input.tenant !== undefined) options.tenant = input.tenant;
  return options;
}

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

export function jobBody(job: Job) {
  return {
    id: job.id,
    queue: job.queue,
    tenant: job.tenant,
    state: job.state,
    payload: job.payload,
    priority: job.priority,
    runAt: iso(job.runAt),
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    timeoutMs: job.timeoutMs,
    jobKey: job.jobKey,
    fence: job.fence,
    worker: job.worker,
    leaseExpiresAt: iso(job.leaseExpiresAt),
    progress: job.progress,
    output: job.output,
    error: job.error,
    flowId: job.flowId,
    flowRef: job.flowRef,
    pendingDependencies: job.pendingDependencies,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    finishedAt: iso(job.finishedAt),
  };
}

export function eventBody(event: JobEvent) {
  return {
    at: event.at.toISOString(),
    from: event.from,
    to: event.to,
    attempt: event.attempt,
    worker: event.worker,
    fence: event.fence,
    error: event.error,
  };
}

const BIGINT_MAX = 9_223_372_036_854_775_807n;

/** A Postgres bigint id in decimal: 19 digits can still overflow, which the database would answer with an error. */
export const bigintId = (what: string) =>
  z
    .string()
    .regex(/^[0-9]{1,19}$/, `must be ${what} (digits)`)
    // zod runs the refinement after a failed regex too: only digits reach BigInt.
    .refine(
      (value) => !/^[0-9]+$/.test(value) || BigInt(value) <= BIGINT_MAX,
      `must be ${what} (at most 2^63 - 1)`,
    );

export const jobIdParams = z.object({ id: bigintId('a job id') });
export const queueParams = z.object({ queue: queueName });
