import { fileURLToPath } from 'node:url';
import {
  defineService,
  type EventBus,
  openServiceBus,
  openServiceRedis,
  openServiceSql,
  type Redis,
  resolveAuthSecret,
  type ServiceApp,
  type ServiceContext,
  startServiceSnowflake,
  TokenAuthority,
  toProblem,
  WORKER_LEASE_MIGRATIONS,
} from '@sysdesign/platform';
import { createLimiter } from '@sysdesign/redis-limiters';
import { registerApp } from './app.js';
import { Chat } from './chat.js';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { mapChatError } from './errors.js';
import { type Fanout, MemoryFanout, RedisFanout } from './fanout.js';
import { AckBuffer } from './gateway/ack-buffer.js';
import { Gateway } from './gateway/gateway.js';
import { type ChatMetrics, createChatMetrics } from './metrics.js';
import { openCassandraMessageStore } from './store/cassandra-messages.js';
import { ChannelStore } from './store/channel-store.js';
import type { MessageStore } from './store/message-store.js';
import { PostgresMessageStore } from './store/postgres-messages.js';
import { MemoryPresenceStore, type PresenceStore, RedisPresenceStore } from './store/presence.js';
import { type PushSender, RecordingPushSender, startNotifier } from './workers/notifier.js';
import { startRetention } from './workers/retention.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/** Test seams that configuration cannot express. */
export interface BuildOptions {
  nowMs: () => number;
  /** Replaces the recording push sender (a real provider's client, or a test's spy). */
  pushSender: PushSender;
}

async function messageStoreOf(app: ServiceApp, config: Config, sql: ChannelStoreSql): Promise<MessageStore> {
  if (!config.CASSANDRA_CONTACT_POINTS) return new PostgresMessageStore(sql);
  const store = await openCassandraMessageStore({
    contactPoints: config.CASSANDRA_CONTACT_POINTS,
    localDataCenter: config.CASSANDRA_LOCAL_DC,
    keyspace: config.CASSANDRA_KEYSPACE,
    replicationFactor: config.CASSANDRA_REPLICATION,
    retentionSeconds: config.RETENTION_DAYS * 86_400,
  });
  app.lifecycle.defer('cassandra', () => store.close());
  app.readiness.add('cassandra', () => store.ping());
  return store;
}

type ChannelStoreSql = ConstructorParameters<typeof ChannelStore>[0];

async function fanoutOf(app: ServiceApp, config: Config, redis: Redis | undefined): Promise<Fanout> {
  const onError = (error: unknown) => app.log.warn({ err: error }, 'fan-out failed');
  const fanout = redis
    ? await RedisFanout.open(redis, config.REDIS_KEY_PREFIX, onError)
    : new MemoryFanout(onError);
  app.lifecycle.defer('fan-out', () => fanout.close());
  return fanout;
}

function presenceOf(config: Config, redis: Redis | undefined): PresenceStore {
  return redis
    ? new RedisPresenceStore(redis, config.REDIS_KEY_PREFIX, config.PRESENCE_TTL_MS)
    : new MemoryPresenceStore(config.PRESENCE_TTL_MS);
}

async function startWorkers(
  app: ServiceApp,
  config: Config,
  parts: {
    bus: EventBus;
    sender: PushSender;
    messages: MessageStore;
    metrics: ChatMetrics;
    nowMs: () => number;
  },
): Promise<void> {
  if (config.NOTIFIER_ENABLED) {
    const subscription = await startNotifier(parts.bus, parts.sender, app.log, () =>
      parts.metrics.pushes.inc(),
    );
    app.lifecycle.defer('notifier', () => subscription.close());
  }
  if (config.RETENTION_DAYS > 0) {
    const stop = startRetention({
      store: parts.messages,
      retentionMs: config.RETENTION_DAYS * 86_400_000,
      sweepMs: config.RETENTION_SWEEP_MS,
      nowMs: parts.nowMs,
      log: app.log,
      onPurged: (count) => parts.metrics.purged.inc(count),
    });
    app.lifecycle.defer('retention', stop);
  }
}

/**
 * Opens the chat's parts in dependency order, each closed in reverse by the app's lifecycle:
 * Sql (channels, members, cursors; and messages unless Cassandra is configured), Redis when
 * configured (fan-out, presence, rate limits, worker leases), the bus (notifications), the
 * snowflake worker, the message store, the workers, the gateway and the routes.
 */
async function setup(
  app: ServiceApp,
  config: Config,
  context: ServiceContext,
  options: Partial<BuildOptions>,
): Promise<void> {
  const nowMs = options.nowMs ?? Date.now;
  const metrics = createChatMetrics(app.metrics);
  const sql = await openServiceSql(app, config, context, {
    migrations: [WORKER_LEASE_MIGRATIONS, MIGRATIONS_DIR],
  });
  const redis = await openServiceRedis(app, config);
  const bus = await openServiceBus(app, config, context);
  const worker = await startServiceSnowflake(app, config, { sql, redis });
  const messages = await messageStoreOf(app, config, sql);
  const channels = new ChannelStore(sql);
  const presence = presenceOf(config, redis);
  const fanout = await fanoutOf(app, config, redis);
  const limiter = createLimiter(
    {
      algorithm: 'sliding_window_counter',
      limit: config.USER_MESSAGE_LIMIT,
      windowMs: config.USER_MESSAGE_WINDOW_MS,
    },
    { name: 'chat-messages', prefix: `${config.REDIS_KEY_PREFIX}rl:`, ...(redis ? { redis } : {}) },
  );
  const chat = new Chat({
    channels,
    messages,
    presence,
    fanout,
    bus,
    limiter,
    nextId: async () => (await worker.generator.nextBatch(1))[0]!,
    nowMs,
    groupMembersMax: config.GROUP_MEMBERS_MAX,
    channelsPerUserMax: config.CHANNELS_PER_USER_MAX,
    messageBytesMax: config.MESSAGE_BYTES_MAX,
    pushMembersMax: config.PUSH_MEMBERS_MAX,
    observer: {
      onMessage: (result) => metrics.messages.inc({ result }),
      onNotification: (count) => metrics.notifications.inc(count),
    },
    onBackgroundError: (error, what) => app.log.warn({ err: error }, `${what} failed`),
  });
  await startWorkers(app, config, {
    bus,
    sender: options.pushSender ?? new RecordingPushSender(channels, app.log, nowMs),
    messages,
    metrics,
    nowMs,
  });
  const acks = new AckBuffer(channels, config.ACK_FLUSH_MS, (error) =>
    app.log.warn({ err: error }, 'saving device cursors failed'),
  );
  const gateway = new Gateway(
    {
      framesPerSecond: config.FRAMES_PER_SECOND,
      socketBufferBytesMax: config.SOCKET_BUFFER_BYTES_MAX,
      resumePage: config.RESUME_PAGE,
      idleTimeoutMs: config.IDLE_TIMEOUT_MS,
      presenceTtlMs: config.PRESENCE_TTL_MS,
      presenceGraceMs: config.PRESENCE_GRACE_MS,
      presenceSubscriptionsMax: config.PRESENCE_SUBSCRIPTIONS_MAX,
      channelsPerUserMax: config.CHANNELS_PER_USER_MAX,
      connectionsMax: config.CONNECTIONS_MAX,
      connectionsPerUserMax: config.CONNECTIONS_PER_USER_MAX,
    },
    {
      chat,
      fanout,
      presence,
      acks,
      metrics,
      log: app.log,
      nowMs,
      problemOf: (error) => mapChatError(error) ?? toProblem(error),
    },
  );
  const secret = await resolveAuthSecret({
    configured: config.AUTH_SECRET,
    dataDir: config.DATA_DIR,
    log: app.log,
  });
  await registerApp(app, {
    chat,
    gateway,
    presence,
    authority: new TokenAuthority({ secret }),
    groupMembersMax: config.GROUP_MEMBERS_MAX,
    channelsPerUserMax: config.CHANNELS_PER_USER_MAX,
    pageMax: config.PAGE_MAX,
    messageBytesMax: config.MESSAGE_BYTES_MAX,
    frameBytesMax: config.FRAME_BYTES_MAX,
    demoLogin: config.AUTH_SECRET === undefined,
    nowMs,
  });
}

export const chat = defineService<typeof configSchema, BuildOptions>({
  name: SERVICE_NAME,
  description:
    'Chat over WebSockets: per-channel sequences, resume after reconnect, presence by heartbeat, read pointers, fan-out across instances through Redis.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  mapError: mapChatError,
  setup,
});

/** Builds the app from its configuration (tests pass `nowMs`); closing it closes everything it opened. */
export const buildService = chat.build;
