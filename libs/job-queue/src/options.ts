import type { Backoff } from './backoff.js';
import { JobQueueError, JobQueueErrorCode } from './errors.js';
import type { JobOptions, JsonValue } from './types.js';

/** Bounds on what a caller can make the queue store or do; each can be lowered or raised per queue client. */
export interface Limits {
  /** Payload bytes as JSON (UTF-8). */
  payloadBytesMax: number;
  /** Output and progress bytes as JSON. */
  outputBytesMax: number;
  /** Jobs in one bulk enqueue or one flow. */
  jobsPerCallMax: number;
  attemptsMax: number;
  timeoutMsMax: number;
  /** How far ahead runAt may be. */
  delayMsMax: number;
}

export const DEFAULT_LIMITS: Limits = {
  payloadBytesMax: 256 * 1024,
  outputBytesMax: 256 * 1024,
  jobsPerCallMax: 1_000,
  attemptsMax: 100,
  timeoutMsMax: 24 * 60 * 60 * 1000,
  delayMsMax: 366 * 24 * 60 * 60 * 1000,
};

export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_TIMEOUT_MS = 5 * 60 * 1000;
export const DEFAULT_BACKOFF: Backoff = { kind: 'exponential', delayMs: 1_000, maxDelayMs: 60 * 60 * 1000 };
const PRIORITY_BOUND = 1_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const JOB_KEY_CHARS_MAX = 512;
const TENANT_CHARS_MAX = 128;

/** A job as it goes into the INSERT: every option normalised. */
export interface JobInsert {
  queue: string;
  tenant: string;
  payload: JsonValue;
  priority: number;
  run_at: string;
  max_attempts: number;
  backoff_kind: Backoff['kind'];
  backoff_ms: number;
  backoff_max_ms: number;
  timeout_ms: number;
  job_key: string | null;
}

function invalid(message: string): JobQueueError {
  return new JobQueueError(JobQueueErrorCode.INVALID_OPTION, message);
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

export function assertQueueName(queue: string): void {
  if (typeof queue !== 'string' || !NAME.test(queue)) {
    throw invalid(`queue name ${JSON.stringify(queue)} must match ${NAME}`);
  }
}

/** The JSON text of `value`, refused when larger than `bytesMax` or not JSON at all. */
export function jsonWithin(what: string, value: unknown, bytesMax: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw invalid(`${what} is not JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw invalid(`${what} is not JSON (undefined, a function or a symbol)`);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > bytesMax) {
    throw new JobQueueError(
      JobQueueErrorCode.PAYLOAD_TOO_LARGE,
      `${what} is ${bytes} bytes, over the ${bytesMax} limit`,
      {
        bytes,
        bytesMax,
      },
    );
  }
  return text;
}

function runAtOf(options: JobOptions, nowMs: number, limits: Limits): number {
  if (options.runAt !== undefined && options.delayMs !== undefined)
    throw invalid('give runAt or delayMs, not both');
  if (options.delayMs !== undefined)
    return nowMs + integerIn('delayMs', options.delayMs, 0, limits.delayMsMax);
  if (options.runAt === undefined) return nowMs;
  const runAtMs = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
  if (!Number.isFinite(runAtMs)) throw invalid('runAt must be a valid date');
  if (runAtMs - nowMs > limits.delayMsMax) throw invalid(`runAt is more than ${limits.delayMsMax} ms ahead`);
  return runAtMs;
}

function backoffOf(backoff: Partial<Backoff> | undefined, limits: Limits): Backoff {
  const kind = backoff?.kind ?? DEFAULT_BACKOFF.kind;
  if (kind !== 'fixed' && kind !== 'exponential')
    throw invalid(`backoff kind must be fixed or exponential, got ${kind}`);
  const delayMs = integerIn(
    'backoff.delayMs',
    backoff?.delayMs ?? DEFAULT_BACKOFF.delayMs,
    0,
    limits.delayMsMax,
  );
  const maxDelayMs = integerIn(
    'backoff.maxDelayMs',
    backoff?.maxDelayMs ?? Math.max(DEFAULT_BACKOFF.maxDelayMs, delayMs),
    delayMs,
    limits.delayMsMax,
  );
  return { kind, delayMs, maxDelayMs };
}

export function jobInsertOf(
  queue: string,
  payload: unknown,
  options: JobOptions,
  nowMs: number,
  limits: Limits,
): JobInsert {
  assertQueueName(queue);
  const text = jsonWithin('payload', payload, limits.payloadBytesMax);
  const backoff = backoffOf(options.backoff, limits);
  const jobKey = options.jobKey ?? null;
  if (
    jobKey !== null &&
    (typeof jobKey !== 'string' || jobKey.length === 0 || jobKey.length > JOB_KEY_CHARS_MAX)
  ) {
    throw invalid(`jobKey must be a string of 1 to ${JOB_KEY_CHARS_MAX} characters`);
  }
  const tenant = options.tenant ?? '';
  if (typeof tenant !== 'string' || tenant.length > TENANT_CHARS_MAX) {
    throw invalid(`tenant must be a string of at most ${TENANT_CHARS_MAX} characters`);
  }
  return {
    queue,
    tenant,
    payload: JSON.parse(text) as JsonValue,
    priority: integerIn('priority', options.priority ?? 0, -PRIORITY_BOUND, PRIORITY_BOUND),
    run_at: new Date(runAtOf(options, nowMs, limits)).toISOString(),
    max_attempts: integerIn(
      'maxAttempts',
      options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      1,
      limits.attemptsMax,
    ),
    backoff_kind: backoff.kind,
    backoff_ms: backoff.delayMs,
    backoff_max_ms: backoff.maxDelayMs,
    timeout_ms: integerIn('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 1, limits.timeoutMsMax),
    job_key: jobKey,
  };
}
