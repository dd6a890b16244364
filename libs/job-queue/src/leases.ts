import { retryDelayMsSql } from './backoff.js';
import type { JobQueue, Wake } from './client.js';
import { type JobErrorRecord, JobQueueError, JobQueueErrorCode } from './errors.js';
import { grantedStarts, hasLimits, lockQueueRow, type QueueLimits } from './limits.js';
import { idOf, JOB_COLUMNS, type JobRow } from './rows.js';
import { settleDependents } from './settle.js';
import type { Queryable } from './sql.js';

/**
 * The lease protocol, as set-based statements a worker (or the service's HTTP lease API) batches:
 * claim, heartbeat, complete, fail, release, and the reaper. Every statement after the claim
 * matches on (id, fence, state = 'running'): a token that is not the job's current one changes
 * nothing, and the caller learns which jobs it no longer holds from the rows that came back.
 */

const CLAIMABLE = `state IN ('scheduled', 'ready', 'failed')`;

export interface ClaimRequest {
  queue: string;
  limit: number;
  worker: string;
  leaseMs: number;
  /** Round-robin across tenants: each claim takes an even share from every tenant with due jobs. */
  fair: boolean;
  /** The fair claim starts after this tenant, so tenants take turns being first. */
  tenantCursor: string | null;
}

/**
 * Claims up to `limit` due jobs of the queue, unless it is paused. Each gets a fresh fence. A
 * queue without limits is claimed in one statement; a queue with a concurrency or rate limit (or a
 * StartLimiter) in a transaction under its row lock (limits.ts says why that is race-free).
 */
export async function claim(queue: JobQueue, request: ClaimRequest): Promise<JobRow[]> {
  if (queue.limitedQueues.get(request.queue) !== true && !queue.startLimiters.has(request.queue)) {
    const rows = await runClaim(queue.sql, queue, request, { limited: false, guard: true });
    if (rows.length > 0) return rows;
    // Nothing claimed: the queue may be empty, or its unlimited claim refused a limit set since.
    const limited = await queue.sql.query(
      `SELECT 1 FROM ${queue.schema}.queues WHERE queue = $1 AND (concurrency_max IS NOT NULL OR rate_max IS NOT NULL)`,
      [request.queue],
    );
    queue.limitedQueues.set(request.queue, limited.rows.length > 0);
    if (limited.rows.length === 0) return rows;
  }
  return queue.sql.tx(async (tx) => {
    const limits = await lockQueueRow(tx, queue, request.queue);
    const external = queue.startLimiters.has(request.queue);
    queue.limitedQueues.set(request.queue, hasLimits(limits) || external);
    if (!external) return runClaim(tx, queue, request, { limited: true, limits, guard: false });
    const room = await roomWithoutRate(tx, queue, request, limits);
    const granted = await grantedStarts(queue, request.queue, room);
    if (granted === 0) return [];
    return runClaim(tx, queue, { ...request, limit: granted }, { limited: false, guard: false });
  });
}

type ClaimShape = { limited: false; guard: boolean } | { limited: true; limits: QueueLimits; guard: false };

/**
 * The claim statement: $1 queue, $2 now, $3 limit, $4 worker, $5 lease ms, then the tenant cursor
 * of a fair claim and a limited claim's concurrency max, rate max and rate interval. A limited claim
 * takes at most the room they leave (`room`) and records its starts in the rate window's log.
 */
async function runClaim(
  queryable: Queryable,
  queue: JobQueue,
  request: ClaimRequest,
  shape: ClaimShape,
): Promise<JobRow[]> {
  const s = queue.schema;
  const params: unknown[] = [request.queue, queue.nowDate(), request.limit, request.worker, request.leaseMs];
  // Placeholders past $5 exist only when used: a parameter no clause names has no type to infer.
  const param = (value: unknown): string => `$${params.push(value)}`;
  const cursor = request.fair ? param(request.tenantCursor) : '';
  const [concurrencyMax, rateMax, intervalMs] = shape.limited
    ? [
        param(shape.limits.concurrencyMax),
        param(shape.limits.rate?.max ?? null),
        param(shape.limits.rate?.intervalMs ?? 0),
      ]
    : ['', '', ''];
  const limit = shape.limited ? '(SELECT n FROM room)' : '$3';
  const guard = shape.guard
    ? `AND NOT EXISTS (SELECT 1 FROM ${s}.queues WHERE queue = $1 AND (concurrency_max IS NOT NULL OR rate_max IS NOT NULL))`
    : '';
  const window = `$2::timestamptz - ${intervalMs}::int * interval '1 millisecond'`;
  const room = shape.limited
    ? `room AS (
         SELECT greatest(0, least($3::int,
           coalesce(${concurrencyMax}::int - (SELECT count(*) FROM ${s}.jobs WHERE queue = $1 AND state = 'running'), $3::int),
           coalesce(${rateMax}::int - (SELECT coalesce(sum(n), 0) FROM ${s}.queue_starts WHERE queue = $1 AND at > ${window}), $3::int)
         ))::int AS n
       ), `
    : '';
  const recordStarts = shape.limited
    ? `, started AS (
         INSERT INTO ${s}.queue_starts (queue, at, n)
         SELECT $1, $2, count(*) FROM claimed WHERE ${rateMax}::int IS NOT NULL HAVING count(*) > 0
       ), pruned AS (
         DELETE FROM ${s}.queue_starts WHERE ${rateMax}::int IS NOT NULL AND queue = $1 AND at <= ${window}
       )`
    : '';
  const result = await queryable.query<JobRow>(
    `WITH RECURSIVE ${room}${pickedSql(s, { cursor, limit, guard })}, claimed AS (
       UPDATE ${s}.jobs j SET state = 'running', attempts = j.attempts + 1, fence = nextval('${s}.fence_seq'),
         worker = $4, lease_expires_at = $2::timestamptz + $5 * interval '1 millisecond', updated_at = $2
       FROM picked WHERE j.id = picked.id
       RETURNING ${prefixed('j', JOB_COLUMNS)}, picked.state AS before
     ), logged AS (
       INSERT INTO ${s}.events (job_id, at, from_state, to_state, attempt, worker, fence)
       SELECT id, $2, before, 'running', attempts, worker, fence FROM claimed
     )${recordStarts}
     SELECT ${JOB_COLUMNS} FROM claimed ORDER BY priority DESC, run_at, id`,
    params,
  );
  return result.rows;
}

/** The CTEs that pick the jobs to claim (`picked`): FIFO by priority, or round-robin by tenant. */
function pickedSql(
  s: string,
  { cursor, limit, guard }: { cursor: string; limit: string; guard: string },
): string {
  if (cursor === '') {
    return `picked AS (
         SELECT id, state FROM ${s}.jobs
         WHERE queue = $1 AND ${CLAIMABLE} AND run_at <= $2
           AND NOT EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $1) ${guard}
         ORDER BY priority DESC, run_at, id LIMIT ${limit}
         FOR UPDATE SKIP LOCKED
       )`;
  }
  return `tenants AS (
         (SELECT tenant FROM ${s}.jobs WHERE queue = $1 AND ${CLAIMABLE} AND run_at <= $2 ORDER BY tenant LIMIT 1)
         UNION ALL
         SELECT (SELECT j.tenant FROM ${s}.jobs j WHERE j.queue = $1 AND j.${CLAIMABLE} AND j.run_at <= $2
                 AND j.tenant > t.tenant ORDER BY j.tenant LIMIT 1)
         FROM tenants t WHERE t.tenant IS NOT NULL
       ), present AS (
         SELECT tenant FROM tenants WHERE tenant IS NOT NULL
       ), share AS (
         SELECT greatest(1, ceil(${limit}::numeric / greatest(count(*), 1)))::int AS n FROM present
       ), picked AS (
         SELECT p.id, p.state FROM (
           SELECT tenant FROM present ORDER BY (tenant <= coalesce(${cursor}::text, '')), tenant
         ) t CROSS JOIN LATERAL (
           SELECT id, state FROM ${s}.jobs WHERE queue = $1 AND tenant = t.tenant AND ${CLAIMABLE} AND run_at <= $2
           ORDER BY priority DESC, run_at, id LIMIT (SELECT n FROM share) FOR UPDATE SKIP LOCKED
         ) p
         WHERE NOT EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $1) ${guard}
         LIMIT ${limit}
       )`;
}

/** Under the queue's lock: how many jobs a claim may take before the StartLimiter is asked. */
async function roomWithoutRate(
  tx: Queryable,
  queue: JobQueue,
  request: ClaimRequest,
  limits: QueueLimits,
): Promise<number> {
  const s = queue.schema;
  const result = await tx.query<{ n: unknown }>(
    `SELECT CASE WHEN EXISTS (SELECT 1 FROM ${s}.paused_queues WHERE queue = $1) THEN 0 ELSE greatest(0, least($3::int,
       coalesce($4::int - (SELECT count(*) FROM ${s}.jobs WHERE queue = $1 AND state = 'running'), $3::int),
       (SELECT count(*) FROM (SELECT 1 FROM ${s}.jobs WHERE queue = $1 AND ${CLAIMABLE} AND run_at <= $2 LIMIT $3) AS due)
     )) END AS n`,
    [request.queue, queue.nowDate(), request.limit, limits.concurrencyMax],
  );
  return Number(result.rows[0]?.n ?? 0);
}

function prefixed(table: string, columns: string): string {
  return columns
    .split(',')
    .map((column) => `${table}.${column.trim()}`)
    .join(', ');
}

export interface HeldLease {
  id: string;
  fence: string;
}

/** Extends the leases still held; resolves with the ids whose (id, fence) still matched. */
export async function heartbeat(
  queue: JobQueue,
  leases: readonly HeldLease[],
  leaseMs: number,
): Promise<Set<string>> {
  if (leases.length === 0) return new Set();
  const result = await queue.sql.query<{ id: unknown }>(
    `UPDATE ${queue.schema}.jobs j SET lease_expires_at = $2::timestamptz + $3 * interval '1 millisecond'
     FROM jsonb_to_recordset($1::jsonb) AS h(id bigint, fence bigint)
     WHERE j.id = ANY($4::bigint[]) AND j.id = h.id AND j.fence = h.fence AND j.state = 'running'
     RETURNING j.id`,
    [JSON.stringify(leases), queue.nowDate(), leaseMs, leases.map((lease) => lease.id)],
  );
  return new Set(result.rows.map((row) => idOf(row.id)));
}

/** Stores a progress value under the fence; false when the fence is stale. */
export async function progress(queue: JobQueue, lease: HeldLease, valueJson: string): Promise<boolean> {
  const result = await queue.sql.query(
    `UPDATE ${queue.schema}.jobs SET progress = $3::jsonb, updated_at = $4
     WHERE id = $1 AND fence = $2 AND state = 'running' RETURNING id`,
    [lease.id, lease.fence, valueJson, queue.nowDate()],
  );
  return result.rows.length > 0;
}

export interface Outcome extends HeldLease {
  /** Whether other jobs depend on this one (known from the claim): settling them needs a transaction. */
  hasDependents: boolean;
  result:
    | { ok: true; outputJson: string }
    | { ok: false; error: JobErrorRecord; retryAtMs: number; permanent: boolean }
    | { ok: 'released' };
}

export interface OutcomeReport {
  /** Ids whose outcome was recorded; the others were refused (stale fence). */
  accepted: Set<string>;
  /** New state per accepted id. */
  states: Map<string, string>;
}

/**
 * Records many outcomes at once. Completion of a job that added children while running moves it
 * to `waiting` (it runs again once they finish); otherwise to `succeeded`. A failure goes to
 * `failed` with its retry time, or to `dead` when attempts are spent (or it is permanent).
 * Released jobs (a stopping worker) go back to `ready` without spending the attempt.
 */
export async function recordOutcomes(
  queue: JobQueue,
  outcomes: readonly Outcome[],
  worker: string,
): Promise<OutcomeReport> {
  const report: OutcomeReport = { accepted: new Set(), states: new Map() };
  if (outcomes.length === 0) return report;
  const now = queue.nowDate();
  const wakes: Wake[] = [];
  const run = async (queryable: Queryable) => {
    const rows = await writeOutcomes(queue, queryable, outcomes, worker, now, wakes);
    for (const row of rows) {
      report.accepted.add(idOf(row.id));
      report.states.set(idOf(row.id), row.state);
    }
    const dependents = outcomes.filter((outcome) => outcome.hasDependents && report.accepted.has(outcome.id));
    if (dependents.length === 0) return [];
    const succeeded = dependents
      .filter((outcome) => report.states.get(outcome.id) === 'succeeded')
      .map((o) => o.id);
    const failed = dependents.filter((outcome) => report.states.get(outcome.id) === 'dead').map((o) => o.id);
    return [...(await settleDependents(queryable, queue.schema, { succeeded, failed }, now)).wokenQueues];
  };
  const woken = outcomes.some((outcome) => outcome.hasDependents)
    ? await queue.sql.tx((tx) => run(tx))
    : await run(queue.sql);
  queue.wakeQueues(woken);
  for (const wake of wakes) queue.local.emit('wake', wake);
  return report;
}

async function writeOutcomes(
  queue: JobQueue,
  queryable: Queryable,
  outcomes: readonly Outcome[],
  worker: string,
  now: Date,
  wakes: Wake[],
): Promise<DueRow[]> {
  const s = queue.schema;
  const input = outcomes.map((outcome) => ({
    id: outcome.id,
    fence: outcome.fence,
    kind: outcome.result.ok === true ? 'ok' : outcome.result.ok === false ? 'fail' : 'release',
    output: outcome.result.ok === true ? JSON.parse(outcome.result.outputJson) : null,
    error: outcome.result.ok === false ? outcome.result.error : null,
    retry_at: outcome.result.ok === false ? new Date(outcome.result.retryAtMs).toISOString() : null,
    permanent: outcome.result.ok === false ? outcome.result.permanent : false,
  }));
  const result = await queryable.query<DueRow>(
    `WITH input AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, fence bigint, kind text, output jsonb,
         error jsonb, retry_at timestamptz, permanent boolean)
     ), changed AS (
       UPDATE ${s}.jobs j SET
         state = CASE
           WHEN input.kind = 'ok' AND j.pending_dependencies > 0 THEN 'waiting'
           WHEN input.kind = 'ok' THEN 'succeeded'
           WHEN input.kind = 'release' THEN 'ready'
           WHEN input.permanent OR j.attempts >= j.max_attempts THEN 'dead'
           ELSE 'failed' END,
         output = CASE WHEN input.kind = 'ok' THEN input.output ELSE j.output END,
         error = CASE WHEN input.kind = 'fail' THEN input.error ELSE j.error END,
         run_at = CASE WHEN input.kind = 'fail' THEN input.retry_at ELSE j.run_at END,
         attempts = CASE WHEN input.kind = 'release' THEN j.attempts - 1
                         WHEN input.kind = 'ok' AND j.pending_dependencies > 0 THEN 0
                         ELSE j.attempts END,
         finished_at = CASE
           WHEN input.kind = 'ok' AND j.pending_dependencies = 0 THEN $2::timestamptz
           WHEN input.kind = 'fail' AND (input.permanent OR j.attempts >= j.max_attempts) THEN $2::timestamptz
           ELSE NULL END,
         worker = NULL, lease_expires_at = NULL, updated_at = $2
       FROM input WHERE j.id = ANY($4::bigint[]) AND j.id = input.id AND j.fence = input.fence AND j.state = 'running'
       RETURNING j.id, j.state, j.queue, j.run_at, j.attempts, j.fence, input.kind, input.error
     ), logged AS (
       INSERT INTO ${s}.events (job_id, at, from_state, to_state, attempt, worker, fence, error)
       SELECT id, $2, 'running', state, CASE WHEN kind = 'release' THEN attempts + 1 ELSE attempts END, $3, fence,
         CASE WHEN kind = 'fail' THEN error END
       FROM changed
     )
     SELECT c.id, c.state, c.queue, c.run_at, q.concurrency_max IS NOT NULL AS limited
     FROM changed c LEFT JOIN ${s}.queues q ON q.queue = c.queue`,
    // The ids again as an array: the planner then reads exactly these rows by primary key, instead
    // of guessing the JSON input's size and scanning every running job to hash-join them.
    [JSON.stringify(input), now, worker, outcomes.map((outcome) => outcome.id)],
  );
  await notifyDue(queue, queryable, result.rows, wakes);
  return result.rows;
}

/** A job whose state an outcome or the reaper changed; `limited`: its queue has a concurrency limit. */
interface DueRow {
  id: unknown;
  state: string;
  queue: string;
  run_at: Date | string;
  limited: boolean | null;
}

/**
 * Tells workers (NOTIFY, and this process's through the client) when the rows that became
 * claimable are due: one notification per queue with its earliest time. A job that left `running`
 * in a queue with a concurrency limit freed a slot, so its queue's workers are told to claim now.
 */
async function notifyDue(
  queue: JobQueue,
  queryable: Queryable,
  rows: readonly DueRow[],
  wakes: Wake[],
): Promise<void> {
  const earliest = new Map<string, number>();
  const nowMs = queue.now();
  for (const row of rows) {
    let dueMs: number;
    if (row.state === 'ready' || row.state === 'failed') dueMs = new Date(row.run_at).getTime();
    else if (row.limited === true) dueMs = nowMs;
    else continue;
    earliest.set(row.queue, Math.min(earliest.get(row.queue) ?? dueMs, dueMs));
  }
  for (const [name, dueMs] of earliest) {
    await queryable.query('SELECT pg_notify($1, $2)', [queue.channel, `${name}|${dueMs}`]);
    wakes.push({ queue: name, runAtMs: dueMs });
  }
}

export const REAP_BATCH_DEFAULT = 500;
const REAP_BATCH_MAX = 10_000;

/**
 * Puts back running jobs whose lease lapsed (a dead or stalled worker): attempts stay spent, the
 * job retries after its backoff or goes dead (its dependents then follow their policy). SKIP
 * LOCKED lets every worker run the reaper at once without two of them taking the same job.
 * Resolves with how many it put back (at most `batch`; call again while it returns `batch`).
 *
 * Every library Worker runs it on a timer. A process that leases jobs without a Worker (an HTTP
 * pull API, a worker in another language) runs it itself, e.g. every few seconds.
 */
export async function reap(
  queue: JobQueue,
  { batch = REAP_BATCH_DEFAULT }: { batch?: number } = {},
): Promise<number> {
  if (!Number.isInteger(batch) || batch < 1 || batch > REAP_BATCH_MAX) {
    throw new JobQueueError(
      JobQueueErrorCode.INVALID_OPTION,
      `batch must be an integer in [1, ${REAP_BATCH_MAX}]`,
    );
  }
  const s = queue.schema;
  const wakes: Wake[] = [];
  const count = await queue.sql.tx(async (tx) => {
    const now = queue.nowDate();
    const result = await tx.query<DueRow & { has_dependents: boolean }>(
      `WITH lapsed AS (
         SELECT id FROM ${s}.jobs WHERE state = 'running' AND lease_expires_at < $1
         ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ), changed AS (
         UPDATE ${s}.jobs j SET
           state = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'failed' END,
           run_at = $1::timestamptz + (${retryDelayMsSql('j')}) * interval '1 millisecond',
           finished_at = CASE WHEN j.attempts >= j.max_attempts THEN $1::timestamptz END,
           error = jsonb_build_object('code', 'JOBQ_ERR_LEASE_LAPSED', 'message', 'the lease lapsed: worker ' || coalesce(j.worker, '?') || ' stopped heartbeating'),
           worker = NULL, lease_expires_at = NULL, updated_at = $1
         FROM lapsed WHERE j.id = lapsed.id
         RETURNING j.id, j.state, j.queue, j.run_at, j.attempts, j.fence, j.error, j.has_dependents
       ), logged AS (
         INSERT INTO ${s}.events (job_id, at, from_state, to_state, attempt, fence, error)
         SELECT id, $1, 'running', state, attempts, fence, error FROM changed
       )
       SELECT c.id, c.state, c.queue, c.run_at, c.has_dependents, q.concurrency_max IS NOT NULL AS limited
       FROM changed c LEFT JOIN ${s}.queues q ON q.queue = c.queue`,
      [now, batch],
    );
    const dead = result.rows
      .filter((row) => row.state === 'dead' && row.has_dependents)
      .map((row) => idOf(row.id));
    if (dead.length > 0) {
      const settled = await settleDependents(tx, s, { succeeded: [], failed: dead }, now);
      for (const name of settled.wokenQueues) wakes.push({ queue: name, runAtMs: now.getTime() });
    }
    await notifyDue(queue, tx, result.rows, wakes);
    return result.rows.length;
  });
  for (const wake of wakes) queue.local.emit('wake', wake);
  return count;
}

/** Re-reads a job row under its fence (a worker's view after claim). */
export async function jobRow(queue: JobQueue, id: string): Promise<JobRow | undefined> {
  const result = await queue.sql.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM ${queue.schema}.jobs WHERE id = $1`,
    [id],
  );
  return result.rows[0];
}
