import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Clock, systemClock } from '../clock.js';

/**
 * Worker-id leases: how Snowflake generators get distinct node ids without configuration, and
 * why a restarted or replaced worker never repeats an id.
 *
 * A lease is a row (or Redis key) per node id with an owner and an expiry. The holder renews it
 * every `ttlMs / 3`. Each renewal also records a *reach*: the latest time the holder may put into
 * an id (now + ttl). The generator refuses times beyond its reach, and a new holder of the same
 * node id starts *after* the recorded reach. So even if the old holder is a zombie with a fast
 * clock, the two never issue the same (time, node, sequence). On a clean shutdown the holder
 * records the time of its last id instead, so a quick restart does not wait out the reach.
 */

export interface WorkerSlot {
  datacenterId: number;
  workerId: number;
}

export interface WorkerLeaseStore {
  /**
   * Takes `slot` for `owner` unless another owner holds an unexpired lease on it. Resolves to the
   * slot's recorded reach (0 if never used), or null when someone else holds it.
   */
  tryAcquire(slot: WorkerSlot, owner: string, ttlMs: number): Promise<{ issuedUntilMs: number } | null>;
  /** Extends the lease and raises the recorded reach. False when `owner` no longer holds it. */
  renew(slot: WorkerSlot, owner: string, ttlMs: number, issuedUntilMs: number): Promise<boolean>;
  /** Ends the lease now and records the exact time of the owner's last id. */
  release(slot: WorkerSlot, owner: string, lastIssuedMs: number): Promise<void>;
}

/** What the lease tells the generator it guards. */
export interface LeaseListener {
  /** Ids may use times up to `reachMs`. */
  reachExtended(reachMs: number): void;
  /** The lease was taken by someone else: stop issuing ids. */
  lost(reason: string): void;
  /** Held again after a loss; ids must use times after `floorMs`. */
  regained(floorMs: number): void;
}

export type RenewalResult = 'ok' | 'lost' | 'error';

export interface WorkerLeaseOptions {
  store: WorkerLeaseStore;
  datacenterId: number;
  /** The node ids to try, in order: one for a fixed WORKER_ID, many for `auto`. */
  candidates: readonly number[];
  ttlMs: number;
  /** How long to keep trying when every candidate is held (a crashed holder's lease must expire). */
  acquireTimeoutMs?: number;
  clock?: Clock;
  owner?: string;
  onRenewal?: (result: RenewalResult, error?: unknown) => void;
}

export class NoFreeWorkerIdError extends Error {
  override name = 'NoFreeWorkerIdError';
}

/** A unique owner name for this process: host, pid and a random suffix. */
export function leaseOwnerName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** Candidates for `auto`: every id when there are few, else a random sample (Sonyflake has 65,536). */
export function autoCandidates(maxWorkerId: number, sampleSize = 256): number[] {
  const count = maxWorkerId + 1;
  const start = Math.floor(Math.random() * count);
  const all = count <= 1024;
  const size = all ? count : sampleSize;
  const candidates: number[] = [];
  for (let index = 0; index < size; index += 1) {
    candidates.push(all ? (start + index) % count : Math.floor(Math.random() * count));
  }
  return candidates;
}

const ACQUIRE_RETRY_MS = 250;

export class WorkerLease {
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private held = true;
  private stopped = false;
  private listener: LeaseListener | undefined;
  private reachMs: number;

  private constructor(
    private readonly options: WorkerLeaseOptions & { clock: Clock; owner: string },
    readonly slot: WorkerSlot,
    /** Ids must use times after this: the reach recorded by previous holders. */
    readonly floorMs: number,
  ) {
    this.reachMs = floorMs;
  }

  /** Takes the first free candidate and records an initial reach. */
  static async acquire(options: WorkerLeaseOptions): Promise<WorkerLease> {
    const resolved = {
      ...options,
      clock: options.clock ?? systemClock,
      owner: options.owner ?? leaseOwnerName(),
    };
    const deadline = resolved.clock.nowMs() + (options.acquireTimeoutMs ?? options.ttlMs + 1_000);
    for (;;) {
      for (const workerId of options.candidates) {
        const slot = { datacenterId: options.datacenterId, workerId };
        const taken = await options.store.tryAcquire(slot, resolved.owner, options.ttlMs);
        if (!taken) continue;
        const lease = new WorkerLease(resolved, slot, taken.issuedUntilMs);
        await lease.renewOnce();
        return lease;
      }
      if (resolved.clock.nowMs() >= deadline) {
        throw new NoFreeWorkerIdError(
          `no free worker id among ${options.candidates.length} candidate(s) in datacenter ${options.datacenterId}` +
            (options.candidates.length === 1
              ? ` (worker id ${options.candidates[0]} is held by another live instance)`
              : ''),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, ACQUIRE_RETRY_MS));
    }
  }

  get owner(): string {
    return this.options.owner;
  }

  get isHeld(): boolean {
    return this.held && !this.stopped;
  }

  /** The latest time ids may use, as last recorded. */
  get reach(): number {
    return this.reachMs;
  }

  /** Starts renewing every ttl/3 and reports to `listener`. */
  start(listener: LeaseListener): void {
    this.listener = listener;
    listener.reachExtended(this.reachMs);
    this.schedule(Math.floor(this.options.ttlMs / 3));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.renewing = this.tick().finally(() => {
        this.renewing = undefined;
      });
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const third = Math.floor(this.options.ttlMs / 3);
    try {
      if (this.held) await this.renewOnce();
      else await this.reacquire();
      this.schedule(third);
    } catch (error) {
      // The store did not answer: keep the reach we have (the generator stops at it) and retry soon.
      this.options.onRenewal?.('error', error);
      this.schedule(Math.max(100, Math.floor(third / 3)));
    }
  }

  private async renewOnce(): Promise<void> {
    const reach = this.options.clock.nowMs() + this.options.ttlMs;
    const ok = await this.options.store.renew(this.slot, this.options.owner, this.options.ttlMs, reach);
    if (this.stopped) return;
    if (!ok) {
      this.held = false;
      this.options.onRenewal?.('lost');
      this.listener?.lost(`worker id ${this.slot.workerId} was taken over by another instance`);
      return;
    }
    this.reachMs = Math.max(this.reachMs, reach);
    this.options.onRenewal?.('ok');
    this.listener?.reachExtended(this.reachMs);
  }

  private async reacquire(): Promise<void> {
    const taken = await this.options.store.tryAcquire(this.slot, this.options.owner, this.options.ttlMs);
    if (!taken || this.stopped) return;
    this.held = true;
    this.listener?.regained(taken.issuedUntilMs);
    await this.renewOnce();
  }

  /** Stops renewing and releases the lease, recording the time of the last id issued. */
  async stop(lastIssuedMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.renewing?.catch(() => undefined);
    if (this.held) await this.options.store.release(this.slot, this.options.owner, lastIssuedMs);
  }
}
