import {
  assertIntegerOption,
  BACKOFF_MAX_MS_LIMIT,
  type BusHandler,
  type BusHeaders,
  type BusMessage,
  DEAD_LETTER_ERROR_MAX_CHARS,
  DEAD_LETTER_HEADERS,
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_MAX_ATTEMPTS,
  MAX_ATTEMPTS_LIMIT,
  type RetryPolicy,
} from './port.js';

/**
 * Handing one message to a handler, the same way in every adapter: retry a throwing handler with
 * exponential backoff and jitter up to `maxAttempts`, and stop early when the subscription closes.
 * The adapter decides what to do with the outcome (commit, dead-letter, leave uncommitted).
 */

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  backoffBaseMs: DEFAULT_BACKOFF_BASE_MS,
  backoffMaxMs: DEFAULT_BACKOFF_MAX_MS,
};

/** Fills a partial policy from `base` and checks every bound once, at the edge. */
export function normaliseRetryPolicy(
  partial: Partial<RetryPolicy> | undefined,
  base = DEFAULT_RETRY_POLICY,
): RetryPolicy {
  const policy = { ...base, ...partial };
  assertIntegerOption('retry.maxAttempts', policy.maxAttempts, 1, MAX_ATTEMPTS_LIMIT);
  assertIntegerOption('retry.backoffMaxMs', policy.backoffMaxMs, 0, BACKOFF_MAX_MS_LIMIT);
  assertIntegerOption('retry.backoffBaseMs', policy.backoffBaseMs, 0, policy.backoffMaxMs);
  return policy;
}

/**
 * The pause after the `failedAttempts`-th failure: `base * 2^(n-1)` capped at `backoffMaxMs`, of
 * which the upper half is random ("equal jitter"), so retries of many partitions spread out but
 * each still waits at least half its step.
 */
export function backoffDelayMs(
  failedAttempts: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.min(failedAttempts - 1, 40));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface DeliveryControl {
  /** Aborted when the subscription starts closing: no further attempt begins. */
  stopRetrying: AbortSignal;
  /** Aborted when the subscription stops waiting for a running handler (drain timeout). */
  abandon: AbortSignal;
  /** Waits between attempts; Kafka heartbeats meanwhile and may throw to leave a rebalance. */
  pauseBetweenAttempts(ms: number, signal: AbortSignal): Promise<void>;
  onRetry(attempt: number, error: unknown): void;
}

export type DeliveryOutcome =
  | { kind: 'handled'; durationMs: number }
  | { kind: 'failed'; attempts: number; error: unknown }
  /** The subscription closed first: leave the message uncommitted for redelivery. */
  | { kind: 'abandoned' };

const ABANDONED = Symbol('abandoned');

type AttemptResult = { ok: true } | { ok: false; error: unknown };

async function attemptOnce<Value>(
  handler: BusHandler<Value>,
  message: BusMessage<Value>,
): Promise<AttemptResult> {
  try {
    await handler(message);
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Races `work` against `signal` without leaving a listener behind: one subscription handles
 * millions of messages, and a reaction per message on a long-lived promise would leak.
 */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | typeof ABANDONED> {
  if (signal.aborted) return Promise.resolve(ABANDONED);
  return new Promise((resolve) => {
    const onAbort = () => resolve(ABANDONED);
    signal.addEventListener('abort', onAbort, { once: true });
    void work.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}

export async function deliverWithRetry<Value>(
  handler: BusHandler<Value>,
  message: Omit<BusMessage<Value>, 'attempt'>,
  policy: RetryPolicy,
  control: DeliveryControl,
): Promise<DeliveryOutcome> {
  for (let attempt = 1; ; attempt++) {
    if (control.stopRetrying.aborted) return { kind: 'abandoned' };
    const started = performance.now();
    const result = await unlessAborted(attemptOnce(handler, { ...message, attempt }), control.abandon);
    if (result === ABANDONED) return { kind: 'abandoned' };
    if (result.ok) return { kind: 'handled', durationMs: performance.now() - started };
    if (attempt >= policy.maxAttempts) return { kind: 'failed', attempts: attempt, error: result.error };
    if (control.stopRetrying.aborted) return { kind: 'abandoned' };
    control.onRetry(attempt, result.error);
    await control.pauseBetweenAttempts(backoffDelayMs(attempt, policy), control.stopRetrying);
  }
}

/** A one-line description of what a handler threw, short enough for a header. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > DEAD_LETTER_ERROR_MAX_CHARS
    ? `${text.slice(0, DEAD_LETTER_ERROR_MAX_CHARS - 1)}…`
    : text;
}

/** The headers of a dead-lettered copy: the original ones (message id included) plus why and whence. */
export function deadLetterHeaders(
  original: BusHeaders,
  from: { topic: string; group: string; partition: number; offset: string; attempts: number; error: unknown },
): BusHeaders {
  return {
    ...original,
    [DEAD_LETTER_HEADERS.error]: describeError(from.error),
    [DEAD_LETTER_HEADERS.group]: from.group,
    [DEAD_LETTER_HEADERS.attempts]: String(from.attempts),
    [DEAD_LETTER_HEADERS.topic]: from.topic,
    [DEAD_LETTER_HEADERS.partition]: String(from.partition),
    [DEAD_LETTER_HEADERS.offset]: from.offset,
  };
}

/** Counts running handlers so `close()` can wait for them, with a deadline. */
export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.count;
  }

  enter(): void {
    this.count++;
  }

  leave(): void {
    this.count--;
    if (this.count > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** True when everything in flight finished within `timeoutMs`. */
  async drained(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.waiters.push(() => resolve(true)));
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([idle, late]);
    clearTimeout(timer);
    return result;
  }
}
