import type { Redis } from 'ioredis';
import { pause } from './delivery.js';
import type { BusLogger } from './port.js';
import { entriesOf, type StreamEntry } from './redis-streams-entries.js';

/**
 * A subscription's one blocking read: XREADGROUP ... BLOCK over every partition it reads now, on
 * a connection of its own. When the set of partitions changes, CLIENT UNBLOCK (from the command
 * connection) ends the read in flight so the next one covers the new set; a partition that stops
 * waits in `released()` until no read covers it, so entries read for it after that cannot exist.
 */

/** Retries of CLIENT UNBLOCK when it arrived before the read blocked. */
const UNBLOCK_ATTEMPTS_MAX = 200;
const UNBLOCK_RETRY_MS = 5;

export interface ReadPartition {
  readonly partition: number;
  readonly stream: string;
}

export interface ReaderHost<Partition extends ReadPartition> {
  /** True once the subscription closes: the loop ends. */
  stopped(): boolean;
  /** The partitions to read now; none means wait until woken. */
  readable(): Partition[];
  /** Whether a partition may still take entries (false once it stopped). */
  reads(partition: Partition): boolean;
  /** Entries read for a partition that still reads them. */
  queue(partition: Partition, entries: StreamEntry[]): void;
  /** A read failed; resolves when the next may start. */
  failed(error: unknown): Promise<void>;
}

export interface ReaderOptions {
  group: string;
  consumer: string;
  readBatch: number;
  blockMs: number;
  logger: BusLogger;
}

export class BlockingReader<Partition extends ReadPartition> {
  private clientId: number | undefined;
  /** Partitions the read in flight covers; undefined between reads. */
  private reading: ReadonlySet<number> | undefined;
  private readNumber = 0;
  private readEnded: Promise<void> = Promise.resolve();
  private unblockingRead = -1;
  private idle: (() => void) | undefined;

  constructor(
    private readonly blocking: Redis,
    private readonly commands: Redis,
    private readonly options: ReaderOptions,
    private readonly host: ReaderHost<Partition>,
  ) {
    // A reconnected connection has a new client id.
    blocking.on('ready', () => {
      this.clientId = undefined;
    });
  }

  /** Reads until the host stops. */
  async run(): Promise<void> {
    while (!this.host.stopped()) {
      const partitions = this.host.readable();
      if (partitions.length === 0) {
        await new Promise<void>((resolve) => {
          this.idle = resolve;
        });
        this.idle = undefined;
        continue;
      }
      let reply: unknown;
      let endRead!: () => void;
      this.readEnded = new Promise((resolve) => {
        endRead = resolve;
      });
      try {
        this.clientId ??= Number(await this.blocking.client('ID'));
        // A partition that stopped while the id was fetched must not be read again.
        if (this.host.stopped() || !partitions.every((partition) => this.host.reads(partition))) continue;
        reply = await this.readOnce(partitions);
      } catch (error) {
        if (this.host.stopped()) return;
        await this.host.failed(error);
        continue;
      } finally {
        this.reading = undefined;
        endRead();
      }
      const entries = entriesOf(reply);
      for (const partition of partitions) {
        const read = entries.get(partition.stream);
        // A partition that stopped during the read leaves its entries pending for its next owner.
        if (read && read.length > 0 && this.host.reads(partition)) this.host.queue(partition, read);
      }
    }
  }

  private readOnce(partitions: readonly Partition[]): Promise<unknown> {
    const { group, consumer, readBatch, blockMs } = this.options;
    this.readNumber++;
    this.reading = new Set(partitions.map((partition) => partition.partition));
    return this.blocking.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      readBatch,
      'BLOCK',
      blockMs,
      'STREAMS',
      ...partitions.map((partition) => partition.stream),
      ...partitions.map(() => '>'),
    );
  }

  /** The partitions to read changed: start a read that covers the new set. */
  wake(): void {
    this.wakeIdle();
    this.unblock();
  }

  /** Room in the buffer or a new partition: an idle loop looks again. */
  wakeIdle(): void {
    this.idle?.();
  }

  /** Resolves once no read in flight covers `partition`. */
  async released(partition: number): Promise<void> {
    while (this.reading?.has(partition)) {
      this.unblock();
      await this.readEnded;
    }
  }

  private unblock(): void {
    const read = this.readNumber;
    if (this.reading === undefined || this.unblockingRead === read) return;
    this.unblockingRead = read;
    void (async () => {
      for (let attempt = 0; attempt < UNBLOCK_ATTEMPTS_MAX; attempt++) {
        if (this.readNumber !== read || this.reading === undefined || this.clientId === undefined) return;
        try {
          // 0 when the read has not blocked yet (or just returned): try again shortly.
          if ((await this.commands.client('UNBLOCK', this.clientId)) === 1) return;
        } catch (error) {
          this.options.logger.debug({ err: error }, 'CLIENT UNBLOCK failed');
        }
        await pause(UNBLOCK_RETRY_MS);
      }
    })();
  }
}
