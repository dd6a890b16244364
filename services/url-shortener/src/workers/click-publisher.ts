import { randomUUID } from 'node:crypto';
import { type BusLogger, type EventBus, MESSAGE_ID_HEADER } from '@sysdesign/platform';
import { CLICKS_TOPIC, type ClickEvent, type ClickMessageValue } from '../domain/clicks.js';

/**
 * Publishes clicks without ever making a redirect wait. `record()` is synchronous and cannot
 * fail: it appends to a buffer. The buffer is sealed into one `url.clicked` message when it holds
 * `batchMax` clicks or `lingerMs` after its first click (Kafka's `linger.ms`), and sealed batches
 * are published one at a time, in order, each under an id chosen here: a publish that failed or
 * timed out is retried with the same id, so the aggregator applies it once however many copies
 * reach the log. Past `bufferMax` waiting clicks (the bus is down for long), new clicks are
 * dropped and counted rather than held without bound.
 *
 * What a crash can lose: the clicks of the current linger window and any batch not yet accepted
 * by the bus (at most `lingerMs` of clicks while the bus is healthy). Closing publishes them.
 */

export const PUBLISH_RETRY_BASE_MS = 100;
export const PUBLISH_RETRY_MAX_MS = 5_000;
export const CLOSE_TIMEOUT_MS = 5_000;

export interface ClickPublisherObserver {
  onPublished?(clicks: number): void;
  onDropped?(clicks: number): void;
  onPublishFailed?(error: unknown): void;
}

export interface ClickPublisherOptions {
  bus: EventBus;
  topic?: string;
  lingerMs: number;
  batchMax: number;
  bufferMax: number;
  logger: BusLogger;
  observer?: ClickPublisherObserver;
}

interface SealedBatch {
  id: string;
  clicks: ClickEvent[];
}

export class ClickPublisher {
  private buffer: ClickEvent[] = [];
  private readonly sealed: SealedBatch[] = [];
  private sealedClicks = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private failures = 0;
  private closed = false;
  private readonly topic: string;
  private readonly observer: ClickPublisherObserver;

  constructor(private readonly options: ClickPublisherOptions) {
    this.topic = options.topic ?? CLICKS_TOPIC;
    this.observer = options.observer ?? {};
  }

  /** Clicks recorded and not yet accepted by the bus. */
  get waiting(): number {
    return this.buffer.length + this.sealedClicks;
  }

  record(click: ClickEvent): void {
    if (this.closed || this.waiting >= this.options.bufferMax) {
      this.observer.onDropped?.(1);
      return;
    }
    this.buffer.push(click);
    if (this.buffer.length >= this.options.batchMax) this.seal();
    else if (this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => this.seal(), this.options.lingerMs);
      this.lingerTimer.unref();
    }
  }

  private seal(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.buffer.length === 0) return;
    this.sealed.push({ id: randomUUID(), clicks: this.buffer });
    this.sealedClicks += this.buffer.length;
    this.buffer = [];
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private async pump(): Promise<void> {
    while (this.sealed.length > 0) {
      const batch = this.sealed[0]!;
      try {
        const value: ClickMessageValue = { v: 1, clicks: batch.clicks };
        await this.options.bus.publish(this.topic, batch.id, value, { [MESSAGE_ID_HEADER]: batch.id });
      } catch (error) {
        this.failures++;
        this.observer.onPublishFailed?.(error);
        if (this.failures === 1)
          this.options.logger.warn({ err: error }, 'publishing clicks failed; retrying');
        if (this.closed) return;
        await new Promise((resolve) =>
          setTimeout(
            resolve,
            Math.min(PUBLISH_RETRY_MAX_MS, PUBLISH_RETRY_BASE_MS * 2 ** Math.min(this.failures - 1, 10)),
          ).unref(),
        );
        continue;
      }
      if (this.failures > 0)
        this.options.logger.info({ failures: this.failures }, 'publishing clicks recovered');
      this.failures = 0;
      this.sealed.shift();
      this.sealedClicks -= batch.clicks.length;
      this.observer.onPublished?.(batch.clicks.length);
    }
  }

  /** Seals the buffer and resolves once every sealed batch was published (tests, shutdown). */
  async flush(): Promise<void> {
    this.seal();
    while (this.pumping) await this.pumping;
  }

  /** Publishes what is waiting, for up to `timeoutMs`; what is still waiting then is dropped and counted. */
  async close(timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
    this.seal();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([this.flush().then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    this.closed = true;
    if (outcome === 'timeout' && this.waiting > 0) {
      this.options.logger.error({ clicks: this.waiting }, 'clicks not published before shutdown; dropped');
      this.observer.onDropped?.(this.waiting);
    }
  }
}
