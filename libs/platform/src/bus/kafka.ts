import type { Admin, Consumer, EachMessagePayload, IHeaders, Kafka, LogEntry, Producer } from 'kafkajs';
import {
  DEFAULT_RETRY_POLICY,
  type DeliveryOutcome,
  deadLetterHeaders,
  deliverWithRetry,
  InFlight,
  normaliseRetryPolicy,
  pause,
} from './delivery.js';
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

/**
 * The event bus on Kafka, through kafkajs (loaded on first use, so the embedded mode never loads
 * it). One idempotent producer (acks from all in-sync replicas, one request in flight, so retries
 * neither duplicate nor reorder); topics created on first use through the admin client; one
 * consumer per subscription with `groupId = group`. A partition is handled one message at a time;
 * a message's offset is resolved only after its handler resolved (or it was dead-lettered) and
 * committed at the latest when the batch ends, on a rebalance and on close.
 *
 * kafkajs serialises an idempotent producer's requests per broker and does not batch separate
 * `send` calls, so one process publishes roughly one message per broker round trip per broker.
 * The producer retries without limit (what idempotence needs); `publishTimeoutMs` bounds how
 * long `publish` waits. A publish that timed out may still be written later: a caller that
 * retries it should pass the same `x-message-id`, so consumers dedupe the copies.
 *
 * `message.id` is the `x-message-id` header set at publish, so it survives copies of the message
 * to other topics; a message written by another producer without it gets `topic/partition/offset`.
 */

export const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;
/** How long `subscribe()` waits for the consumer to join its group. */
export const DEFAULT_JOIN_TIMEOUT_MS = 60_000;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_PUBLISH_TIMEOUT_MS = 30_000;
/** Slices of a backoff between heartbeats, so a long backoff does not cost the group membership. */
const BACKOFF_SLICE_MS = 1_000;

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  /** Partitions of a topic this bus creates; an existing topic keeps its count. */
  partitions?: number;
  /** Of topics this bus creates; absent: the broker's `default.replication.factor`. */
  replicationFactor?: number;
  messageMaxBytes?: number;
  drainTimeoutMs?: number;
  joinTimeoutMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** How long `publish` waits for the acknowledgement before it rejects. */
  publishTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  observer?: BusObserver;
  logger?: BusLogger;
}

interface Params {
  brokers: string[];
  clientId: string;
  partitions: number;
  replicationFactor: number | undefined;
  messageMaxBytes: number;
  drainTimeoutMs: number;
  joinTimeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  publishTimeoutMs: number;
  retry: RetryPolicy;
  observer: BusObserver | undefined;
  logger: BusLogger;
}

function normalise(options: KafkaBusOptions): Params {
  if (options.brokers.length === 0)
    throw new BusError(BusErrorCode.invalidOption, 'brokers must name at least one broker');
  const sessionTimeoutMs = assertIntegerOption(
    'sessionTimeoutMs',
    options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
    1_000,
    3_600_000,
  );
  return {
    brokers: options.brokers,
    clientId: options.clientId,
    partitions: assertIntegerOption(
      'partitions',
      options.partitions ?? DEFAULT_PARTITIONS,
      1,
      PARTITIONS_MAX,
    ),
    replicationFactor:
      options.replicationFactor === undefined
        ? undefined
        : assertIntegerOption('replicationFactor', options.replicationFactor, 1, 16),
    messageMaxBytes: assertIntegerOption(
      'messageMaxBytes',
      options.messageMaxBytes ?? DEFAULT_MESSAGE_MAX_BYTES,
      1,
      2 ** 30,
    ),
    drainTimeoutMs: assertIntegerOption(
      'drainTimeoutMs',
      options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      0,
      3_600_000,
    ),
    joinTimeoutMs: assertIntegerOption(
      'joinTimeoutMs',
      options.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS,
      1,
      3_600_000,
    ),
    sessionTimeoutMs,
    heartbeatIntervalMs: assertIntegerOption(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      100,
      sessionTimeoutMs,
    ),
    connectionTimeoutMs: assertIntegerOption(
      'connectionTimeoutMs',
      options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
      1,
      600_000,
    ),
    requestTimeoutMs: assertIntegerOption(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      1,
      600_000,
    ),
    publishTimeoutMs: assertIntegerOption(
      'publishTimeoutMs',
      options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
      1,
      600_000,
    ),
    retry: normaliseRetryPolicy(options.retry, DEFAULT_RETRY_POLICY),
    observer: options.observer,
    logger: options.logger ?? stderrBusLogger,
  };
}

type KafkaModule = typeof import('kafkajs');

async function loadKafkajs(): Promise<KafkaModule> {
  const imported = (await import('kafkajs')) as KafkaModule & { default?: KafkaModule };
  // kafkajs is CommonJS: Node puts `module.exports` on `default`.
  return imported.default ?? imported;
}

/** Connects a producer and an admin client; fails if no broker answers. */
export async function createKafkaEventBus(options: KafkaBusOptions): Promise<EventBus> {
  const params = normalise(options);
  const kafkajs = await loadKafkajs();
  const kafka = new kafkajs.Kafka({
    clientId: params.clientId,
    brokers: params.brokers,
    connectionTimeout: params.connectionTimeoutMs,
    requestTimeout: params.requestTimeoutMs,
    logLevel: kafkajs.logLevel.WARN,
    logCreator: () => (entry: LogEntry) => logKafkajsEntry(params.logger, entry, kafkajs.logLevel),
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
  });
  const admin = kafka.admin();
  try {
    await Promise.all([producer.connect(), admin.connect()]);
  } catch (error) {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    throw new BusError(
      BusErrorCode.unavailable,
      `kafka brokers ${params.brokers.join(',')} unreachable: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return new KafkaEventBus(params, kafkajs, kafka, producer, admin);
}

function logKafkajsEntry(logger: BusLogger, entry: LogEntry, levels: KafkaModule['logLevel']): void {
  const { message, ...fields } = entry.log;
  const line = { namespace: entry.namespace, ...fields };
  if (entry.level === levels.ERROR) logger.error(line, `kafkajs: ${message}`);
  else if (entry.level === levels.WARN) logger.warn(line, `kafkajs: ${message}`);
  else if (entry.level === levels.INFO) logger.info(line, `kafkajs: ${message}`);
  else logger.debug(line, `kafkajs: ${message}`);
}

function stringHeaders(headers: IHeaders | undefined): BusHeaders {
  const result: BusHeaders = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const value = Array.isArray(raw) ? raw.at(-1) : raw;
    if (value !== undefined) result[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return result;
}

/** Rejects with a typed error if `work` takes longer than `timeoutMs`. */
async function within<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BusError(BusErrorCode.unavailable, `${what} took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a subscription needs from its bus. */
interface KafkaContext {
  readonly params: Params;
  readonly kafkajs: KafkaModule;
  readonly kafka: Kafka;
  deadLetter(topic: string, key: Buffer | null, value: Buffer | null, headers: BusHeaders): Promise<void>;
}

class KafkaEventBus implements EventBus, KafkaContext {
  readonly kind = 'kafka';
  /** Topics known to exist, or being created. */
  private readonly topics = new Map<string, Promise<void>>();
  private readonly subscriptions = new Set<KafkaSubscription>();
  private readonly publishing = new InFlight();
  private closing: Promise<void> | undefined;
  /** Publishing stays open while close() drains handlers, which may publish what they produce. */
  private acceptingPublishes = true;

  constructor(
    readonly params: Params,
    readonly kafkajs: KafkaModule,
    readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly admin: Admin,
  ) {}

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
      const sending = this.ensureTopic(topic).then(() =>
        this.producer.send({ topic, acks: -1, messages: [{ key, value: valueJson, headers: allHeaders }] }),
      );
      const [metadata] = await within(sending, this.params.publishTimeoutMs, `publishing to ${topic}`);
      const partition = metadata?.partition ?? -1;
      notify([this.params.observer], { type: 'published', topic, partition }, this.params.logger);
      return { id, partition, offset: metadata?.baseOffset ?? metadata?.offset ?? '-1' };
    } finally {
      this.publishing.leave();
    }
  }

  async deadLetter(
    topic: string,
    key: Buffer | null,
    value: Buffer | null,
    headers: BusHeaders,
  ): Promise<void> {
    const deadLetterTopic = deadLetterTopicOf(topic);
    await this.ensureTopic(deadLetterTopic);
    await this.producer.send({ topic: deadLetterTopic, acks: -1, messages: [{ key, value, headers }] });
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
    await this.ensureTopic(topic);
    if (options.fromBeginning === false) await this.startNewGroupAtEnd(topic, group);
    const subscription = new KafkaSubscription(
      topic,
      group,
      handler as BusHandler<unknown>,
      policy,
      options.observer,
      this,
    );
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.subscriptions.delete(subscription);
      await subscription.close();
      throw error;
    }
    void subscription.closed.then(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  /**
   * Kafka resolves "latest" for a new group only at its first fetch, so a message published right
   * after `subscribe()` could be missed. Committing the current end offsets for a group that has
   * none makes the start position exact and durable. If the group already has members, they are
   * setting it up (or consuming), and it is left alone.
   */
  private async startNewGroupAtEnd(topic: string, group: string): Promise<void> {
    const [committed] = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
    const unset = (committed?.partitions ?? []).filter((partition) => partition.offset === '-1');
    if (committed && unset.length === 0) return;
    const ends = await this.admin.fetchTopicOffsets(topic);
    const unsetPartitions = new Set(unset.map((partition) => partition.partition));
    const partitions = ends
      .filter((end) => !committed || unsetPartitions.has(end.partition))
      .map((end) => ({ partition: end.partition, offset: end.high }));
    try {
      await this.admin.setOffsets({ groupId: group, topic, partitions });
    } catch (error) {
      this.params.logger.info({ err: error, topic, group }, 'group already active; keeping its positions');
    }
  }

  /** Creates the topic with the configured partitions unless it exists; once per topic per process. */
  private ensureTopic(topic: string): Promise<void> {
    let known = this.topics.get(topic);
    if (!known) {
      known = this.createTopic(topic);
      this.topics.set(topic, known);
      known.catch(() => this.topics.delete(topic));
    }
    return known;
  }

  private async createTopic(topic: string): Promise<void> {
    const { partitions, replicationFactor } = this.params;
    await this.admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: partitions,
          ...(replicationFactor === undefined ? {} : { replicationFactor }),
        },
      ],
    });
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await within(this.admin.describeCluster(), this.params.requestTimeoutMs, 'kafka describeCluster');
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
        'closing the producer with publishes still pending',
      );
    }
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }

  private assertOpen(): void {
    if (this.closing) throw new BusError(BusErrorCode.closed, 'the event bus is closed');
  }
}

class KafkaSubscription implements Subscription {
  private readonly consumer: Consumer;
  private readonly stopRetrying = new AbortController();
  private readonly abandon = new AbortController();
  private readonly inFlight = new InFlight();
  private closing: Promise<void> | undefined;
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(
    readonly topic: string,
    readonly group: string,
    private readonly handler: BusHandler<unknown>,
    private readonly policy: RetryPolicy,
    private readonly observer: BusObserver | undefined,
    private readonly context: KafkaContext,
  ) {
    const { params } = context;
    this.consumer = context.kafka.consumer({
      groupId: group,
      sessionTimeout: params.sessionTimeoutMs,
      heartbeatInterval: params.heartbeatIntervalMs,
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: async () => !this.stopRetrying.signal.aborted },
    });
  }

  /** Joins the group; resolves once this consumer has its first assignment. */
  async start(): Promise<void> {
    const { params } = this.context;
    let removeJoinListener: (() => void) | undefined;
    const joined = new Promise<void>((resolve) => {
      removeJoinListener = this.consumer.on(this.consumer.events.GROUP_JOIN, () => resolve());
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      params.logger.error(
        { err: event.payload.error, topic: this.topic, group: this.group, restart: event.payload.restart },
        'consumer crashed',
      );
    });
    await this.consumer.connect();
    // A group with committed offsets resumes from them; a new one starts at the earliest message
    // (a `fromBeginning: false` group had its end offsets committed before this).
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      partitionsConsumedConcurrently: params.partitions,
      eachMessage: (payload) => this.handle(payload),
    });
    try {
      await within(joined, params.joinTimeoutMs, `joining group ${this.group}`);
    } finally {
      removeJoinListener?.();
    }
  }

  private async handle({ topic, partition, message, heartbeat }: EachMessagePayload): Promise<void> {
    this.inFlight.enter();
    try {
      const { logger, observer } = this.context.params;
      const observers = [observer, this.observer];
      const where = { topic, group: this.group, partition };
      const outcome = await this.deliver(topic, partition, message, heartbeat);
      if (outcome.kind === 'abandoned') {
        // Throwing keeps kafkajs from resolving the offset: the message stays uncommitted.
        throw new this.context.kafkajs.KafkaJSError('subscription closed before the message was handled');
      }
      if (outcome.kind === 'handled') {
        notify(observers, { type: 'consumed', ...where, durationMs: outcome.durationMs }, logger);
        return;
      }
      const headers = deadLetterHeaders(stringHeaders(message.headers), {
        ...where,
        offset: message.offset,
        ...outcome,
      });
      // If this throws, kafkajs retries the batch and the message is delivered again.
      await this.context.deadLetter(topic, message.key, message.value, headers);
      logger.warn(
        { ...where, offset: message.offset, attempts: outcome.attempts, err: outcome.error },
        'message dead-lettered',
      );
      notify(
        observers,
        { type: 'dead-lettered', ...where, attempts: outcome.attempts, error: outcome.error },
        logger,
      );
    } finally {
      this.inFlight.leave();
    }
  }

  private async deliver(
    topic: string,
    partition: number,
    message: EachMessagePayload['message'],
    heartbeat: () => Promise<void>,
  ): Promise<DeliveryOutcome> {
    const headers = stringHeaders(message.headers);
    let value: unknown;
    try {
      value = message.value === null ? null : JSON.parse(message.value.toString('utf8'));
    } catch (error) {
      // Not written by this bus: retrying cannot help, so it goes straight to the dead letters.
      return { kind: 'failed', attempts: 0, error };
    }
    const busMessage: Omit<BusMessage, 'attempt'> = {
      topic,
      key: message.key?.toString('utf8') ?? '',
      value,
      headers,
      partition,
      offset: message.offset,
      timestamp: Number(message.timestamp),
      id: headers[MESSAGE_ID_HEADER] ?? `${topic}/${partition}/${message.offset}`,
    };
    const { logger, observer } = this.context.params;
    return deliverWithRetry(this.handler, busMessage, this.policy, {
      stopRetrying: this.stopRetrying.signal,
      abandon: this.abandon.signal,
      pauseBetweenAttempts: (ms, signal) => pauseWithHeartbeats(ms, signal, heartbeat),
      onRetry: (attempt, error) =>
        notify(
          [observer, this.observer],
          { type: 'retried', topic, group: this.group, partition, attempt, error },
          logger,
        ),
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const { params } = this.context;
    this.stopRetrying.abort();
    // disconnect() waits for the running batch, commits what was handled and leaves the group.
    const disconnected = this.consumer.disconnect();
    if (!(await this.inFlight.drained(params.drainTimeoutMs))) {
      params.logger.warn(
        { topic: this.topic, group: this.group },
        'handlers still running after the drain timeout; abandoning them',
      );
      this.abandon.abort();
    }
    try {
      await within(disconnected, params.requestTimeoutMs, `leaving group ${this.group}`);
    } catch (error) {
      params.logger.warn(
        { err: error, topic: this.topic, group: this.group },
        'consumer did not disconnect cleanly',
      );
    }
    this.resolveClosed();
  }
}

/** Waits out a backoff in slices, heartbeating between them; a rebalance makes `heartbeat` throw. */
async function pauseWithHeartbeats(
  ms: number,
  signal: AbortSignal,
  heartbeat: () => Promise<void>,
): Promise<void> {
  let remaining = ms;
  while (remaining > 0 && !signal.aborted) {
    const slice = Math.min(remaining, BACKOFF_SLICE_MS);
    await pause(slice, signal);
    remaining -= slice;
    await heartbeat();
  }
}
