import type { Backoff } from './backoff.js';
import type { JobErrorRecord } from './errors.js';

export type JobState =
  | 'scheduled'
  | 'ready'
  | 'waiting'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'dead'
  | 'cancelled';

/** States a worker can claim from (when due). */
export const CLAIMABLE_STATES: readonly JobState[] = ['scheduled', 'ready', 'failed'];
/** States a job never leaves on its own (rerun and replay move it explicitly). */
export const FINAL_STATES: readonly JobState[] = ['succeeded', 'dead', 'cancelled'];

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type FailurePolicy = 'fail-parent' | 'continue';

export interface JobOptions {
  /** Higher runs first. Integer in [-1000, 1000]; default 0. */
  priority?: number;
  /** Not before this time (a Date or epoch ms). */
  runAt?: Date | number;
  /** Or not before `delayMs` from now. Not both. */
  delayMs?: number;
  /** Attempts in total, including the first. Default 5. */
  maxAttempts?: number;
  backoff?: Partial<Backoff>;
  /** The handler's signal is aborted after this long. Default 5 minutes. */
  timeoutMs?: number;
  /** Same key in the same queue -> the same job (the first one), forever. */
  jobKey?: string;
  /** Fairness group within the queue. Default '' (everyone shares one). */
  tenant?: string;
}

export interface EnqueueResult {
  id: string;
  /** false when the job key matched an existing job, which is returned instead. */
  created: boolean;
}

export interface DependencyResult {
  id: string;
  /** Its name in the flow (null for a child added by a running job without one). */
  ref: string | null;
  state: JobState;
  output: JsonValue | null;
  error: JobErrorRecord | null;
  onFailure: FailurePolicy;
}

export interface Job<Payload = JsonValue> {
  id: string;
  queue: string;
  tenant: string;
  state: JobState;
  payload: Payload;
  priority: number;
  runAt: Date;
  attempts: number;
  maxAttempts: number;
  backoff: Backoff;
  timeoutMs: number;
  jobKey: string | null;
  /** The fencing token of the current (or last) claim; 0 before the first. */
  fence: string;
  worker: string | null;
  leaseExpiresAt: Date | null;
  progress: JsonValue | null;
  output: JsonValue | null;
  error: JobErrorRecord | null;
  flowId: string | null;
  /** The job's name in its flow. */
  flowRef: string | null;
  pendingDependencies: number;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export interface JobEvent {
  at: Date;
  from: JobState | null;
  to: JobState;
  attempt: number;
  worker: string | null;
  fence: string | null;
  error: JobErrorRecord | null;
}
