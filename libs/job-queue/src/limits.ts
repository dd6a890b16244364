import type { JobQueue } from './client.js';
import { JobQueueError, JobQueueErrorCode } from './errors.js';
import { assertQueueName } from './options.js';
import type { Queryable } from './sql.js';

/**
 * Per-queue limits, stored in the queue's row of `<schema>.queues`:
 *
 * - `concurrencyMax`: at most N jobs of the queue leased (state `running`) at once, across every
 *   worker and every pull client. A job a worker prefetched into its buffer is leased, so it counts.
 * - `rate`: at most `max` starts (claims) in any window of `intervalMs`: a sliding-window log in
 *   `<schema>.queue_starts`, exact, with no burst past the limit at a window's edge. Or, for a queue
 *   given a `StartLimiter` (a `@sysdesign/redis-limiters` limiter fits), that limiter decides with
 *   its own algorithm and rule.
 *
 * Why it is race-free: a claim of a limited queue runs in a transaction that first locks the
 * queue's row, then (in a second statement, so with a fresh snapshot under READ COMMITTED) counts
 * the leased jobs and the window's starts and claims at most the room left. The claim before it held
 * the same lock until it committed, so its jobs are in that count. Claims of queues without limits
 * skip the lock and stay one statement; they refuse to claim when the queue has a limit (a guard in
 * their SQL) and fall back to the locked path.
 */

export interface RateLimit {
  /** Starts allowed in any window of `intervalMs`. */
  max: number;
  intervalMs: number;
}

export interface QueueLimits {
  /** Jobs of the queue leased at once across all workers; null: no limit. */
  concurrencyMax: number | null;
  /** Starts per sliding window; null: no limit. */
  rate: RateLimit | null;
}

/** The part of a `@sysdesign/redis-limiters` `Limiter` a rate-limited queue uses. */
export interface StartLimiter {
  limit(
    key: string,
    options?: { cost?: number },
  ): Promise<{ allowed: boolean; remaining: number; retryAfterMs: number }>;
}

export interface QueueStats {
  queue: string;
  paused: boolean;
  limits: QueueLimits;
  /** Jobs of the queue leased now. */
  running: number;
  /** Starts in the current window of the Postgres rate limit (0 without one). */
  startsInWindow: number;
  /** Whether a `StartLimiter` given to this client decides the queue's starts. */
  externalRateLimiter: boolean;
}

export const CONCURRENCY_LIMIT_MAX = 100_000;
export const RATE_MAX = 1_000_000;
export const RATE_INTERVAL_MS_MAX = 24 * 60 * 60 * 1000;

function checkLimits(limits: Partial<QueueLimits>): void {
  const { concurrencyMax, rate } = limits;
  if (concurrencyMax !== undefined && concurrencyMax !== null) {
    if (!Number.isInteger(concurrencyMax) || concurrencyMax < 1 || concurrencyMax > CONCURRENCY_LIMIT_MAX) {
      throw new JobQueueError(
        JobQueueErrorCode.INVALID_OPTION,
        `concurrencyMax must be an integer in [1, ${CONCURRENCY_LIMIT_MAX}] or null`,
      );
    }
  }
  if (rate !== undefined && rate !== null) {
    if (
      typeof rate !== 'object' ||
      !Number.isInteger(rate.max) ||
      rate.max < 1 ||
      rate.max > RATE_MAX ||
      !Number.isInteger(rate.intervalMs) ||
      rate.intervalMs < 1 ||
      rate.intervalMs > RATE_INTERVAL_MS_MAX
    ) {
      throw new JobQueueError(
        JobQueueErrorCode.INVALID_OPTION,
        `rate must be { max in [1, ${RATE_MAX}], intervalMs in [1, ${RATE_INTERVAL_MS_MAX}] } or null`,
      );
    }
  }
}

interface LimitsRow {
  concurrency_max: number | null;
  rate_max: number | null;
  rate_interval_ms: number | null;
}

function limitsOf(row: LimitsRow | undefined): QueueLimits {
  return {
    concurrencyMax: row?.concurrency_max ?? null,
    rate:
      row?.rate_max == null || row.rate_interval_ms == null
        ? null
        : { max: row.rate_max, intervalMs: row.rate_interval_ms },
  };
}

export function hasLimits(limits: QueueLimits): boolean {
  return limits.concurrencyMax !== null || limits.rate !== null;
}

/**
 * Sets a queue's limits: a field left out is kept, null removes it. Wakes the queue's workers, as
 * a loosened limit may let them claim now. Resolves with the limits now stored.
 */
export async function setQueueLimits(
  queue: JobQueue,
  name: string,
  limits: Partial<QueueLimits>,
): Promise<QueueLimits> {
  assertQueueName(name);
  checkLimits(limits);
  const s = queue.schema;
  const result = await queue.sql.query<LimitsRow>(
    `WITH stored AS (
       INSERT INTO ${s}.queues AS q (queue, concurrency_max, rate_max, rate_interval_ms, updated_at)
       VALUES ($1, $2, $3, $4, $8)
       ON CONFLICT (queue) DO UPDATE SET
         concurrency_max = CASE WHEN $5 THEN EXCLUDED.concurrency_max ELSE q.concurrency_max END,
         rate_max = CASE WHEN $6 THEN EXCLUDED.rate_max ELSE q.rate_max END,
         rate_interval_ms = CASE WHEN $6 THEN EXCLUDED.rate_interval_ms ELSE q.rate_interval_ms END,
         updated_at = $8
       RETURNING concurrency_max, rate_max, rate_interval_ms
     )
     SELECT stored.*, pg_notify($7, $1 || '|0') FROM stored`,
    [
      name,
      limits.concurrencyMax ?? null,
      limits.rate?.max ?? null,
      limits.rate?.intervalMs ?? null,
      limits.concurrencyMax !== undefined,
      limits.rate !== undefined,
      queue.channel,
      queue.nowDate(),
    ],
  );
  const stored = limitsOf(result.rows[0]);
  queue.limitedQueues.set(name, hasLimits(stored) || queue.startLimiters.has(name));
  queue.wakeQueues([name]);
  return stored;
}

/** A queue's limits, what it holds now and how much of its rate window is used. */
export async function queueStats(queue: JobQueue, name: string): Promise<QueueStats> {
  assertQueueName(name);
  const s = queue.schema;
  const result = await queue.sql.query<LimitsRow & { paused: boolean; running: unknown; starts: unknown }>(
    `SELECT q.concurrency_max, q.rate_max, q.rate_interval_ms,
       EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $1) AS paused,
       (SELECT count(*) FROM ${s}.jobs WHERE queue = $1 AND state = 'running') AS running,
       CASE WHEN q.rate_max IS NOT NULL THEN (SELECT coalesce(sum(n), 0) FROM ${s}.queue_starts
         WHERE queue = $1 AND at > $2::timestamptz - q.rate_interval_ms * interval '1 millisecond') ELSE 0 END AS starts
     FROM (SELECT 1) AS one LEFT JOIN ${s}.queues q ON q.queue = $1`,
    [name, queue.nowDate()],
  );
  const row = result.rows[0];
  return {
    queue: name,
    paused: row?.paused ?? false,
    limits: limitsOf(row),
    running: Number(row?.running ?? 0),
    startsInWindow: Number(row?.starts ?? 0),
    externalRateLimiter: queue.startLimiters.has(name),
  };
}

/**
 * Inside a limited claim's transaction: locks the queue's row (creating it for a queue that has a
 * StartLimiter but no row yet) and returns its limits.
 */
export async function lockQueueRow(tx: Queryable, queue: JobQueue, name: string): Promise<QueueLimits> {
  const s = queue.schema;
  const select = `SELECT concurrency_max, rate_max, rate_interval_ms FROM ${s}.queues WHERE queue = $1 FOR UPDATE`;
  let result = await tx.query<LimitsRow>(select, [name]);
  if (result.rows.length === 0 && queue.startLimiters.has(name)) {
    await tx.query(
      `INSERT INTO ${s}.queues (queue, updated_at) VALUES ($1, $2) ON CONFLICT (queue) DO NOTHING`,
      [name, queue.nowDate()],
    );
    result = await tx.query<LimitsRow>(select, [name]);
  }
  return limitsOf(result.rows[0]);
}

/**
 * How many starts the queue's StartLimiter grants toward `wanted`, asked under the queue's lock
 * (so no other claim of this client's queue asks between the read and the take). When it grants
 * none, records when to look again.
 */
export async function grantedStarts(queue: JobQueue, name: string, wanted: number): Promise<number> {
  const limiter = queue.startLimiters.get(name);
  if (!limiter || wanted <= 0) return wanted;
  const key = `${queue.schema}:${name}`;
  const peek = await limiter.limit(key, { cost: 0 });
  const asked = Math.min(wanted, Math.max(1, Math.floor(peek.remaining)));
  const decision = await limiter.limit(key, { cost: asked });
  if (decision.allowed) return asked;
  queue.rateBlockedUntilMs.set(name, queue.now() + Math.max(1, decision.retryAfterMs));
  return 0;
}

export interface DueInfo {
  due: Date | string | null;
  paused: boolean;
  concurrency_max: number | null;
  running: unknown;
  rate_max: number | null;
  rate_interval_ms: number | null;
  used: unknown;
  oldest: Date | string | null;
}

/**
 * When the queue can next start a job, or null: nothing is due, the queue is paused, or its
 * concurrency limit is reached (a job leaving `running` wakes its workers then).
 */
export async function nextStartMs(queue: JobQueue, name: string): Promise<number | null> {
  const s = queue.schema;
  const result = await queue.sql.query<DueInfo>(
    `SELECT (SELECT min(run_at) FROM ${s}.jobs WHERE queue = $1 AND state IN ('scheduled', 'ready', 'failed')) AS due,
       EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $1) AS paused,
       q.concurrency_max, q.rate_max, q.rate_interval_ms,
       CASE WHEN q.concurrency_max IS NOT NULL THEN
         (SELECT count(*) FROM ${s}.jobs WHERE queue = $1 AND state = 'running') END AS running,
       CASE WHEN q.rate_max IS NOT NULL THEN (SELECT coalesce(sum(n), 0) FROM ${s}.queue_starts
         WHERE queue = $1 AND at > $2::timestamptz - q.rate_interval_ms * interval '1 millisecond') END AS used,
       CASE WHEN q.rate_max IS NOT NULL THEN (SELECT min(at) FROM ${s}.queue_starts
         WHERE queue = $1 AND at > $2::timestamptz - q.rate_interval_ms * interval '1 millisecond') END AS oldest
     FROM (SELECT 1) AS one LEFT JOIN ${s}.queues q ON q.queue = $1`,
    [name, queue.nowDate()],
  );
  const row = result.rows[0];
  if (!row || row.due === null || row.paused) return null;
  if (row.concurrency_max !== null && Number(row.running) >= row.concurrency_max) return null;
  let startMs = new Date(row.due).getTime();
  if (row.rate_max !== null && row.oldest !== null && Number(row.used) >= row.rate_max) {
    startMs = Math.max(startMs, new Date(row.oldest).getTime() + Number(row.rate_interval_ms));
  }
  const blockedUntilMs = queue.rateBlockedUntilMs.get(name);
  if (blockedUntilMs !== undefined) {
    if (blockedUntilMs > queue.now()) startMs = Math.max(startMs, blockedUntilMs);
    else queue.rateBlockedUntilMs.delete(name);
  }
  return startMs;
}
