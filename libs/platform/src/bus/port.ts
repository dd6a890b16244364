import { randomUUID } from 'node:crypto';
/**
 * The event bus services publish to and consume from. Three adapters keep the same promises:
 * kafkajs against real brokers (`KAFKA_BROKERS`), Redis Streams (`BUS=redis` with `REDIS_URL`)
 * across processes without Kafka, and an in-process log in the embedded mode (optionally durable
 * in a directory).
 *
 * The promises, for every adapter:
 * - At-least-once. A message is committed for a group only after its handler resolved (or after
 *   it was dead-lettered), so a crash or a close redelivers what was in flight. Handlers dedupe
 *   with `message.id`, which stays the same on every redelivery and on the dead-letter copy.
 * - Ordered per key. Keys hash to partitions; a group handles one partition sequentially, so the
 *   messages of one key reach a group in publish order (publishes of one key awaited in turn).
 * - Consumer groups. Every group sees every message; subscriptions in one group split the
 *   partitions and rebalance when one joins or closes.
 * - Bounded retries. A handler that throws is retried with exponential backoff and jitter up to
 *   `maxAttempts`, holding its partition meanwhile; then the message goes to `<topic>.dead-letter`
 *   with the error in a header, is committed, and is counted.
 * - A new group starts from the earliest retained message (`fromBeginning: true`, the default),
 *   so a consumer deployed after events were published still sees them. A group that only cares
 *   about the future (live notifications) passes `fromBeginning: false`: it starts at the end of
 *   the log as of its first `subscribe()`, and that position is recorded at once.
 */

/** Set by `publish` unless the caller gives one, so the id survives redelivery and topic copies. */
export const MESSAGE_ID_HEADER = 'x-message-id';
/** Headers added to a dead-lettered copy. */
export const DEAD_LETTER_HEADERS = {
  error: 'x-dead-letter-error',
  group: 'x-dead-letter-group',
  attempts: 'x-dead-letter-attempts',
  topic: 'x-original-topic',
  partition: 'x-original-partition',
  offset: 'x-original-offset',
} as const;
export const DEAD_LETTER_SUFFIX = '.dead-letter';

export const DEFAULT_PARTITIONS = 8;
export const PARTITIONS_MAX = 256;
/** Value, key and headers of one message; Kafka's default broker limit is about 1 MiB. */
export const DEFAULT_MESSAGE_MAX_BYTES = 1_000_000;
export const DEFAULT_MAX_ATTEMPTS = 8;
export const MAX_ATTEMPTS_LIMIT = 100;
export const DEFAULT_BACKOFF_BASE_MS = 100;
export const DEFAULT_BACKOFF_MAX_MS = 30_000;
export const BACKOFF_MAX_MS_LIMIT = 10 * 60_000;
/** How long `close()` waits for running handlers before it abandons them. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** The error text kept in the dead-letter header. */
export const DEAD_LETTER_ERROR_MAX_CHARS = 1_000;

export type BusHeaders = Record<string, string>;

export interface BusMessage<Value = unknown> {
  topic: string;
  key: string;
  /** The published value, parsed from JSON; validate it before use. */
  value: Value;
  headers: BusHeaders;
  partition: number;
  /**
   * The position in the partition, as a decimal string (Kafka offsets are 64-bit; a Redis stream
   * entry id `<ms>-<seq>` is its 128-bit number), increasing within a partition.
   */
  offset: string;
  /** When the message was appended, in ms since the epoch. */
  timestamp: number;
  /** Stable across redeliveries and dead-letter copies: the `x-message-id` header. */
  id: string;
  /** 1 on the first delivery to this subscription, 2 on its first retry, and so on. */
  attempt: number;
}

export type BusHandler<Value = unknown> = (message: BusMessage<Value>) => Promise<void> | void;

export interface PublishReceipt {
  id: string;
  partition: number;
  offset: string;
}

export interface RetryPolicy {
  /** Deliveries of one message before it is dead-lettered (1 means no retry). */
  maxAttempts: number;
  /** The first backoff; each next one doubles, up to `backoffMaxMs`, with jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface SubscribeOptions {
  /** Where a group without a recorded position starts: the earliest retained message (default) or the end. */
  fromBeginning?: boolean;
  /** Overrides the bus's retry policy for this subscription. */
  retry?: Partial<RetryPolicy>;
  /** Told about this subscription's consumption, besides the bus's observer. */
  observer?: BusObserver;
}

export interface Subscription {
  readonly topic: string;
  readonly group: string;
  /**
   * Stops delivery and leaves the group (its partitions go to the rest of the group). Waits for
   * running handlers up to the drain timeout; a message not finished by then stays uncommitted and
   * is redelivered, possibly while the abandoned handler still runs.
   */
  close(): Promise<void>;
}

export interface EventBus {
  readonly kind: 'in-process' | 'kafka' | 'redis-streams';
  /**
   * Appends `value` (JSON-serialisable) under `key`. Resolves when the message is durably
   * accepted: acknowledged by the in-sync replicas (Kafka), appended by Redis (Redis Streams: as
   * durable as the server's persistence settings make it) or appended to the log (in-process).
   */
  publish(topic: string, key: string, value: unknown, headers?: BusHeaders): Promise<PublishReceipt>;
  /** Resolves once the subscription is a member of its group and will receive messages. */
  subscribe<Value = unknown>(
    topic: string,
    group: string,
    handler: BusHandler<Value>,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  /** Resolves when the backend answers. */
  ping(): Promise<void>;
  /** Closes every subscription (draining running handlers), then the backend. */
  close(): Promise<void>;
}

/** What a bus reports, for metrics. Observers must be quick and must not throw. */
export type BusEvent =
  | { type: 'published'; topic: string; partition: number }
  | { type: 'consumed'; topic: string; group: string; partition: number; durationMs: number }
  | { type: 'retried'; topic: string; group: string; partition: number; attempt: number; error: unknown }
  | {
      type: 'dead-lettered';
      topic: string;
      group: string;
      partition: number;
      attempts: number;
      error: unknown;
    }
  /**
   * Messages this group never handled: retention deleted them before it read them (in-process,
   * Redis Streams), or a Redis Streams entry was not a message this bus wrote (acknowledged and
   * logged instead of stopping the partition).
   */
  | { type: 'skipped'; topic: string; group: string; partition: number; count: number };

export type BusObserver = (event: BusEvent) => void;

/** The subset of pino's logger the bus uses; a pino `Logger` fits. */
export interface BusLogger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** Without a logger, warnings and errors still reach stderr: an operating error is never dropped. */
export const stderrBusLogger: BusLogger = {
  debug() {},
  info() {},
  warn(fields, message) {
    console.warn(`[bus] ${message ?? ''}`, fields);
  },
  error(fields, message) {
    console.error(`[bus] ${message ?? ''}`, fields);
  },
};

export const BusErrorCode = {
  closed: 'BUS_ERR_CLOSED',
  invalidName: 'BUS_ERR_INVALID_NAME',
  invalidValue: 'BUS_ERR_INVALID_VALUE',
  messageTooLarge: 'BUS_ERR_MESSAGE_TOO_LARGE',
  invalidOption: 'BUS_ERR_INVALID_OPTION',
  limitExceeded: 'BUS_ERR_LIMIT_EXCEEDED',
  dirLocked: 'BUS_ERR_DIR_LOCKED',
  storage: 'BUS_ERR_STORAGE',
  unavailable: 'BUS_ERR_UNAVAILABLE',
} as const;

export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

export class BusError extends Error {
  override name = 'BusError';

  constructor(
    readonly code: BusErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Topic and group names double as file names in the in-process adapter; Kafka accepts them all. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function assertBusName(kind: 'topic' | 'group', name: string): void {
  if (!NAME.test(name)) {
    throw new BusError(BusErrorCode.invalidName, `${kind} name ${JSON.stringify(name)} must match ${NAME}`);
  }
}

export function deadLetterTopicOf(topic: string): string {
  return `${topic}${DEAD_LETTER_SUFFIX}`;
}

/** The JSON text of a value, or a typed error for what JSON cannot carry. */
export function encodeValue(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new BusError(
      BusErrorCode.invalidValue,
      `value is not JSON-serialisable: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (json === undefined)
    throw new BusError(BusErrorCode.invalidValue, `value of type ${typeof value} is not JSON`);
  return json;
}

/** What a message weighs against `messageMaxBytes`: key, value and headers, in UTF-8. */
export function messageSizeBytes(key: string, valueJson: string, headers: BusHeaders): number {
  let bytes = Buffer.byteLength(key) + Buffer.byteLength(valueJson);
  for (const [name, value] of Object.entries(headers))
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  return bytes;
}

export function assertMessageSize(bytes: number, maxBytes: number, topic: string): void {
  if (bytes > maxBytes) {
    throw new BusError(
      BusErrorCode.messageTooLarge,
      `message of ${bytes} bytes for ${topic} exceeds ${maxBytes} bytes`,
    );
  }
}

/** A message checked and encoded for any adapter: the same refusals, in the same order, everywhere. */
export interface PreparedMessage {
  id: string;
  valueJson: string;
  headers: BusHeaders;
}

/**
 * The checks every adapter's `publish` makes before it writes: the bus still accepts publishes,
 * the topic name, a JSON value, the message id header (kept when the caller gives one), the size.
 */
export function preparePublish(
  accepting: boolean,
  topic: string,
  key: string,
  value: unknown,
  headers: BusHeaders,
  messageMaxBytes: number,
): PreparedMessage {
  if (!accepting) throw new BusError(BusErrorCode.closed, 'the event bus is closed');
  assertBusName('topic', topic);
  const valueJson = encodeValue(value);
  const id = headers[MESSAGE_ID_HEADER] ?? randomUUID();
  const allHeaders: BusHeaders = { ...headers, [MESSAGE_ID_HEADER]: id };
  assertMessageSize(messageSizeBytes(key, valueJson, allHeaders), messageMaxBytes, topic);
  return { id, valueJson, headers: allHeaders };
}

export function assertIntegerOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BusError(
      BusErrorCode.invalidOption,
      `${name} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}

/** Calls an observer, keeping its failures away from delivery. */
export function notify(
  observers: readonly (BusObserver | undefined)[],
  event: BusEvent,
  logger: BusLogger,
): void {
  for (const observer of observers) {
    if (!observer) continue;
    try {
      observer(event);
    } catch (error) {
      logger.warn({ err: error, event: event.type }, 'bus observer threw');
    }
  }
}
