import type { Redis } from 'ioredis';
import { createRedis, pingRedis } from '../redis.js';
import { DEFAULT_RETRY_POLICY, InFlight, normaliseRetryPolicy } from './delivery.js';
import { partitionOf } from './in-process.js';
import {
  assertBusName,
  assertIntegerOption,
  BusError,
  BusErrorCode,
  type BusHandler,
  type BusHeaders,
  type BusLogger,
  type BusObserver,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_MESSAGE_MAX_BYTES,
  DEFAULT_PARTITIONS,
  deadLetterTopicOf,
  type EventBus,
  notify,
  PARTITIONS_MAX,
  type PublishReceipt,
  preparePublish,
  type RetryPolicy,
  type SubscribeOptions,
  type Subscription,
  stderrBusLogger,
} from './port.js';
import {
  type BusKeys,
  type BusScripts,
  busKeys,
  busScripts,
  ENTRY_FIELDS,
  offsetOfEntryId,
  REGISTRY_FULL,
} from './redis-streams-keys.js';
import { RedisStreamsSubscription, type StreamsContext } from './redis-streams-subscription.js';

/**
 * The event bus on Redis Streams, for designs whose producers and consumers live in several
 * processes without Kafka. A topic is `partitions` streams; a message goes to the stream its key
 * hashes to (the in-process adapter's hash), appended with XADD and trimmed to about
 * `maxLenPerPartition` entries (MAXLEN ~). A bus group is a Redis consumer group on each stream.
 *
 * Redis hands a consumer group's entries to whichever consumer asks, which would interleave a
 * key's messages across consumers. So the subscriptions of a group split the partitions among
 * themselves, the way Kafka's members do: each heartbeats into the group's member set, partition
 * p belongs to the p-th live member (mod their count, in id order), and a member handles a
 * partition only while it holds that partition's lease (a key with a TTL in Redis). See
 * redis-streams-subscription.ts for reading, acknowledging and reclaiming.
 *
 * Connections: one for commands (publish, acknowledge, leases), one per subscription for its
 * blocking XREADGROUP, and one in Pub/Sub mode for the groups' change announcements.
 */

export const DEFAULT_MAX_LEN_PER_PARTITION = 100_000;
export const MAX_LEN_PER_PARTITION_LIMIT = 100_000_000;
export const DEFAULT_REDIS_BUS_KEY_PREFIX = 'bus:';
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
/** How long `subscribe()` waits to hold the partitions assigned to it. */
export const DEFAULT_JOIN_TIMEOUT_MS = 30_000;
export const DEFAULT_BLOCK_MS = 5_000;
/** Entries one XREADGROUP or XAUTOCLAIM call returns at most. */
export const DEFAULT_READ_BATCH = 100;
/** Entries a subscription holds read but not yet handled, over all its partitions. */
export const DEFAULT_BUFFER_MAX = 1_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
export const REDIS_TOPICS_MAX = 10_000;
export const REDIS_SUBSCRIPTIONS_MAX = 256;

export interface RedisStreamsBusOptions {
  url: string;
  /** Names this process's connections (CLIENT LIST) and its consumers. */
  clientId: string;
  /** Before every key of the bus; tests give each run its own. */
  keyPrefix?: string;
  /** Partitions of a topic this bus registers; a registered topic keeps its count. */
  partitions?: number;
  /** Retention per partition stream, in entries, trimmed approximately (MAXLEN ~). */
  maxLenPerPartition?: number;
  messageMaxBytes?: number;
  drainTimeoutMs?: number;
  joinTimeoutMs?: number;
  /** A member (and its partition leases) that has not heartbeat for this long is gone. */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** How long one XREADGROUP waits for new entries. */
  blockMs?: number;
  readBatch?: number;
  bufferMax?: number;
  /** Timeout of every command but the blocking read. */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  observer?: BusObserver;
  logger?: BusLogger;
}

export interface StreamsParams {
  url: string;
  clientId: string;
  keyPrefix: string;
  partitions: number;
  maxLenPerPartition: number;
  messageMaxBytes: number;
  drainTimeoutMs: number;
  joinTimeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  blockMs: number;
  readBatch: number;
  bufferMax: number;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  observer: BusObserver | undefined;
  logger: BusLogger;
}

function normalise(options: RedisStreamsBusOptions): StreamsParams {
  const integer = (name: string, value: number | undefined, fallback: number, min: number, max: number) =>
    assertIntegerOption(name, value ?? fallback, min, max);
  const sessionTimeoutMs = integer(
    'sessionTimeoutMs',
    options.sessionTimeoutMs,
    DEFAULT_SESSION_TIMEOUT_MS,
    100,
    3_600_000,
  );
  return {
    url: options.url,
    clientId: options.clientId,
    keyPrefix: options.keyPrefix ?? DEFAULT_REDIS_BUS_KEY_PREFIX,
    partitions: integer('partitions', options.partitions, DEFAULT_PARTITIONS, 1, PARTITIONS_MAX),
    maxLenPerPartition: integer(
      'maxLenPerPartition',
      options.maxLenPerPartition,
      DEFAULT_MAX_LEN_PER_PARTITION,
      1,
      MAX_LEN_PER_PARTITION_LIMIT,
    ),
    messageMaxBytes: integer(
      'messageMaxBytes',
      options.messageMaxBytes,
      DEFAULT_MESSAGE_MAX_BYTES,
      1,
      2 ** 29,
    ),
    drainTimeoutMs: integer('drainTimeoutMs', options.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS, 0, 3_600_000),
    joinTimeoutMs: integer('joinTimeoutMs', options.joinTimeoutMs, DEFAULT_JOIN_TIMEOUT_MS, 1, 3_600_000),
    sessionTimeoutMs,
    // At least three heartbeats per session, so one slow round trip does not cost the leases.
    heartbeatIntervalMs: integer(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs,
      Math.min(DEFAULT_HEARTBEAT_INTERVAL_MS, Math.floor(sessionTimeoutMs / 3)),
      10,
      Math.floor(sessionTimeoutMs / 3),
    ),
    blockMs: integer('blockMs', options.blockMs, DEFAULT_BLOCK_MS, 1, 600_000),
    readBatch: integer('readBatch', options.readBatch, DEFAULT_READ_BATCH, 1, 10_000),
    bufferMax: integer('bufferMax', options.bufferMax, DEFAULT_BUFFER_MAX, 1, 1_000_000),
    requestTimeoutMs: integer(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      DEFAULT_REQUEST_TIMEOUT_MS,
      1,
      600_000,
    ),
    retry: normaliseRetryPolicy(options.retry, DEFAULT_RETRY_POLICY),
    observer: options.observer,
    logger: options.logger ?? stderrBusLogger,
  };
}

/** Connects to Redis; fails with BUS_ERR_UNAVAILABLE if it does not answer. */
export async function createRedisStreamsEventBus(options: RedisStreamsBusOptions): Promise<EventBus> {
  const params = normalise(options);
  let redis: Redis;
  try {
    redis = await createRedis({
      url: params.url,
      connectionName: `${params.clientId}:bus`,
      commandTimeoutMs: params.requestTimeoutMs,
    });
    await pingRedis(redis);
  } catch (error) {
    throw new BusError(BusErrorCode.unavailable, `redis unreachable: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return new RedisStreamsEventBus(params, redis);
}

class RedisStreamsEventBus implements EventBus, StreamsContext {
  readonly kind = 'redis-streams';
  readonly keys: BusKeys;
  readonly scripts: BusScripts;
  /** Partition counts of topics this process has registered or looked up. */
  private readonly topics = new Map<string, Promise<number>>();
  private readonly subscriptions = new Set<RedisStreamsSubscription>();
  private readonly publishing = new InFlight();
  /** The Pub/Sub connection for group change announcements, opened with the first subscription. */
  private subscriber: Promise<Redis> | undefined;
  private readonly listeners = new Map<string, Set<() => void>>();
  private closing: Promise<void> | undefined;
  /** Publishing stays open while close() drains handlers, which may publish what they produce. */
  private acceptingPublishes = true;

  constructor(
    readonly params: StreamsParams,
    readonly redis: Redis,
  ) {
    this.keys = busKeys(params.keyPrefix);
    this.scripts = busScripts(redis);
  }

  async publish(
    topic: string,
    key: string,
    value: unknown,
    headers: BusHeaders = {},
  ): Promise<PublishReceipt> {
    const {
      id,
      valueJson,
      headers: allHeaders,
    } = preparePublish(this.acceptingPublishes, topic, key, value, headers, this.params.messageMaxBytes);
    this.publishing.enter();
    try {
      const { partition, entryId } = await this.append(topic, key, valueJson, allHeaders).catch((error) => {
        throw unavailable(error, `publishing to ${topic}`);
      });
      notify([this.params.observer], { type: 'published', topic, partition }, this.params.logger);
      return { id, partition, offset: offsetOfEntryId(entryId) };
    } finally {
      this.publishing.leave();
    }
  }

  /** XADD to the key's partition, trimming the stream to about its retention. */
  async append(
    topic: string,
    key: string,
    valueJson: string,
    headers: BusHeaders,
  ): Promise<{ partition: number; entryId: string }> {
    const partitions = await this.partitionsOf(topic);
    const partition = partitionOf(key, partitions);
    const fields = [
      ENTRY_FIELDS.key,
      key,
      ENTRY_FIELDS.value,
      valueJson,
      ENTRY_FIELDS.headers,
      JSON.stringify(headers),
    ];
    const entryId = await this.redis.xadd(
      this.keys.stream(topic, partition),
      'MAXLEN',
      '~',
      this.params.maxLenPerPartition,
      '*',
      ...fields,
    );
    if (entryId === null) throw new BusError(BusErrorCode.storage, `XADD to ${topic} returned no id`);
    return { partition, entryId };
  }

  async deadLetter(topic: string, key: string, valueJson: string, headers: BusHeaders): Promise<void> {
    await this.append(deadLetterTopicOf(topic), key, valueJson, headers);
  }

  async listen(channel: string, onChange: () => void): Promise<() => Promise<void>> {
    if (!this.subscriber) {
      const opening = this.openSubscriber();
      this.subscriber = opening;
      // A failed connection is not kept: the next subscription tries again.
      opening.catch(() => {
        if (this.subscriber === opening) this.subscriber = undefined;
      });
    }
    const subscriber = await this.subscriber;
    let listeners = this.listeners.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.listeners.set(channel, listeners);
      await subscriber.subscribe(channel);
    }
    listeners.add(onChange);
    const own = listeners;
    return async () => {
      own.delete(onChange);
      if (own.size > 0 || this.listeners.get(channel) !== own) return;
      this.listeners.delete(channel);
      await subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  private async openSubscriber(): Promise<Redis> {
    const subscriber = await createRedis({
      url: this.params.url,
      connectionName: `${this.params.clientId}:bus-changes`,
      commandTimeoutMs: this.params.requestTimeoutMs,
    });
    subscriber.on('message', (channel: string) => {
      for (const onChange of this.listeners.get(channel) ?? []) onChange();
    });
    return subscriber;
  }

  announce(channel: string): void {
    // Only a hint: members heartbeat on their own anyway, so a lost announcement costs a beat.
    this.redis.publish(channel, 'changed').catch((error) => {
      this.params.logger.debug({ err: error, channel }, 'could not announce a group change');
    });
  }

  /** The topic's partition count, registering it with this bus's count when it is new. */
  partitionsOf(topic: string): Promise<number> {
    let known = this.topics.get(topic);
    if (!known) {
      known = this.registerTopic(topic);
      this.topics.set(topic, known);
      known.catch(() => this.topics.delete(topic));
    }
    return known;
  }

  private async registerTopic(topic: string): Promise<number> {
    const partitions = await this.scripts.busRegisterTopic(
      this.keys.topics,
      topic,
      this.params.partitions,
      REDIS_TOPICS_MAX,
    );
    if (partitions === REGISTRY_FULL) {
      throw new BusError(
        BusErrorCode.limitExceeded,
        `cannot create topic ${topic}: ${REDIS_TOPICS_MAX} topics exist`,
      );
    }
    return assertIntegerOption(`partitions of ${topic}`, partitions, 1, PARTITIONS_MAX);
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
    if (this.subscriptions.size >= REDIS_SUBSCRIPTIONS_MAX) {
      throw new BusError(
        BusErrorCode.limitExceeded,
        `this bus already has ${REDIS_SUBSCRIPTIONS_MAX} subscriptions`,
      );
    }
    const policy = normaliseRetryPolicy(options.retry, this.params.retry);
    const partitions = await this.partitionsOf(topic).catch((error) => {
      throw unavailable(error, `subscribing to ${topic}`);
    });
    const subscription = new RedisStreamsSubscription(
      topic,
      group,
      partitions,
      handler as BusHandler<unknown>,
      policy,
      options.observer,
      this,
    );
    this.subscriptions.add(subscription);
    void subscription.closed.then(() => this.subscriptions.delete(subscription));
    try {
      await subscription.start(options.fromBeginning ?? true);
    } catch (error) {
      await subscription.close();
      throw unavailable(error, `joining group ${group} of ${topic}`);
    }
    return subscription;
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await pingRedis(this.redis).catch((error) => {
      throw unavailable(error, 'pinging redis');
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    this.acceptingPublishes = false;
    if (!(await this.publishing.drained(this.params.drainTimeoutMs))) {
      this.params.logger.warn(
        { pending: this.publishing.size },
        'closing redis with publishes still pending',
      );
    }
    if (this.subscriber) (await this.subscriber.catch(() => undefined))?.disconnect();
    this.redis.disconnect();
  }

  private assertOpen(): void {
    if (this.closing) throw new BusError(BusErrorCode.closed, 'the event bus is closed');
  }
}

/** A Redis failure as the bus's typed error (a BusError, such as a limit, passes unchanged). */
function unavailable(error: unknown, what: string): BusError {
  if (error instanceof BusError) return error;
  return new BusError(BusErrorCode.unavailable, `${what} failed: ${(error as Error).message}`, {
    cause: error,
  });
}
