import { splitList } from '../config.js';
import { InProcessEventBus } from './in-process.js';
import { createKafkaEventBus } from './kafka.js';
import type { BusLogger, BusObserver, EventBus, RetryPolicy } from './port.js';
import type { FsyncMode } from './record-file.js';

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

export interface EventBusSelection {
  /** Names this process to the brokers. */
  clientId: string;
  /** Set (a list, or `KAFKA_BROKERS` as comma-separated text): Kafka. Absent or empty: in-process. */
  kafkaBrokers?: string | readonly string[] | undefined;
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
 * The configured bus: Kafka when brokers are given, else the in-process one. In the embedded mode
 * every service of a process should share one in-process bus, so open it once and pass it around.
 */
export async function createEventBus(selection: EventBusSelection): Promise<EventBus> {
  const { clientId, kafkaBrokers, dir, fsync, ...common } = selection;
  const brokers = parseBrokers(kafkaBrokers);
  if (brokers.length > 0) return createKafkaEventBus({ ...common, brokers, clientId });
  return InProcessEventBus.open({ ...common, dir, fsync });
}
