import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { retryDelayMs } from './backoff.js';
import type { JobQueue, Wake } from './client.js';
import { errorRecordOf, JobQueueError, JobQueueErrorCode } from './errors.js';
import { addChildren, type ChildSpec, dependencyResults } from './flow.js';
import {
  claim,
  type HeldLease,
  heartbeat,
  type Outcome,
  reap,
  recordOutcomes,
  progress as recordProgress,
} from './leases.js';
import { nextStartMs } from './limits.js';
import { assertQueueName, jsonWithin } from './options.js';
import { type JobRow, jobOf } from './rows.js';
import type { DependencyResult, EnqueueResult, Job, JsonValue } from './types.js';

/** pino's shape, so a service passes its logger as is. */
export interface Logger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
  child?(bindings: object): Logger;
}

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface JobContext {
  /** Aborted on timeout, lost lease, cancel or a worker that stops; its reason is a JobQueueError. */
  signal: AbortSignal;
  /** This attempt's fencing token: side effects that store it can refuse an older holder. */
  fence: string;
  /** Records a progress value (JSON, size-bounded) under the fence; throws FENCED when stale. */
  progress(value: JsonValue): Promise<void>;
  logger: Logger;
  /** The jobs this one depends on, with their state, output and error. */
  dependencies(): Promise<DependencyResult[]>;
  /**
   * Adds jobs this one waits for: when the handler returns, the job moves to `waiting`, and runs
   * again (with their results in `dependencies()`) once they have all finished.
   */
  addChildren(children: readonly ChildSpec[]): Promise<EnqueueResult[]>;
}

/** Resolves with the job's output (JSON, size-bounded; undefined is stored as null). */
export type Handler<Payload = JsonValue> = (job: Job<Payload>, context: JobContext) => unknown;

/** Throw it from a handler for a failure no retry can fix: the job goes straight to `dead`. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

export interface WorkerOptions {
  /** Handlers running at once. Default 1. */
  concurrency?: number;
  /** Jobs claimed ahead into the local buffer beyond `concurrency`. Default: `concurrency`. */
  prefetch?: number;
  /** How long a claim holds a job without a heartbeat. Default 30 s. */
  leaseMs?: number;
  /** Default: a third of the lease. */
  heartbeatMs?: number;
  /** The safety poll behind NOTIFY and the due-time timer. Default 30 s. */
  pollMs?: number;
  /** How often this worker runs the reaper (every worker does; SKIP LOCKED keeps it safe). Default 5 s. */
  reapMs?: number;
  /** Round-robin claims across the queue's tenants. Default false. */
  fairTenants?: boolean;
  /** Names this worker in leases and history. Default host:pid:random. */
  workerId?: string;
  logger?: Logger;
  /** For backoff jitter; tests pass a seeded one. */
  random?: () => number;
}

export interface WorkerStats {
  claimed: number;
  succeeded: number;
  failed: number;
  /** Outcomes or heartbeats refused because the fence was stale. */
  fenced: number;
  leasesLost: number;
  reaped: number;
}

interface Held {
  row: JobRow;
  lease: HeldLease;
  controller: AbortController;
  /** An outcome has been queued (or the lease is gone): nothing more is recorded for this claim. */
  settled: boolean;
  started: boolean;
  handlerDone: boolean;
  outcomePending: boolean;
}

const CONCURRENCY_MAX = 1_000;
const CLAIM_ERROR_BACKOFF_MS = 1_000;
/** A due job another worker holds mid-claim: look again shortly rather than at the next poll. */
const DUE_RECHECK_MS = 50;

/**
 * `new Worker(queue, 'name', handler, { concurrency }).start()`: claims due jobs of one queue in
 * batches into a local buffer, runs up to `concurrency` handlers, batches their outcomes, and
 * heartbeats every held lease in one statement. It wakes on NOTIFY, on this process's enqueues,
 * on a timer set to the next due job, and on a slow safety poll; it never polls fast.
 */
export class Worker<Payload = JsonValue> {
  readonly id: string;
  readonly stats: WorkerStats = { claimed: 0, succeeded: 0, failed: 0, fenced: 0, leasesLost: 0, reaped: 0 };
  private readonly concurrency: number;
  private readonly capacity: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly reapMs: number;
  private readonly fair: boolean;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly held = new Map<string, Held>();
  private readonly buffer: Held[] = [];
  private running = 0;
  /** The claim in flight: close() waits for it, so claimed rows are released rather than left leased. */
  private claiming: Promise<void> | undefined;
  private claimAgain = false;
  private lastClaimFull = false;
  private tenantCursor: string | null = null;
  private outcomes: Outcome[] = [];
  private flushing: Promise<void> | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAtMs = Number.POSITIVE_INFINITY;
  private intervals: NodeJS.Timeout[] = [];
  private listening = false;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private idleWaiters: (() => void)[] = [];
  private readonly onLocalWake = (wake: Wake) => this.onWake(wake);
  private readonly onLocalCancel = (id: string) => this.onCancel(id);

  constructor(
    private readonly queue: JobQueue,
    readonly name: string,
    private readonly handler: Handler<Payload>,
    options: WorkerOptions = {},
  ) {
    assertQueueName(name);
    this.concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1 || this.concurrency > CONCURRENCY_MAX) {
      throw new JobQueueError(
        JobQueueErrorCode.INVALID_OPTION,
        `concurrency must be in [1, ${CONCURRENCY_MAX}]`,
      );
    }
    const prefetch = options.prefetch ?? this.concurrency;
    if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > CONCURRENCY_MAX) {
      throw new JobQueueError(
        JobQueueErrorCode.INVALID_OPTION,
        `prefetch must be in [0, ${CONCURRENCY_MAX}]`,
      );
    }
    this.capacity = this.concurrency + prefetch;
    this.leaseMs = options.leaseMs ?? 30_000;
    if (!(this.leaseMs >= 100))
      throw new JobQueueError(JobQueueErrorCode.INVALID_OPTION, 'leaseMs must be >= 100');
    this.heartbeatMs = options.heartbeatMs ?? Math.floor(this.leaseMs / 3);
    if (!(this.heartbeatMs > 0 && this.heartbeatMs < this.leaseMs)) {
      throw new JobQueueError(
        JobQueueErrorCode.INVALID_OPTION,
        'heartbeatMs must be positive and below leaseMs',
      );
    }
    this.pollMs = options.pollMs ?? 30_000;
    this.reapMs = options.reapMs ?? 5_000;
    this.fair = options.fairTenants ?? false;
    this.logger = options.logger ?? silentLogger;
    this.random = options.random ?? Math.random;
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  /** Starts listening and claiming; resolves once it listens (when the port can). */
  async start(): Promise<this> {
    if (this.state !== 'new') throw new JobQueueError(JobQueueErrorCode.STOPPED, 'a worker starts once');
    this.state = 'running';
    try {
      await this.queue.retainListener();
    } catch (error) {
      this.state = 'stopped';
      throw error;
    }
    this.listening = true;
    this.queue.local.on('wake', this.onLocalWake);
    this.queue.local.on('cancel', this.onLocalCancel);
    this.intervals.push(
      setInterval(() => this.requestClaim(), this.pollMs),
      setInterval(() => void this.heartbeat(), this.heartbeatMs),
      setInterval(() => void this.reap(), this.reapMs),
    );
    for (const interval of this.intervals) interval.unref();
    this.requestClaim();
    return this;
  }

  /** Jobs held: claimed and not yet recorded. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Stops claiming, releases buffered jobs at once, lets running handlers finish for up to
   * `graceMs`, then aborts the rest (reason STOPPED) and releases them (the attempt is not spent).
   */
  async close({ graceMs = 10_000 }: { graceMs?: number } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    if (this.state === 'stopping') return this.whenIdle();
    this.state = 'stopping';
    for (const interval of this.intervals) clearInterval(interval);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.queue.local.off('wake', this.onLocalWake);
    this.queue.local.off('cancel', this.onLocalCancel);
    await this.claiming;
    for (const held of this.buffer.splice(0)) this.settle(held, { ok: 'released' });
    // A handler that ignores its aborted signal keeps running, but its job is released (its fence
    // is stale) and close() does not wait for it past the grace period.
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      graceTimer = setTimeout(() => {
        for (const held of this.held.values()) {
          if (held.settled) continue;
          held.controller.abort(new JobQueueError(JobQueueErrorCode.STOPPED, 'the worker is stopping'));
          this.settle(held, { ok: 'released' });
        }
        void Promise.resolve(this.flushing).then(() => resolve());
      }, graceMs);
    });
    await Promise.race([this.whenIdle(), graceOver]);
    clearTimeout(graceTimer);
    await this.flushing;
    if (this.listening) await this.queue.releaseListener().catch(() => undefined);
    this.state = 'stopped';
  }

  private whenIdle(): Promise<void> {
    if (this.held.size === 0 && this.outcomes.length === 0 && !this.flushing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private onWake(wake: Wake): void {
    if (wake.queue === '*') {
      this.requestClaim();
      return;
    }
    if (wake.queue !== this.name || this.state !== 'running') return;
    if (!(wake.runAtMs > this.queue.now())) this.requestClaim();
    else this.wakeAt(wake.runAtMs);
  }

  private onCancel(id: string): void {
    const held = this.held.get(id);
    if (!held || held.settled) return;
    held.settled = true;
    held.controller.abort(new JobQueueError(JobQueueErrorCode.LEASE_LOST, `job ${id} was cancelled`));
    this.dropFromBuffer(held);
    this.maybeRelease(held);
  }

  private wakeAt(atMs: number): void {
    // Further out than the safety poll: the poll comes first and sets the timer again then (this
    // also keeps the delay inside setTimeout's 2^31 ms range).
    if (atMs >= this.wakeAtMs || atMs - this.queue.now() > this.pollMs) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAtMs = atMs;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.wakeAtMs = Number.POSITIVE_INFINITY;
        this.requestClaim();
      },
      Math.max(0, atMs - this.queue.now()),
    );
    this.wakeTimer.unref();
  }

  private requestClaim(): void {
    if (this.state !== 'running') return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claimAgain = false;
    const loop = this.claimLoop();
    this.claiming = loop;
    void loop.finally(() => {
      if (this.claiming !== loop) return;
      this.claiming = undefined;
      // A request that came while the loop was finishing.
      if (this.claimAgain) this.requestClaim();
    });
  }

  private async claimLoop(): Promise<void> {
    try {
      do {
        this.claimAgain = false;
        const free = this.capacity - this.occupied();
        if (free <= 0 || this.state !== 'running') break;
        const rows = await claim(this.queue, {
          queue: this.name,
          limit: free,
          worker: this.id,
          leaseMs: this.leaseMs,
          fair: this.fair,
          tenantCursor: this.tenantCursor,
        });
        this.accept(rows);
        this.lastClaimFull = rows.length === free;
        if (!this.lastClaimFull) await this.waitForNextDue();
      } while (this.claimAgain && this.state === 'running');
    } catch (error) {
      this.logger.error({ err: error, queue: this.name }, 'job-queue claim failed');
      this.wakeAt(this.queue.now() + CLAIM_ERROR_BACKOFF_MS);
    }
  }

  private accept(rows: JobRow[]): void {
    for (const row of rows) {
      const held: Held = {
        row,
        lease: { id: String(row.id), fence: String(row.fence) },
        controller: new AbortController(),
        settled: false,
        started: false,
        handlerDone: false,
        outcomePending: false,
      };
      this.held.set(held.lease.id, held);
      this.buffer.push(held);
      this.tenantCursor = row.tenant;
    }
    this.stats.claimed += rows.length;
    if (this.state !== 'running') {
      for (const held of this.buffer.splice(0)) this.settle(held, { ok: 'released' });
      return;
    }
    this.startFromBuffer();
  }

  private async waitForNextDue(): Promise<void> {
    const dueMs = await nextStartMs(this.queue, this.name);
    if (dueMs === null) return;
    this.wakeAt(Math.max(dueMs, this.queue.now() + DUE_RECHECK_MS));
  }

  private startFromBuffer(): void {
    while (this.running < this.concurrency && this.buffer.length > 0) {
      const held = this.buffer.shift() as Held;
      if (held.settled) continue;
      void this.run(held);
    }
  }

  private dropFromBuffer(held: Held): void {
    const index = this.buffer.indexOf(held);
    if (index >= 0) this.buffer.splice(index, 1);
  }

  private async run(held: Held): Promise<void> {
    held.started = true;
    this.running += 1;
    const job = jobOf<Payload>(held.row);
    const logger =
      this.logger.child?.({ jobId: job.id, queue: job.queue, attempt: job.attempts }) ?? this.logger;
    const timeout = setTimeout(() => {
      const error = new JobQueueError(
        JobQueueErrorCode.TIMEOUT,
        `job ${job.id} ran past its ${job.timeoutMs} ms timeout`,
      );
      held.controller.abort(error);
      this.fail(held, error);
    }, job.timeoutMs);
    try {
      const output = await this.handler(job, this.contextFor(held, logger));
      if (!held.settled) {
        const outputJson = jsonWithin('output', output ?? null, this.queue.limits.outputBytesMax);
        this.settle(held, { ok: true, outputJson });
      }
    } catch (error) {
      if (!held.settled) this.fail(held, error);
    } finally {
      clearTimeout(timeout);
      this.running -= 1;
      held.handlerDone = true;
      this.maybeRelease(held);
      this.startFromBuffer();
      this.afterSlotsFreed();
    }
  }

  private contextFor(held: Held, logger: Logger): JobContext {
    return {
      signal: held.controller.signal,
      fence: held.lease.fence,
      logger,
      progress: async (value) => {
        const json = jsonWithin('progress', value, this.queue.limits.outputBytesMax);
        if (held.settled || !(await recordProgress(this.queue, held.lease, json))) {
          throw this.fenced(held, 'progress');
        }
      },
      dependencies: () => dependencyResults(this.queue, held.lease.id),
      addChildren: async (children) => {
        if (held.settled) throw this.fenced(held, 'addChildren');
        return addChildren(this.queue, held.lease, children);
      },
    };
  }

  private fenced(held: Held, what: string): JobQueueError {
    this.stats.fenced += 1;
    return new JobQueueError(
      JobQueueErrorCode.FENCED,
      `${what} refused: job ${held.lease.id} fence ${held.lease.fence} is stale`,
    );
  }

  private fail(held: Held, error: unknown): void {
    const attempt = held.row.attempts;
    const record = errorRecordOf(error);
    const retryAtMs = this.queue.now() + retryDelayMs(jobOf(held.row).backoff, attempt, this.random);
    this.settle(held, { ok: false, error: record, retryAtMs, permanent: error instanceof PermanentJobError });
  }

  private settle(held: Held, result: Outcome['result']): void {
    if (held.settled) return;
    held.settled = true;
    held.outcomePending = true;
    this.outcomes.push({ ...held.lease, hasDependents: held.row.has_dependents, result });
    if (!this.flushing) this.flushing = this.flush();
  }

  /** Writes the queued outcomes in one statement (a transaction when dependents need settling). */
  private async flush(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.outcomes.length > 0) {
      const batch = this.outcomes.splice(0);
      try {
        const report = await recordOutcomes(this.queue, batch, this.id);
        for (const outcome of batch) {
          if (!report.accepted.has(outcome.id)) {
            this.stats.fenced += 1;
            this.logger.warn(
              { jobId: outcome.id, fence: outcome.fence },
              'job-queue outcome refused: stale fence',
            );
          } else if (outcome.result.ok === true) this.stats.succeeded += 1;
          else if (outcome.result.ok === false) this.stats.failed += 1;
        }
      } catch (error) {
        // The outcomes are lost with the connection; the leases lapse and the reaper retries the
        // jobs, which is the at-least-once promise.
        this.logger.error({ err: error, jobs: batch.length }, 'job-queue could not record outcomes');
      }
      for (const outcome of batch) {
        const held = this.held.get(outcome.id);
        if (!held) continue;
        held.outcomePending = false;
        this.maybeRelease(held);
      }
    }
    this.flushing = undefined;
    this.afterSlotsFreed();
  }

  /**
   * Held jobs that still take room: a job whose handler has returned and whose outcome only waits
   * to be written does not, so the next claim runs beside that write instead of after it. Jobs
   * awaiting their write are bounded by the room they left.
   */
  private occupied(): number {
    let count = 0;
    for (const held of this.held.values())
      if (!(held.outcomePending && (held.handlerDone || !held.started))) count += 1;
    return count;
  }

  /** A held job leaves once its handler (if started) has returned and its outcome is written. */
  private maybeRelease(held: Held): void {
    if ((held.started && !held.handlerDone) || held.outcomePending) return;
    if (this.held.get(held.lease.id) !== held) return;
    this.held.delete(held.lease.id);
    this.afterSlotsFreed();
  }

  private afterSlotsFreed(): void {
    if (this.held.size === 0 && this.outcomes.length === 0 && !this.flushing) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
    if (this.state !== 'running' || !this.lastClaimFull) return;
    const free = this.capacity - this.occupied();
    if (this.buffer.length === 0 || free * 2 >= this.capacity) this.requestClaim();
  }

  private async heartbeat(): Promise<void> {
    const leases = [...this.held.values()].filter((held) => !held.settled).map((held) => held.lease);
    if (leases.length === 0) return;
    try {
      const kept = await heartbeat(this.queue, leases, this.leaseMs);
      for (const lease of leases) {
        if (kept.has(lease.id)) continue;
        const held = this.held.get(lease.id);
        if (!held || held.settled) continue;
        this.stats.leasesLost += 1;
        held.settled = true;
        held.controller.abort(
          new JobQueueError(JobQueueErrorCode.LEASE_LOST, `lost the lease of job ${lease.id}`),
        );
        this.dropFromBuffer(held);
        this.maybeRelease(held);
      }
    } catch (error) {
      this.logger.error({ err: error }, 'job-queue heartbeat failed');
    }
  }

  private async reap(): Promise<void> {
    try {
      this.stats.reaped += await reap(this.queue);
    } catch (error) {
      this.logger.error({ err: error }, 'job-queue reaper failed');
    }
  }
}
