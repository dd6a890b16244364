import type { BusLogger, BusMessage, EventBus, Subscription } from '@sysdesign/platform';
import { CLICKS_TOPIC, type ClickBatch, parseClickMessage } from '../domain/clicks.js';
import type { ApplyResult, ClickStore, RetentionPolicy } from '../store/click-store.js';

/**
 * The click aggregator: consumes `url.clicked`, counts in memory, and flushes the counts to the
 * store in one transaction per flush (idempotent upserts, the ids of the applied messages, and a
 * checkpoint per partition).
 *
 * The bus commits a message once its handler resolves, so the handler resolves only after the
 * flush that counted it committed: a crash before the flush leaves the message uncommitted, and
 * the bus delivers it again to whoever consumes next. That redelivery, and any other duplicate
 * (a publisher retry, a rebalance), meets its id in the store and adds nothing. Together: every
 * click is counted exactly once, whatever crashes.
 *
 * A partition hands over one message at a time, so while messages wait on a flush their
 * partitions wait too. The aggregator therefore flushes:
 * - at the latest `flushIntervalMs` after the oldest message it holds;
 * - as soon as it holds `flushMaxClicks` clicks;
 * - when no new message arrived for `flushIdleMs`: every partition it owns is waiting on this
 *   flush, or the stream is quiet, so waiting longer would only add lag.
 * A failed flush keeps its messages held (nothing is committed) and is retried with backoff.
 */

export const DEFAULT_GROUP = 'url-shortener.click-aggregator';
export const FLUSH_RETRY_BASE_MS = 100;
export const FLUSH_RETRY_MAX_MS = 10_000;
export const PRUNE_EVERY_MS = 10 * 60_000;

export interface FlushReport extends ApplyResult {
  batches: number;
  durationMs: number;
}

export interface ClickAggregatorObserver {
  onFlushed?(report: FlushReport): void;
  onFlushFailed?(error: unknown): void;
  onInvalidMessage?(): void;
  /** Clicks held in memory, waiting for a flush. */
  onHeld?(clicks: number): void;
}

export interface ClickAggregatorOptions {
  bus: EventBus;
  store: ClickStore;
  topic?: string;
  group?: string;
  flushIntervalMs: number;
  flushMaxClicks: number;
  flushIdleMs: number;
  retention: RetentionPolicy;
  logger: BusLogger;
  observer?: ClickAggregatorObserver;
  nowMs?: () => number;
}

interface Held {
  batch: ClickBatch;
  /** Every delivery of this id waits on the same flush. */
  done: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

export class AggregatorStoppedError extends Error {
  override name = 'AggregatorStoppedError';
}

export class ClickAggregator {
  private subscription: Subscription | undefined;
  private readonly held = new Map<string, Held>();
  private heldClicks = 0;
  private intervalTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failures = 0;
  private stopped = false;
  private lastPruneMs: number;
  private readonly nowMs: () => number;
  private readonly observer: ClickAggregatorObserver;
  readonly topic: string;
  readonly group: string;

  private constructor(private readonly options: ClickAggregatorOptions) {
    this.topic = options.topic ?? CLICKS_TOPIC;
    this.group = options.group ?? DEFAULT_GROUP;
    this.nowMs = options.nowMs ?? Date.now;
    this.observer = options.observer ?? {};
    this.lastPruneMs = this.nowMs();
  }

  static async start(options: ClickAggregatorOptions): Promise<ClickAggregator> {
    const aggregator = new ClickAggregator(options);
    aggregator.subscription = await options.bus.subscribe(aggregator.topic, aggregator.group, (message) =>
      aggregator.handle(message),
    );
    return aggregator;
  }

  /** Clicks held in memory, not yet flushed. */
  get pendingClicks(): number {
    return this.heldClicks;
  }

  private handle(message: BusMessage<unknown>): Promise<void> {
    if (this.stopped) return Promise.reject(new AggregatorStoppedError('the aggregator is stopping'));
    const clicks = parseClickMessage(message.value);
    if (clicks === undefined) {
      // No retry can make it valid: count it, log it, and let the bus commit past it.
      this.observer.onInvalidMessage?.();
      this.options.logger.warn(
        { id: message.id, partition: message.partition, offset: message.offset },
        'invalid url.clicked message skipped',
      );
      return Promise.resolve();
    }
    const existing = this.held.get(message.id);
    if (existing) return existing.done;
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const done = new Promise<void>((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    const batch: ClickBatch = {
      id: message.id,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      clicks,
    };
    this.held.set(message.id, { batch, done, resolve, reject });
    this.heldClicks += batch.clicks.length;
    this.observer.onHeld?.(this.heldClicks);
    this.armTimers();
    if (this.heldClicks >= this.options.flushMaxClicks) this.flushSoon();
    return done;
  }

  private armTimers(): void {
    if (this.intervalTimer === undefined) {
      this.intervalTimer = setTimeout(() => this.flushSoon(), this.options.flushIntervalMs);
      this.intervalTimer.unref();
    }
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => this.flushSoon(), this.options.flushIdleMs);
      this.idleTimer.unref();
    } else {
      this.idleTimer.refresh();
    }
  }

  private clearTimers(): void {
    clearTimeout(this.intervalTimer);
    clearTimeout(this.idleTimer);
    this.intervalTimer = undefined;
    this.idleTimer = undefined;
  }

  /** Starts a flush unless one runs; a running one is followed by another if messages wait. */
  private flushSoon(): void {
    if (this.flushing || this.retryTimer !== undefined) return;
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = undefined;
      if (this.held.size > 0 && this.retryTimer === undefined && !this.stopped) this.armTimers();
    });
  }

  private async flushOnce(): Promise<void> {
    this.clearTimers();
    if (this.held.size === 0) return;
    const taken = [...this.held.values()];
    this.held.clear();
    this.heldClicks = 0;
    const started = performance.now();
    let result: ApplyResult;
    try {
      result = await this.options.store.apply(taken.map((entry) => entry.batch));
    } catch (error) {
      if (this.stopped) {
        // Stopping: hand them back to the bus uncommitted rather than hold them again.
        for (const entry of taken)
          entry.reject(new AggregatorStoppedError('the aggregator stopped; flush failed'));
        return;
      }
      this.putBack(taken);
      this.failures++;
      this.observer.onFlushFailed?.(error);
      this.options.logger.warn(
        { err: error, failures: this.failures },
        'click flush failed; messages stay uncommitted',
      );
      const delayMs = Math.min(
        FLUSH_RETRY_MAX_MS,
        FLUSH_RETRY_BASE_MS * 2 ** Math.min(this.failures - 1, 16),
      );
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.flushSoon();
      }, delayMs);
      this.retryTimer.unref();
      return;
    }
    this.failures = 0;
    for (const entry of taken) entry.resolve();
    this.observer.onHeld?.(this.heldClicks);
    this.observer.onFlushed?.({ ...result, batches: taken.length, durationMs: performance.now() - started });
    await this.pruneIfDue();
  }

  private putBack(taken: Held[]): void {
    for (const entry of taken) {
      if (this.held.has(entry.batch.id)) continue;
      this.held.set(entry.batch.id, entry);
      this.heldClicks += entry.batch.clicks.length;
    }
  }

  private async pruneIfDue(): Promise<void> {
    const now = this.nowMs();
    if (now - this.lastPruneMs < PRUNE_EVERY_MS) return;
    this.lastPruneMs = now;
    try {
      await this.options.store.prune(now, this.options.retention);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'pruning click data failed; will retry');
    }
  }

  /** Flushes what it holds now and waits for it (tests; shutdown). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.flushSoon();
    while (this.flushing) await this.flushing;
  }

  /**
   * Graceful stop: leaves the group, flushes what it holds (so the bus commits it), and gives
   * back whatever could not be flushed: uncommitted, it is redelivered to the next consumer.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    const leaving = this.subscription?.close();
    this.stopped = true;
    try {
      await this.flush();
    } finally {
      this.release(new AggregatorStoppedError('the aggregator stopped before flushing'));
      await leaving;
    }
  }

  /**
   * Stops the way a crash would: nothing more is flushed and what is held is dropped from
   * memory. Its messages stay uncommitted and come back to the next consumer. For fault tests.
   */
  async abandon(): Promise<void> {
    if (this.stopped) return;
    const leaving = this.subscription?.close();
    this.stopped = true;
    this.release(new AggregatorStoppedError('the aggregator was abandoned'));
    await leaving;
  }

  private release(error: Error): void {
    this.clearTimers();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const entry of this.held.values()) entry.reject(error);
    this.held.clear();
    this.heldClicks = 0;
  }
}
