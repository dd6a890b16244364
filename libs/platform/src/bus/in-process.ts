import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirectoryLock, writeFileAtomicSync } from '../fs/index.js';
import {
  DEFAULT_RETRY_POLICY,
  deadLetterHeaders,
  deliverWithRetry,
  InFlight,
  normaliseRetryPolicy,
  pause,
} from './delivery.js';
import { GroupOffsets } from './group-offsets.js';
import { PartitionLog, type PartitionLogLimits, type StoredRecord } from './partition-log.js';
import {
  assertBusName,
  assertIntegerOption,
  BusError,
  BusErrorCode,
  type BusHandler,
  type BusHeaders,
  type BusLogger,
  type BusMessage,
  type BusObserver,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_MESSAGE_MAX_BYTES,
  DEFAULT_PARTITIONS,
  deadLetterTopicOf,
  type EventBus,
  MESSAGE_ID_HEADER,
  notify,
  PARTITIONS_MAX,
  type PublishReceipt,
  preparePublish,
  type RetryPolicy,
  type SubscribeOptions,
  type Subscription,
  stderrBusLogger,
} from './port.js';
import type { FsyncMode } from './record-file.js';

/**
 * The embedded event bus: every service of the process shares one instance. Each topic is a set
 * of partition logs (partition-log.ts); each consumer group keeps a position per partition
 * (group-offsets.ts) and runs one delivery loop per partition, which hands the next message to
 * whichever subscription of the group owns that partition now. One loop per partition is what
 * keeps a key's messages in order and keeps two subscriptions of a group from handling the same
 * message: a rebalance only changes who gets the next message.
 *
 * With `dir`, messages and positions are files (layout below) written before `publish` or the
 * commit returns, so a process crash loses nothing acknowledged; `fsync: 'always'` extends that
 * to an OS crash. Without `dir`, everything is in memory.
 *
 *   <dir>/LOCK
 *   <dir>/topics/<topic>/topic.json               {"partitions": 8}
 *   <dir>/topics/<topic>/<partition>/<base>.log   segments of records
 *   <dir>/topics/<topic>/groups/<group>.offsets   committed positions
 */

export const DEFAULT_SEGMENT_BYTES = 1_048_576;
/** Per partition: 8 partitions x 8 MiB bound a topic's memory at 64 MiB. */
export const DEFAULT_RETENTION_BYTES = 8 * 1_048_576;
export const SEGMENT_BYTES_MAX = 1_073_741_824;
export const TOPICS_MAX = 1_000;
export const GROUPS_PER_TOPIC_MAX = 100;
export const SUBSCRIPTIONS_PER_GROUP_MAX = 64;
/** Deliveries a partition loop makes before yielding to the event loop, so a backlog cannot starve I/O. */
export const DELIVERIES_PER_TURN = 256;

export interface InProcessBusOptions {
  /** Keep the logs here (durable across a process crash); absent: memory only. */
  dir?: string | undefined;
  /** `always`: fsync every append and commit (survives an OS crash, slower). Default `never`. */
  fsync?: FsyncMode | undefined;
  /** Partitions of a topic this bus creates; an existing topic keeps its count. */
  partitions?: number;
  segmentBytes?: number;
  /** Per partition; sealed segments beyond it are deleted even if a group has not read them. */
  retentionBytes?: number;
  messageMaxBytes?: number;
  topicsMax?: number;
  drainTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  observer?: BusObserver;
  logger?: BusLogger;
  /** The clock for message timestamps, in ms since the epoch. */
  now?: () => number;
}

interface Params extends PartitionLogLimits {
  dir: string | undefined;
  fsync: FsyncMode;
  partitions: number;
  messageMaxBytes: number;
  topicsMax: number;
  drainTimeoutMs: number;
  retry: RetryPolicy;
  observer: BusObserver | undefined;
  logger: BusLogger;
  now: () => number;
}

function normalise(options: InProcessBusOptions): Params {
  const segmentBytes = assertIntegerOption(
    'segmentBytes',
    options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
    1,
    SEGMENT_BYTES_MAX,
  );
  return {
    dir: options.dir,
    fsync: options.fsync ?? 'never',
    partitions: assertIntegerOption(
      'partitions',
      options.partitions ?? DEFAULT_PARTITIONS,
      1,
      PARTITIONS_MAX,
    ),
    segmentBytes,
    retentionBytes: assertIntegerOption(
      'retentionBytes',
      options.retentionBytes ?? DEFAULT_RETENTION_BYTES,
      0,
      2 ** 40,
    ),
    messageMaxBytes: assertIntegerOption(
      'messageMaxBytes',
      options.messageMaxBytes ?? DEFAULT_MESSAGE_MAX_BYTES,
      1,
      2 ** 30,
    ),
    topicsMax: assertIntegerOption('topicsMax', options.topicsMax ?? TOPICS_MAX, 1, 1_000_000),
    drainTimeoutMs: assertIntegerOption(
      'drainTimeoutMs',
      options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      0,
      3_600_000,
    ),
    retry: normaliseRetryPolicy(options.retry, DEFAULT_RETRY_POLICY),
    observer: options.observer,
    logger: options.logger ?? stderrBusLogger,
    now: options.now ?? Date.now,
  };
}

interface Topic {
  name: string;
  logs: PartitionLog[];
  groups: Map<string, ConsumerGroup>;
  /** Absent in memory-only mode. */
  dir: string | undefined;
}

/** What groups and subscriptions need from their bus. */
interface BusContext {
  readonly params: Params;
  readonly closed: boolean;
  /** Crashed (`crash()`): nothing more is written, not even a commit of a message just handled. */
  readonly crashed: boolean;
  appendDeadLetter(topic: string, key: string, valueJson: string, headers: BusHeaders): void;
  trim(topic: Topic, partition: number): void;
}

/** FNV-1a over the key's UTF-16 code units: cheap, stable across runs, well spread. */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

export class InProcessEventBus implements EventBus, BusContext {
  readonly kind = 'in-process';
  private readonly topics = new Map<string, Topic>();
  private readonly subscriptions = new Set<InProcessSubscription>();
  private closing: Promise<void> | undefined;
  /** Publishing stays open while close() drains handlers, which may publish what they produce. */
  private acceptingPublishes = true;
  private hasCrashed = false;

  private constructor(
    readonly params: Params,
    private readonly lock: DirectoryLock | undefined,
  ) {}

  /** A memory-only bus, or the durable one kept in `options.dir` (recovered if it exists). */
  static async open(options: InProcessBusOptions = {}): Promise<InProcessEventBus> {
    const params = normalise(options);
    if (!params.dir) return new InProcessEventBus(params, undefined);
    mkdirSync(join(params.dir, 'topics'), { recursive: true });
    // One writer per directory: two would interleave appends and corrupt the logs.
    const lock = DirectoryLock.acquire(params.dir, {
      lockedError: ({ message }) => new BusError(BusErrorCode.dirLocked, `bus directory ${message}`),
    });
    const bus = new InProcessEventBus(params, lock);
    try {
      bus.recover(params.dir);
    } catch (error) {
      bus.closeFiles('release the lock');
      throw error;
    }
    return bus;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  get crashed(): boolean {
    return this.hasCrashed;
  }

  async publish(
    topic: string,
    key: string,
    value: unknown,
    headers: BusHeaders = {},
  ): Promise<PublishReceipt> {
    const message = preparePublish(
      this.acceptingPublishes,
      topic,
      key,
      value,
      headers,
      this.params.messageMaxBytes,
    );
    return this.append(topic, key, message.valueJson, message.headers);
  }

  async subscribe<Value = unknown>(
    topic: string,
    group: string,
    handler: BusHandler<Value>,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    this.assertOpen();
    assertBusName('topic', topic);
    assertBusName('group', group);
    const policy = normaliseRetryPolicy(options.retry, this.params.retry);
    const state = this.groupOf(this.topicOf(topic), group, options.fromBeginning ?? true);
    const subscription = new InProcessSubscription(
      state,
      handler as BusHandler<unknown>,
      policy,
      options.observer,
      this,
    );
    state.join(subscription);
    this.subscriptions.add(subscription);
    void subscription.closed.then(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async ping(): Promise<void> {
    this.assertOpen();
    if (this.params.dir) accessSync(this.params.dir, constants.W_OK);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * For tests: this instance dies as under kill -9. Publishing and delivery stop at once, a handler
   * still running is abandoned with its message uncommitted, nothing more reaches the files, and
   * the directory's lock file stays behind naming this process, so the next open of the directory
   * (here or in another process) takes it over as a dead owner's. Only what was written survives.
   */
  crash(): void {
    if (this.closing) return;
    this.hasCrashed = true;
    this.acceptingPublishes = false;
    this.closing = Promise.resolve();
    for (const subscription of this.subscriptions) subscription.stopAtCrash();
    this.closeFiles('abandon the lock');
  }

  private async shutdown(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    const loops: Promise<void>[] = [];
    for (const topic of this.topics.values())
      for (const group of topic.groups.values()) loops.push(group.stopped());
    await Promise.all(loops);
    this.acceptingPublishes = false;
    this.closeFiles('release the lock');
  }

  private closeFiles(lockEnding: 'release the lock' | 'abandon the lock'): void {
    for (const topic of this.topics.values()) {
      for (const log of topic.logs) log.close();
      for (const group of topic.groups.values()) group.offsets.close();
    }
    if (lockEnding === 'release the lock') this.lock?.release();
    else this.lock?.abandon();
  }

  private assertOpen(): void {
    if (this.closed) throw new BusError(BusErrorCode.closed, 'the event bus is closed');
  }

  /** Appends a message whose size and headers were already checked. */
  private append(topicName: string, key: string, valueJson: string, headers: BusHeaders): PublishReceipt {
    const topic = this.topicOf(topicName);
    const partition = partitionOf(key, topic.logs.length);
    const log = topic.logs[partition]!;
    const segmentsBefore = log.segmentCount;
    const record = log.append({ timestamp: this.params.now(), key, headers, valueJson });
    if (log.segmentCount !== segmentsBefore) this.trim(topic, partition);
    notify([this.params.observer], { type: 'published', topic: topicName, partition }, this.params.logger);
    for (const group of topic.groups.values()) group.wake(partition);
    return { id: headers[MESSAGE_ID_HEADER]!, partition, offset: String(record.offset) };
  }

  appendDeadLetter(topic: string, key: string, valueJson: string, headers: BusHeaders): void {
    if (this.hasCrashed) return;
    this.append(deadLetterTopicOf(topic), key, valueJson, headers);
  }

  /** Deletes what every known group has read, and what exceeds retention. */
  trim(topic: Topic, partition: number): void {
    const log = topic.logs[partition]!;
    if (log.segmentCount < 2) return;
    // Without any group, nothing counts as read: records wait for a first group until retention.
    let consumedBefore = topic.groups.size === 0 ? 0 : Number.POSITIVE_INFINITY;
    for (const group of topic.groups.values())
      consumedBefore = Math.min(consumedBefore, group.offsets.get(partition));
    log.trim(consumedBefore);
  }

  private topicOf(name: string): Topic {
    const existing = this.topics.get(name);
    if (existing) return existing;
    if (this.topics.size >= this.params.topicsMax) {
      throw new BusError(
        BusErrorCode.limitExceeded,
        `cannot create topic ${name}: ${this.params.topicsMax} topics exist`,
      );
    }
    const topic = this.params.dir
      ? this.createTopicDir(name, this.params.dir)
      : this.createTopicInMemory(name);
    this.topics.set(name, topic);
    return topic;
  }

  private createTopicInMemory(name: string): Topic {
    const logs = Array.from({ length: this.params.partitions }, (_, partition) =>
      PartitionLog.inMemory(`${name}/${partition}`, this.params, this.params.logger),
    );
    return { name, logs, groups: new Map(), dir: undefined };
  }

  private createTopicDir(name: string, root: string): Topic {
    const dir = join(root, 'topics', name);
    mkdirSync(join(dir, 'groups'), { recursive: true });
    writeFileAtomicSync(join(dir, 'topic.json'), JSON.stringify({ partitions: this.params.partitions }), {
      fsync: this.params.fsync === 'always',
    });
    return this.openTopicDir(name, dir, this.params.partitions);
  }

  private openTopicDir(name: string, dir: string, partitions: number): Topic {
    const { fsync, logger } = this.params;
    const logs = Array.from({ length: partitions }, (_, partition) =>
      PartitionLog.open(`${name}/${partition}`, join(dir, String(partition)), fsync, this.params, logger),
    );
    return { name, logs, groups: new Map(), dir };
  }

  /** Reopens every topic and group found in `root`. */
  private recover(root: string): void {
    const topicsDir = join(root, 'topics');
    for (const name of readdirSync(topicsDir)) {
      const dir = join(topicsDir, name);
      const metaPath = join(dir, 'topic.json');
      if (!existsSync(metaPath)) continue;
      const { partitions } = JSON.parse(readFileSync(metaPath, 'utf8')) as { partitions: number };
      assertBusName('topic', name);
      assertIntegerOption(`partitions of ${name}`, partitions, 1, PARTITIONS_MAX);
      const topic = this.openTopicDir(name, dir, partitions);
      this.topics.set(name, topic);
      this.recoverGroups(topic, dir);
    }
  }

  private recoverGroups(topic: Topic, dir: string): void {
    const groupsDir = join(dir, 'groups');
    mkdirSync(groupsDir, { recursive: true });
    for (const file of readdirSync(groupsDir)) {
      if (!file.endsWith('.offsets')) continue;
      const name = file.slice(0, -'.offsets'.length);
      const offsets = GroupOffsets.load(
        join(groupsDir, file),
        topic.logs.length,
        this.params.fsync,
        this.params.logger,
      );
      if (offsets) topic.groups.set(name, new ConsumerGroup(topic, name, offsets, this));
    }
  }

  private groupOf(topic: Topic, name: string, fromBeginning: boolean): ConsumerGroup {
    const existing = topic.groups.get(name);
    if (existing) return existing;
    if (topic.groups.size >= GROUPS_PER_TOPIC_MAX) {
      throw new BusError(
        BusErrorCode.limitExceeded,
        `topic ${topic.name} already has ${GROUPS_PER_TOPIC_MAX} groups`,
      );
    }
    // The starting position is recorded at once, so a restart before the first commit keeps it.
    const positions = topic.logs.map((log) => (fromBeginning ? log.startOffset : log.endOffset));
    const offsets = topic.dir
      ? GroupOffsets.create(join(topic.dir, 'groups', `${name}.offsets`), positions, this.params.fsync)
      : GroupOffsets.inMemory(positions);
    const group = new ConsumerGroup(topic, name, offsets, this);
    topic.groups.set(name, group);
    return group;
  }
}

/** One group's view of a topic: its members, who owns which partition, and one loop per partition. */
class ConsumerGroup {
  private readonly members: InProcessSubscription[] = [];
  private owners: (InProcessSubscription | undefined)[];
  private readonly loops: (Promise<void> | undefined)[];

  constructor(
    readonly topic: Topic,
    readonly name: string,
    readonly offsets: GroupOffsets,
    private readonly context: BusContext,
  ) {
    this.owners = topic.logs.map(() => undefined);
    this.loops = topic.logs.map(() => undefined);
  }

  join(member: InProcessSubscription): void {
    if (this.members.length >= SUBSCRIPTIONS_PER_GROUP_MAX) {
      throw new BusError(
        BusErrorCode.limitExceeded,
        `group ${this.name} already has ${SUBSCRIPTIONS_PER_GROUP_MAX} subscriptions`,
      );
    }
    this.members.push(member);
    this.rebalance();
  }

  leave(member: InProcessSubscription): void {
    const index = this.members.indexOf(member);
    if (index === -1) return;
    this.members.splice(index, 1);
    this.rebalance();
  }

  /** Round-robin: partition p goes to member p mod n, members in join order. */
  private rebalance(): void {
    const count = this.members.length;
    this.owners = this.topic.logs.map((_, partition) =>
      count === 0 ? undefined : this.members[partition % count],
    );
    for (let partition = 0; partition < this.owners.length; partition++) this.wake(partition);
  }

  /** Starts the partition's loop unless it runs (it then sees the new message) or nobody owns it. */
  wake(partition: number): void {
    if (this.loops[partition] || !this.owners[partition] || this.context.closed) return;
    this.loops[partition] = this.drain(partition);
  }

  /** Resolves when no loop of this group runs. */
  async stopped(): Promise<void> {
    await Promise.all(this.loops);
  }

  private async drain(partition: number): Promise<void> {
    // Begin on a later microtask: a handler never runs inside the publish() that woke it, and
    // `loops[partition]` is set before this loop can finish.
    await Promise.resolve();
    let deliveries = 0;
    try {
      for (;;) {
        const member = this.owners[partition];
        if (!member || this.context.closed) return;
        const log = this.topic.logs[partition]!;
        const offset = this.offsets.get(partition);
        if (offset < log.startOffset) {
          this.skip(partition, offset, log.startOffset);
          continue;
        }
        const record = log.read(offset);
        // Returning runs `finally` in this same turn, so a publish cannot slip between the last
        // look at the log and the loop being marked stopped.
        if (!record) return;
        const outcome = await member.deliver(record, partition);
        // A crashed bus closed its files while the handler ran: a killed process commits nothing.
        if (this.context.crashed) return;
        if (outcome === 'commit') this.commit(partition, offset + 1);
        deliveries++;
        if (deliveries % DELIVERIES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      this.context.params.logger.error(
        { err: error, topic: this.topic.name, group: this.name, partition },
        'delivery loop failed',
      );
    } finally {
      this.loops[partition] = undefined;
    }
  }

  private commit(partition: number, nextOffset: number): void {
    try {
      this.offsets.commit(partition, nextOffset);
    } catch (error) {
      // The position moved in memory; after a restart the group redelivers from its last recorded one.
      this.context.params.logger.error(
        { err: error, topic: this.topic.name, group: this.name },
        'could not record a commit',
      );
    }
    this.context.trim(this.topic, partition);
  }

  private skip(partition: number, from: number, to: number): void {
    const { logger, observer } = this.context.params;
    logger.warn(
      { topic: this.topic.name, group: this.name, partition, from, to },
      'retention deleted messages this group had not read; skipping ahead',
    );
    notify(
      [observer],
      { type: 'skipped', topic: this.topic.name, group: this.name, partition, count: to - from },
      logger,
    );
    this.commit(partition, to);
  }
}

function messageOf(topic: string, partition: number, record: StoredRecord): Omit<BusMessage, 'attempt'> {
  return {
    topic,
    key: record.key,
    value: JSON.parse(record.valueJson),
    headers: { ...record.headers },
    partition,
    offset: String(record.offset),
    timestamp: record.timestamp,
    id: record.headers[MESSAGE_ID_HEADER] ?? `${topic}/${partition}/${record.offset}`,
  };
}

class InProcessSubscription implements Subscription {
  readonly topic: string;
  readonly group: string;
  private readonly stopRetrying = new AbortController();
  private readonly abandon = new AbortController();
  private readonly inFlight = new InFlight();
  private closing: Promise<void> | undefined;
  private resolveClosed!: () => void;
  /** Resolves once `close()` finished. */
  readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(
    private readonly state: ConsumerGroup,
    private readonly handler: BusHandler<unknown>,
    private readonly policy: RetryPolicy,
    private readonly observer: BusObserver | undefined,
    private readonly context: BusContext,
  ) {
    this.topic = state.topic.name;
    this.group = state.name;
  }

  /** Hands one record to the handler; 'commit' once handled or dead-lettered, 'leave' to redeliver. */
  async deliver(record: StoredRecord, partition: number): Promise<'commit' | 'leave'> {
    this.inFlight.enter();
    try {
      const { logger, observer } = this.context.params;
      const observers = [observer, this.observer];
      const where = { topic: this.topic, group: this.group, partition };
      const message = messageOf(this.topic, partition, record);
      const outcome = await deliverWithRetry(this.handler, message, this.policy, {
        stopRetrying: this.stopRetrying.signal,
        abandon: this.abandon.signal,
        pauseBetweenAttempts: pause,
        onRetry: (attempt, error) => notify(observers, { type: 'retried', ...where, attempt, error }, logger),
      });
      if (outcome.kind === 'abandoned') return 'leave';
      if (outcome.kind === 'handled') {
        notify(observers, { type: 'consumed', ...where, durationMs: outcome.durationMs }, logger);
        return 'commit';
      }
      const headers = deadLetterHeaders(record.headers, { ...where, offset: message.offset, ...outcome });
      try {
        this.context.appendDeadLetter(this.topic, record.key, record.valueJson, headers);
      } catch (error) {
        logger.error({ err: error, ...where }, 'could not dead-letter a message; it stays uncommitted');
        await pause(this.policy.backoffMaxMs, this.stopRetrying.signal);
        return 'leave';
      }
      logger.warn(
        { ...where, offset: message.offset, attempts: outcome.attempts, err: outcome.error },
        'message dead-lettered',
      );
      notify(
        observers,
        { type: 'dead-lettered', ...where, attempts: outcome.attempts, error: outcome.error },
        logger,
      );
      return 'commit';
    } finally {
      this.inFlight.leave();
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** The bus crashed: no further attempt, and a handler still running is left behind unawaited. */
  stopAtCrash(): void {
    this.stopRetrying.abort();
    this.abandon.abort();
  }

  private async shutdown(): Promise<void> {
    this.stopRetrying.abort();
    this.state.leave(this);
    if (!(await this.inFlight.drained(this.context.params.drainTimeoutMs))) {
      this.context.params.logger.warn(
        { topic: this.topic, group: this.group, running: this.inFlight.size },
        'handlers still running after the drain timeout; their messages will be redelivered',
      );
      this.abandon.abort();
    }
    this.resolveClosed();
  }
}
