import { type BusKind, ConfigError, splitList } from '../config.js';
import { InProcessEventBus } from './in-process.js';
import { createKafkaEventBus } from './kafka.js';
import type { BusLogger, BusObserver, EventBus, RetryPolicy } from './port.js';
import type { FsyncMode } from './record-file.js';
import { createRedisStreamsEventBus } from './redis-streams.js';

export { type InProcessBusOptions, InProcessEventBus } from './in-process.js';
export { createKafkaEventBus, type KafkaBusOptions } from './kafka.js';
export {
  BusError,
  BusErrorCode,
  type BusEvent,
  type BusHandler,
  type BusHeaders,
  type BusLogger,
  type BusMessage,
  type BusObserver,
  DEAD_LETTER_HEADERS,
  deadLetterTopicOf,
  type EventBus,
  MESSAGE_ID_HEADER,
  type PublishReceipt,
  type RetryPolicy,
  type SubscribeOptions,
  type Subscription,
  stderrBusLogger,
} from './port.js';
export type { FsyncMode } from './record-file.js';
export {
  createRedisStreamsEventBus,
  DEFAULT_REDIS_BUS_KEY_PREFIX,
  type RedisStreamsBusOptions,
} from './redis-streams.js';

export interface EventBusSelection {
  /** Names this process to the brokers (or to Redis, in its client names and consumer names). */
  clientId: string;
  /** Set (a list, or `KAFKA_BROKERS` as comma-separated text): Kafka. */
  kafkaBrokers?: string | readonly string[] | undefined;
  /** `BUS`: `redis` picks the Redis Streams bus (with `redisUrl`); absent or `in-process`: the in-process one. */
  bus?: BusKind | undefined;
  /** `REDIS_URL`, read only with `bus: 'redis'`. */
  redisUrl?: string | undefined;
  /** Redis Streams only: before every key of the bus (default `bus:`); shared by every service on the bus. */
  redisKeyPrefix?: string | undefined;
  /** In-process only: keep the logs here, durable across a crash; absent: memory only. */
  dir?: string | undefined;
  /** In-process only, with `dir`. */
  fsync?: FsyncMode;
  /** Partitions of topics the bus creates. */
  partitions?: number;
  retry?: Partial<RetryPolicy>;
  drainTimeoutMs?: number;
  observer?: BusObserver;
  logger?: BusLogger;
}

/** `KAFKA_BROKERS` (`host:port,host:port`) as a list, written like every list in the environment. */
export function parseBrokers(value: string | readonly string[] | undefined): string[] {
  return typeof value === 'string' ? splitList(value) : (value ?? []).flatMap(splitList);
}

/**
 * The configured bus: Kafka when brokers are given; else Redis Streams when `bus` is `redis`;
 * else the in-process one. A selection that names two buses, or Redis without a URL, is a
 * ConfigError. In the embedded mode every service of a process should share one in-process bus,
 * so open it once and pass it around.
 */
export async function createEventBus(selection: EventBusSelection): Promise<EventBus> {
  const { clientId, kafkaBrokers, bus, redisUrl, redisKeyPrefix, dir, fsync, ...common } = selection;
  const brokers = parseBrokers(kafkaBrokers);
  if (bus === 'redis') {
    if (brokers.length > 0)
      throw new ConfigError(['BUS: redis conflicts with KAFKA_BROKERS, which selects Kafka; set only one']);
    if (!redisUrl) throw new ConfigError(['BUS: redis needs REDIS_URL, the Redis that carries the bus']);
    return createRedisStreamsEventBus({
      ...common,
      url: redisUrl,
      clientId,
      ...(redisKeyPrefix === undefined ? {} : { keyPrefix: redisKeyPrefix }),
    });
  }
  if (brokers.length > 0) return createKafkaEventBus({ ...common, brokers, clientId });
  return InProcessEventBus.open({ ...common, dir, fsync });
}
