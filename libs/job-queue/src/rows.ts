import type { JobErrorRecord } from './errors.js';
import type { Job, JobEvent, JobState, JsonValue } from './types.js';

/**
 * Rows as the adapters return them, and their conversion to the public shapes. node-postgres gives
 * int8 as a string unless configured, the platform's adapters give bigint, PGlite a number or a
 * bigint: ids and fencing tokens become decimal strings whatever came in.
 */

export const JOB_COLUMNS = `id, queue, tenant, state, payload, priority, run_at, attempts, max_attempts,
  backoff_kind, backoff_ms, backoff_max_ms, timeout_ms, job_key, fence, worker, lease_expires_at,
  progress, output, error, flow_id, flow_ref, pending_dependencies, has_dependents, created_at, updated_at, finished_at`;

export interface JobRow {
  id: unknown;
  queue: string;
  tenant: string;
  state: JobState;
  payload: JsonValue;
  priority: number;
  run_at: Date | string;
  attempts: number;
  max_attempts: number;
  backoff_kind: 'fixed' | 'exponential';
  backoff_ms: number;
  backoff_max_ms: number;
  timeout_ms: number;
  job_key: string | null;
  fence: unknown;
  worker: string | null;
  lease_expires_at: Date | string | null;
  progress: JsonValue | null;
  output: JsonValue | null;
  error: JobErrorRecord | null;
  flow_id: unknown;
  flow_ref: string | null;
  pending_dependencies: number;
  has_dependents: boolean;
  created_at: Date | string;
  updated_at: Date | string;
  finished_at: Date | string | null;
}

export function idOf(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

function dateOf(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

function optionalDateOf(value: Date | string | null): Date | null {
  return value === null ? null : dateOf(value);
}

export function jobOf<Payload = JsonValue>(row: JobRow): Job<Payload> {
  return {
    id: idOf(row.id),
    queue: row.queue,
    tenant: row.tenant,
    state: row.state,
    payload: row.payload as Payload,
    priority: row.priority,
    runAt: dateOf(row.run_at),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    backoff: { kind: row.backoff_kind, delayMs: row.backoff_ms, maxDelayMs: row.backoff_max_ms },
    timeoutMs: row.timeout_ms,
    jobKey: row.job_key,
    fence: idOf(row.fence),
    worker: row.worker,
    leaseExpiresAt: optionalDateOf(row.lease_expires_at),
    progress: row.progress,
    output: row.output,
    error: row.error,
    flowId: row.flow_id === null ? null : idOf(row.flow_id),
    flowRef: row.flow_ref,
    pendingDependencies: row.pending_dependencies,
    createdAt: dateOf(row.created_at),
    updatedAt: dateOf(row.updated_at),
    finishedAt: optionalDateOf(row.finished_at),
  };
}

export interface EventRow {
  at: Date | string;
  from_state: JobState | null;
  to_state: JobState;
  attempt: number;
  worker: string | null;
  fence: unknown;
  error: JobErrorRecord | null;
}

export function eventOf(row: EventRow): JobEvent {
  return {
    at: dateOf(row.at),
    from: row.from_state,
    to: row.to_state,
    attempt: row.attempt,
    worker: row.worker,
    fence: row.fence === null ? null : idOf(row.fence),
    error: row.error,
  };
}
