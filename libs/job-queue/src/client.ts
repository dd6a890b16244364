import { EventEmitter } from 'node:events';
import { retryDelayMs } from './backoff.js';
import { type JobErrorRecord, JobQueueError, JobQueueErrorCode } from './errors.js';
import { type FlowGraph, type FlowJobSpec, type FlowResult, readFlow, submitFlow } from './flow.js';
import { claim, heartbeat, type Outcome, recordOutcomes } from './leases.js';
import {
  type QueueLimits,
  type QueueStats,
  queueStats,
  type StartLimiter,
  setQueueLimits,
} from './limits.js';
import { assertSchemaName, DEFAULT_SCHEMA, migrate } from './migrate.js';
import {
  assertQueueName,
  DEFAULT_LIMITS,
  type JobInsert,
  jobInsertOf,
  jsonWithin,
  type Limits,
} from './options.js';
import { type EventRow, eventOf, idOf, JOB_COLUMNS, type JobRow, jobOf } from './rows.js';
import { settleDependents } from './settle.js';
import type { JobQueueSql, Queryable } from './sql.js';
import type { EnqueueResult, Job, JobEvent, JobOptions, JobState, JsonValue } from './types.js';

export interface JobQueueOptions {
  sql: JobQueueSql;
  /** Default `job_queue`: one schema shared by every service on the database. */
  schema?: string;
  /** Wall time in ms since the epoch; the platform passes its clock (which fault tests skew). */
  now?: () => number;
  limits?: Partial<Limits>;
  /**
   * Rate limiters by queue name (a `@sysdesign/redis-limiters` Limiter fits): a queue listed here
   * takes its starts from its limiter, with the limiter's own rule, instead of the Postgres rate
   * limit of its row. Every client of the queue should be given the same limiter.
   */
  startLimiters?: Readonly<Record<string, StartLimiter>>;
  /**
   * Called when a wake-up NOTIFY sent after an enqueue's commit fails. The job is committed then,
   * so the enqueue still resolves; workers of other processes find the job at their safety poll.
   */
  onWakeError?: (error: unknown) => void;
}

export interface EnqueueOptions extends JobOptions {
  /**
   * Insert inside the caller's transaction: the job exists only if that transaction commits. The
   * wake-up NOTIFY is then sent inside that transaction too (delivered only if it commits), which
   * makes its commit take Postgres's global notify lock: caller transactions that enqueue commit
   * one at a time. Without `tx` the insert commits alone and the NOTIFY follows it.
   */
  tx?: Queryable;
}

export interface JobPage {
  jobs: Job[];
  /** Pass back as `after` for the next page; null on the last page. */
  next: string | null;
}

const PAGE_SIZE_MAX = 500;
const REPLAY_ALL_BATCH = 1_000;

/** A notification: `<queue>|<earliest runAt in ms>` for new work, `cancel|<job id>` for a cancel. */
export interface Wake {
  queue: string;
  runAtMs: number;
}

/**
 * The queue's client: producer, inspection and operator actions. Workers (worker.ts), flows
 * (flow.ts) and cron schedules (cron.ts) are built on it. All SQL names the schema explicitly,
 * so the caller's connection needs no search_path.
 */
export class JobQueue {
  readonly sql: JobQueueSql;
  readonly schema: string;
  readonly now: () => number;
  readonly limits: Limits;
  /** The NOTIFY channel of this schema. */
  readonly channel: string;
  /** In-process wake-ups: enqueues through this object reach its workers without a round trip. */
  readonly local = new EventEmitter();
  readonly startLimiters: ReadonlyMap<string, StartLimiter>;
  /** Queues seen with limits: their claims go straight to the locked path (leases.ts). */
  readonly limitedQueues = new Map<string, boolean>();
  /** When a queue's StartLimiter may grant a start again, after it refused one. */
  readonly rateBlockedUntilMs = new Map<string, number>();
  private readonly onWakeError: (error: unknown) => void;
  /** Wake-ups of committed enqueues not sent yet: earliest runAt in ms by queue (see notifyCommitted). */
  private wakeBatch: { wakes: Map<string, number>; sent: Promise<void> } | undefined;
  private wakeSending: Promise<void> = Promise.resolve();

  constructor(options: JobQueueOptions) {
    this.sql = options.sql;
    this.schema = options.schema ?? DEFAULT_SCHEMA;
    assertSchemaName(this.schema);
    this.now = options.now ?? Date.now;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.channel = `${this.schema}_wake`;
    this.local.setMaxListeners(0);
    this.startLimiters = new Map(Object.entries(options.startLimiters ?? {}));
    this.onWakeError = options.onWakeError ?? (() => undefined);
    for (const name of this.startLimiters.keys()) assertQueueName(name);
  }

  /**
   * One LISTEN per client, shared by all its workers (a connection each would spend the server's
   * connection budget): notifications become the same in-process events an enqueue through this
   * client emits. Reference-counted by retainListener/releaseListener.
   */
  private listener: { users: number; stop: Promise<(() => Promise<void>) | undefined> } | undefined;

  async retainListener(): Promise<void> {
    const listen = this.sql.listen;
    if (!listen) return;
    if (!this.listener) {
      this.listener = {
        users: 0,
        stop: listen.call(this.sql, this.channel, (payload) => this.onNotification(payload)),
      };
    }
    const listener = this.listener;
    listener.users += 1;
    try {
      await listener.stop;
    } catch (error) {
      listener.users -= 1;
      if (this.listener === listener) this.listener = undefined;
      throw error;
    }
  }

  async releaseListener(): Promise<void> {
    const listener = this.listener;
    if (!listener) return;
    listener.users -= 1;
    if (listener.users > 0) return;
    this.listener = undefined;
    const stop = await listener.stop.catch(() => undefined);
    await stop?.();
  }

  private onNotification(payload: string): void {
    const separator = payload.indexOf('|');
    const head = payload.slice(0, separator);
    const tail = payload.slice(separator + 1);
    if (head === 'cancel') this.local.emit('cancel', tail);
    else this.local.emit('wake', { queue: head, runAtMs: Number(tail) } satisfies Wake);
  }

  /** Creates or upgrades the schema's tables. Safe to call from every replica at start. */
  migrate(): Promise<string[]> {
    return migrate(this.sql, this.schema);
  }

  nowDate(): Date {
    return new Date(this.now());
  }

  /** Submits one job. With a `jobKey` already used in the queue, returns that job instead. */
  async enqueue(queue: string, payload: unknown, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    const [result] = await this.enqueueMany([{ queue, payload, options }], options.tx);
    return result as EnqueueResult;
  }

  /** Submits many jobs in one statement (set-based insert). Results follow the input's order. */
  async enqueueMany(
    jobs: readonly { queue: string; payload: unknown; options?: JobOptions }[],
    tx?: Queryable,
  ): Promise<EnqueueResult[]> {
    if (jobs.length === 0) return [];
    if (jobs.length > this.limits.jobsPerCallMax) {
      throw new JobQueueError(
        JobQueueErrorCode.TOO_MANY_JOBS,
        `${jobs.length} jobs in one call, over the ${this.limits.jobsPerCallMax} limit`,
      );
    }
    const nowMs = this.now();
    const inserts = jobs.map((job) =>
      jobInsertOf(job.queue, job.payload, job.options ?? {}, nowMs, this.limits),
    );
    if (tx) return this.insertJobs(tx, inserts, { nowMs });
    // The library owns the transaction (one autocommitted statement): NOTIFY after its commit,
    // so concurrent enqueues do not commit one at a time behind the notify lock.
    const results = await this.insertJobs(this.sql, inserts, { nowMs, notify: false });
    const created = inserts.filter((_, index) => results[index]?.created);
    this.wakeLocal(created);
    if (created.length > 0) await this.notifyCommitted(created);
    return results;
  }

  /**
   * Sends the wake-ups of committed inserts: one statement at a time per client, each carrying
   * every queue's earliest runAt gathered while the previous one was in flight (group notify).
   * Resolves once this call's wake-ups are sent; never rejects (onWakeError hears a failure).
   */
  private notifyCommitted(inserts: readonly { queue: string; run_at: string }[]): Promise<void> {
    let batch = this.wakeBatch;
    if (!batch) {
      const wakes = new Map<string, number>();
      const sent = this.wakeSending.then(async () => {
        if (this.wakeBatch?.wakes === wakes) this.wakeBatch = undefined;
        try {
          await this.sql.query(
            `SELECT count(pg_notify($1, w.queue || '|' || w.due)) FROM unnest($2::text[], $3::text[]) AS w(queue, due)`,
            [this.channel, [...wakes.keys()], [...wakes.values()].map(String)],
          );
        } catch (error) {
          this.onWakeError(error);
        }
      });
      batch = { wakes, sent };
      this.wakeBatch = batch;
      this.wakeSending = sent;
    }
    for (const insert of inserts) {
      const runAtMs = Date.parse(insert.run_at);
      batch.wakes.set(insert.queue, Math.min(batch.wakes.get(insert.queue) ?? runAtMs, runAtMs));
    }
    return batch.sent;
  }

  /**
   * The insert shared by enqueue, flows and cron. Jobs with `pending` > 0 start `waiting`. Keyless
   * rows get ids in input order (identity values are drawn in insertion order); keyed rows that
   * met an existing key are looked up afterwards.
   */
  async insertJobs(
    queryable: Queryable,
    inserts: readonly JobInsert[],
    extra: {
      nowMs: number;
      refs?: readonly (string | null)[];
      pending?: readonly number[];
      hasDependents?: readonly boolean[];
      /** NOTIFY the inserted rows' queues in the insert's statement (default); false: the caller will. */
      notify?: boolean;
    },
  ): Promise<EnqueueResult[]> {
    const rows = inserts.map((insert, index) => ({
      ...insert,
      ord: index,
      pending: extra.pending?.[index] ?? 0,
      has_dependents: extra.hasDependents?.[index] ?? false,
      flow_ref: extra.refs?.[index] ?? null,
    }));
    const now = new Date(extra.nowMs);
    const notify = extra.notify ?? true;
    const inserted = await queryable.query<{ id: unknown; job_key: string | null; queue: string }>(
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(ord int, queue text, tenant text, payload jsonb,
           priority int, run_at timestamptz, max_attempts int, backoff_kind text, backoff_ms int,
           backoff_max_ms int, timeout_ms int, job_key text, pending int, has_dependents boolean, flow_ref text)
       ), inserted AS (
         INSERT INTO ${this.schema}.jobs (queue, tenant, state, payload, priority, run_at, max_attempts,
           backoff_kind, backoff_ms, backoff_max_ms, timeout_ms, job_key, flow_ref, pending_dependencies,
           has_dependents, created_at, updated_at)
         SELECT queue, tenant,
           CASE WHEN pending > 0 THEN 'waiting' WHEN run_at > $2 THEN 'scheduled' ELSE 'ready' END,
           coalesce(payload, 'null'::jsonb), priority, run_at, max_attempts, backoff_kind, backoff_ms, backoff_max_ms, timeout_ms,
           job_key, flow_ref, pending, has_dependents, $2, $2
         FROM input ORDER BY ord
         ON CONFLICT (queue, job_key) WHERE job_key IS NOT NULL DO NOTHING
         RETURNING id, job_key, queue, run_at, state
       )${
         notify
           ? `, notified AS (
         SELECT count(pg_notify($3, w.queue || '|' || w.due)) AS n FROM (
           SELECT queue, (extract(epoch FROM min(run_at)) * 1000)::bigint::text AS due
           FROM inserted WHERE state <> 'waiting' GROUP BY queue
         ) w
       )
       SELECT inserted.id, inserted.job_key, inserted.queue FROM inserted, notified`
           : `
       SELECT inserted.id, inserted.job_key, inserted.queue FROM inserted`
       }`,
      notify ? [JSON.stringify(rows), now, this.channel] : [JSON.stringify(rows), now],
    );
    return this.matchInserted(queryable, inserts, inserted.rows);
  }

  private async matchInserted(
    queryable: Queryable,
    inserts: readonly JobInsert[],
    inserted: { id: unknown; job_key: string | null; queue: string }[],
  ): Promise<EnqueueResult[]> {
    const keyless = inserted
      .filter((row) => row.job_key === null)
      .map((row) => BigInt(idOf(row.id)))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const createdByKey = new Map<string, string>();
    for (const row of inserted)
      if (row.job_key !== null) createdByKey.set(`${row.queue}\u0000${row.job_key}`, idOf(row.id));
    const missing = inserts.filter(
      (insert) => insert.job_key !== null && !createdByKey.has(`${insert.queue}\u0000${insert.job_key}`),
    );
    const existingByKey = new Map<string, string>();
    if (missing.length > 0) {
      const existing = await queryable.query<{ id: unknown; job_key: string; queue: string }>(
        `SELECT j.id, j.job_key, j.queue FROM ${this.schema}.jobs j
         JOIN jsonb_to_recordset($1::jsonb) AS x(queue text, job_key text) ON j.queue = x.queue AND j.job_key = x.job_key`,
        [JSON.stringify(missing.map((insert) => ({ queue: insert.queue, job_key: insert.job_key })))],
      );
      for (const row of existing.rows) existingByKey.set(`${row.queue}\u0000${row.job_key}`, idOf(row.id));
    }
    let nextKeyless = 0;
    const claimedKeys = new Set<string>();
    return inserts.map((insert) => {
      if (insert.job_key === null) return { id: String(keyless[nextKeyless++]), created: true };
      const key = `${insert.queue}\u0000${insert.job_key}`;
      const created = createdByKey.get(key);
      if (created !== undefined && !claimedKeys.has(key)) {
        claimedKeys.add(key);
        return { id: created, created: true };
      }
      const id = created ?? existingByKey.get(key);
      if (id === undefined) throw new Error(`job key ${insert.job_key} neither inserted nor found`);
      return { id, created: false };
    });
  }

  /** Wakes this process's workers of the queues that just gained work. */
  wakeLocal(inserts: readonly { queue: string; run_at: string }[]): void {
    const earliest = new Map<string, number>();
    for (const insert of inserts) {
      const runAtMs = Date.parse(insert.run_at);
      earliest.set(insert.queue, Math.min(earliest.get(insert.queue) ?? runAtMs, runAtMs));
    }
    for (const [queue, runAtMs] of earliest) this.local.emit('wake', { queue, runAtMs } satisfies Wake);
  }

  wakeQueues(queues: Iterable<string>): void {
    const nowMs = this.now();
    for (const queue of queues) this.local.emit('wake', { queue, runAtMs: nowMs } satisfies Wake);
  }

  async get(id: string): Promise<Job> {
    const result = await this.sql.query<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM ${this.schema}.jobs WHERE id = $1`,
      [this.jobId(id)],
    );
    const row = result.rows[0];
    if (!row) throw new JobQueueError(JobQueueErrorCode.NOT_FOUND, `no job ${id}`);
    return jobOf(row);
  }

  /** The job's state changes, oldest first. */
  async history(id: string): Promise<JobEvent[]> {
    const result = await this.sql.query<EventRow>(
      `SELECT at, from_state, to_state, attempt, worker, fence, error FROM ${this.schema}.events
       WHERE job_id = $1 ORDER BY id`,
      [this.jobId(id)],
    );
    return result.rows.map(eventOf);
  }

  /** Jobs of a queue in a state, oldest first, a page at a time. */
  async list(
    queue: string,
    state: JobState,
    page: { after?: string; limit?: number } = {},
  ): Promise<JobPage> {
    assertQueueName(queue);
    const limit = page.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_SIZE_MAX) {
      throw new JobQueueError(
        JobQueueErrorCode.INVALID_OPTION,
        `page limit must be in [1, ${PAGE_SIZE_MAX}]`,
      );
    }
    const result = await this.sql.query<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM ${this.schema}.jobs WHERE queue = $1 AND state = $2 AND id > $3
       ORDER BY id LIMIT $4`,
      [queue, state, page.after === undefined ? '0' : this.jobId(page.after), limit + 1],
    );
    const jobs = result.rows.slice(0, limit).map((row) => jobOf(row));
    return { jobs, next: result.rows.length > limit ? (jobs.at(-1)?.id ?? null) : null };
  }

  /** Counts per state for one queue. */
  async counts(queue: string): Promise<Record<JobState, number>> {
    assertQueueName(queue);
    const result = await this.sql.query<{ state: JobState; n: unknown }>(
      `SELECT state, count(*) AS n FROM ${this.schema}.jobs WHERE queue = $1 GROUP BY state`,
      [queue],
    );
    const counts: Record<JobState, number> = {
      scheduled: 0,
      ready: 0,
      waiting: 0,
      running: 0,
      succeeded: 0,
      failed: 0,
      dead: 0,
      cancelled: 0,
    };
    for (const row of result.rows) counts[row.state] = Number(row.n);
    return counts;
  }

  /**
   * Cancels a job that has not finished; its dependents follow their policy. A running job's
   * worker is told by NOTIFY (and at its next heartbeat at the latest) and aborts its signal.
   */
  async cancel(id: string): Promise<Job> {
    return this.transition(id, ['scheduled', 'ready', 'waiting', 'running', 'failed'], 'cancelled', 'cancel');
  }

  /** Runs a finished job (succeeded, dead or cancelled) again, from attempt 0. */
  rerun(id: string): Promise<Job> {
    return this.transition(id, ['succeeded', 'dead', 'cancelled'], 'ready', 'rerun');
  }

  /** Takes one job out of the dead-letter state and runs it again from attempt 0. */
  replay(id: string): Promise<Job> {
    return this.transition(id, ['dead'], 'ready', 'replay');
  }

  /** Replays every dead job of a queue (in batches of 1,000); resolves with how many. */
  async replayAll(queue: string): Promise<number> {
    assertQueueName(queue);
    let total = 0;
    for (;;) {
      const now = this.nowDate();
      const result = await this.sql.query<{ id: unknown }>(
        `WITH picked AS (
           SELECT id FROM ${this.schema}.jobs WHERE queue = $1 AND state = 'dead' ORDER BY id LIMIT $3
           FOR UPDATE SKIP LOCKED
         ), changed AS (
           UPDATE ${this.schema}.jobs j SET state = 'ready', attempts = 0, run_at = $2, updated_at = $2,
             finished_at = NULL, error = NULL
           FROM picked WHERE j.id = picked.id RETURNING j.id
         ), logged AS (
           INSERT INTO ${this.schema}.events (job_id, at, from_state, to_state, attempt)
           SELECT id, $2, 'dead', 'ready', 0 FROM changed
         )
         SELECT id, pg_notify($4, $1 || '|' || (extract(epoch FROM $2::timestamptz) * 1000)::bigint::text) FROM changed`,
        [queue, now, REPLAY_ALL_BATCH, this.channel],
      );
      total += result.rows.length;
      if (result.rows.length > 0) this.wakeQueues([queue]);
      if (result.rows.length < REPLAY_ALL_BATCH) return total;
    }
  }

  private async transition(
    id: string,
    from: readonly JobState[],
    to: 'cancelled' | 'ready',
    action: 'cancel' | 'rerun' | 'replay',
  ): Promise<Job> {
    const jobId = this.jobId(id);
    const { job, woken } = await this.sql.tx(async (tx) => {
      const now = this.nowDate();
      const current = await tx.query<JobRow>(
        `SELECT ${JOB_COLUMNS} FROM ${this.schema}.jobs WHERE id = $1 FOR UPDATE`,
        [jobId],
      );
      const row = current.rows[0];
      if (!row) throw new JobQueueError(JobQueueErrorCode.NOT_FOUND, `no job ${id}`);
      if (!from.includes(row.state)) {
        throw new JobQueueError(
          JobQueueErrorCode.WRONG_STATE,
          `cannot ${action} job ${id}: it is ${row.state}`,
          {
            state: row.state,
          },
        );
      }
      const finishing = to === 'cancelled';
      const updated = await tx.query<JobRow>(
        `UPDATE ${this.schema}.jobs SET state = $2, updated_at = $3, worker = NULL, lease_expires_at = NULL,
           finished_at = CASE WHEN $4 THEN $3::timestamptz END,
           attempts = CASE WHEN $4 THEN attempts ELSE 0 END,
           run_at = CASE WHEN $4 THEN run_at ELSE $3::timestamptz END,
           error = CASE WHEN $4 THEN jsonb_build_object('code', 'JOBQ_ERR_CANCELLED', 'message', 'cancelled') END,
           output = CASE WHEN $4 THEN output END
         WHERE id = $1 RETURNING ${JOB_COLUMNS}`,
        [jobId, to, now, finishing],
      );
      const after = updated.rows[0] as JobRow;
      await tx.query(
        `INSERT INTO ${this.schema}.events (job_id, at, from_state, to_state, attempt, fence) VALUES ($1, $2, $3, $4, $5, $6)`,
        [jobId, now, row.state, to, after.attempts, idOf(row.fence)],
      );
      let woken: string[] = [];
      if (finishing) {
        if (row.state === 'running') {
          await tx.query('SELECT pg_notify($1, $2)', [this.channel, `cancel|${jobId}`]);
          // Its slot under a concurrency limit is free: the queue's workers may claim again.
          await tx.query('SELECT pg_notify($1, $2)', [this.channel, `${row.queue}|${now.getTime()}`]);
          woken = [row.queue];
        }
        if (row.has_dependents) {
          woken = [
            ...woken,
            ...(await settleDependents(tx, this.schema, { succeeded: [], failed: [jobId] }, now)).wokenQueues,
          ];
        }
      } else {
        await tx.query('SELECT pg_notify($1, $2)', [this.channel, `${row.queue}|${now.getTime()}`]);
        woken = [row.queue];
      }
      return { job: jobOf(after), woken };
    });
    if (to === 'cancelled') this.local.emit('cancel', job.id);
    this.wakeQueues(woken);
    return job;
  }

  /** Submits a DAG of jobs at once (flow.ts); a cycle is refused with the cycle named. */
  flow(jobs: readonly FlowJobSpec[]): Promise<FlowResult> {
    return submitFlow(this, jobs);
  }

  /** A flow's jobs (with their states) and dependency edges; NOT_FOUND when no job has this flow id. */
  readFlow(flowId: string): Promise<FlowGraph> {
    return readFlow(this, flowId);
  }

  /**
   * Leases up to `limit` due jobs for an external worker (the service's pull API). Each comes with
   * its fencing token in `fence`; pass it to heartbeat, complete and fail.
   */
  async lease(queue: string, request: { limit: number; worker: string; leaseMs: number }): Promise<Job[]> {
    assertQueueName(queue);
    const rows = await claim(this, { queue, ...request, fair: false, tenantCursor: null });
    return rows.map((row) => jobOf(row));
  }

  /** Extends one lease; throws FENCED when the token is no longer the job's. */
  async heartbeat(id: string, fence: string, leaseMs: number): Promise<void> {
    const kept = await heartbeat(this, [{ id: this.jobId(id), fence: this.fenceOf(fence) }], leaseMs);
    if (!kept.has(id)) throw this.fenced(id, fence, 'heartbeat');
  }

  /** Completes a leased job; throws FENCED for a stale token (including a second completion). */
  async complete(id: string, fence: string, output: JsonValue | null = null): Promise<void> {
    const outputJson = jsonWithin('output', output, this.limits.outputBytesMax);
    await this.recordOne(id, fence, { ok: true, outputJson }, 'complete');
  }

  /** Fails a leased job: it retries after its backoff, or goes dead when its attempts are spent. */
  async fail(
    id: string,
    fence: string,
    error: JobErrorRecord,
    options: { permanent?: boolean } = {},
  ): Promise<void> {
    const job = await this.get(id);
    const retryAtMs = this.now() + retryDelayMs(job.backoff, job.attempts);
    await this.recordOne(
      id,
      fence,
      { ok: false, error, retryAtMs, permanent: options.permanent ?? false },
      'fail',
    );
  }

  private async recordOne(id: string, fence: string, result: Outcome['result'], what: string): Promise<void> {
    const jobId = this.jobId(id);
    const row = await this.sql.query<{ has_dependents: boolean; worker: string | null }>(
      `SELECT has_dependents, worker FROM ${this.schema}.jobs WHERE id = $1`,
      [jobId],
    );
    const current = row.rows[0];
    const lease = {
      id: jobId,
      fence: this.fenceOf(fence),
      hasDependents: current?.has_dependents ?? false,
      result,
    };
    // The history names the worker that held the lease; a stale fence records nothing anyway.
    const report = await recordOutcomes(this, [lease], current?.worker ?? 'unknown');
    if (!report.accepted.has(jobId)) throw this.fenced(id, fence, what);
  }

  private fenceOf(fence: string): string {
    if (typeof fence !== 'string' || !/^[0-9]{1,19}$/.test(fence))
      throw this.fenced('?', String(fence), 'token');
    return fence;
  }

  private fenced(id: string, fence: string, what: string): JobQueueError {
    return new JobQueueError(
      JobQueueErrorCode.FENCED,
      `${what} refused: job ${id} fence ${fence} is not current`,
      {
        id,
        fence,
      },
    );
  }

  /**
   * Deletes finished jobs (succeeded, dead, cancelled) that finished more than `olderThanMs` ago,
   * with their history, in batches; resolves with how many. Jobs that other unfinished jobs depend
   * on are kept. A purged job's key can be used again: keys dedupe while the job is kept.
   */
  async purgeFinished(olderThanMs: number, { batch = 1_000 }: { batch?: number } = {}): Promise<number> {
    if (!Number.isInteger(olderThanMs) || olderThanMs < 0) {
      throw new JobQueueError(JobQueueErrorCode.INVALID_OPTION, 'olderThanMs must be a non-negative integer');
    }
    let total = 0;
    for (;;) {
      const cutoff = new Date(this.now() - olderThanMs);
      const result = await this.sql.query<{ id: unknown }>(
        `WITH doomed AS (
           SELECT j.id FROM ${this.schema}.jobs j
           WHERE j.state IN ('succeeded', 'dead', 'cancelled') AND j.finished_at < $1
             AND NOT EXISTS (
               SELECT 1 FROM ${this.schema}.dependencies d JOIN ${this.schema}.jobs dependent ON dependent.id = d.job_id
               WHERE d.depends_on = j.id AND dependent.state NOT IN ('succeeded', 'dead', 'cancelled'))
           LIMIT $2 FOR UPDATE SKIP LOCKED
         ), history AS (
           DELETE FROM ${this.schema}.events e USING doomed WHERE e.job_id = doomed.id
         )
         DELETE FROM ${this.schema}.jobs j USING doomed WHERE j.id = doomed.id RETURNING j.id`,
        [cutoff, batch],
      );
      total += result.rows.length;
      if (result.rows.length < batch) return total;
    }
  }

  /**
   * Sets a queue's concurrency and rate limits (limits.ts): a field left out is kept, null removes
   * it. Applies to claims that start after it commits.
   */
  setLimits(queue: string, limits: Partial<QueueLimits>): Promise<QueueLimits> {
    return setQueueLimits(this, queue, limits);
  }

  /** A queue's limits, its leased jobs and its rate window's use, and whether it is paused. */
  stats(queue: string): Promise<QueueStats> {
    return queueStats(this, queue);
  }

  /** Stops workers of the queue from claiming; running jobs continue. */
  async pause(queue: string): Promise<void> {
    assertQueueName(queue);
    await this.sql.query(
      `INSERT INTO ${this.schema}.paused_queues (queue, paused_at) VALUES ($1, $2) ON CONFLICT (queue) DO NOTHING`,
      [queue, this.nowDate()],
    );
  }

  async resume(queue: string): Promise<void> {
    assertQueueName(queue);
    await this.sql.query(
      `WITH resumed AS (DELETE FROM ${this.schema}.paused_queues WHERE queue = $1 RETURNING queue)
       SELECT pg_notify($2, queue || '|0') FROM resumed`,
      [queue, this.channel],
    );
    this.wakeQueues([queue]);
  }

  async isPaused(queue: string): Promise<boolean> {
    const result = await this.sql.query(`SELECT 1 FROM ${this.schema}.paused_queues WHERE queue = $1`, [
      queue,
    ]);
    return result.rows.length > 0;
  }

  /** A job id as the database takes it; refuses what is not a positive integer. */
  jobId(id: string): string {
    if (typeof id !== 'string' || !/^[1-9][0-9]{0,18}$/.test(id)) {
      throw new JobQueueError(JobQueueErrorCode.NOT_FOUND, `no job ${JSON.stringify(id)}`);
    }
    return id;
  }
}

export type { JsonValue };
