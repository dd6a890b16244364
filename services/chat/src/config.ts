import { authVars, backendVars, boolVar, intVar, serviceVars, snowflakeVars } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'chat';
export const DEFAULT_PORT = 3006;

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  /** Set: fan-out over Redis pub/sub, presence and rate limits in Redis. Absent: one process. */
  REDIS_URL: backendVars.REDIS_URL,
  KAFKA_BROKERS: backendVars.KAFKA_BROKERS,
  /** `redis`: the notification events cross processes on Redis Streams. */
  BUS: backendVars.BUS,
  /** Set: messages live in Cassandra (Discord's schema). Absent: in Postgres / PGlite. */
  CASSANDRA_CONTACT_POINTS: backendVars.CASSANDRA_CONTACT_POINTS,
  CASSANDRA_LOCAL_DC: z.string().min(1).max(64).default('datacenter1'),
  CASSANDRA_KEYSPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,47}$/)
    .default('chat'),
  /** Replication factor used when this service creates its keyspace. */
  CASSANDRA_REPLICATION: intVar(1, 1, 7),
  AUTH_SECRET: authVars.AUTH_SECRET,
  ...snowflakeVars,
  /** Prefix of this service's Redis keys and pub/sub channels. */
  REDIS_KEY_PREFIX: z.string().min(1).max(128).default('chat:'),
  /** Members of one group channel. */
  GROUP_MEMBERS_MAX: intVar(500, 2, 100_000),
  /** Channels one user may belong to. */
  CHANNELS_PER_USER_MAX: intVar(1_000, 1, 100_000),
  /** UTF-8 bytes of one message body. */
  MESSAGE_BYTES_MAX: intVar(4_096, 1, 65_536),
  /** Bytes of one WebSocket frame (anything bigger closes the socket with 1009). */
  FRAME_BYTES_MAX: intVar(16_384, 1_024, 1_048_576),
  /** Frames a connection may send per second (burst = the same number); beyond: error frames, then a close. */
  FRAMES_PER_SECOND: intVar(50, 1, 10_000),
  /** Messages a user may send per window, across instances when Redis is set. */
  USER_MESSAGE_LIMIT: intVar(20, 1, 100_000),
  USER_MESSAGE_WINDOW_MS: intVar(1_000, 100, 3_600_000),
  /** A socket whose unsent bytes pass this is a slow consumer: closed with 4008 rather than buffered. */
  SOCKET_BUFFER_BYTES_MAX: intVar(1_048_576, 16_384, 67_108_864),
  /** Open WebSockets per instance. */
  CONNECTIONS_MAX: intVar(20_000, 1, 1_000_000),
  /** Open WebSockets per user (devices and tabs). */
  CONNECTIONS_PER_USER_MAX: intVar(10, 1, 1_000),
  /** Messages sent per page while a socket catches up after a resume. */
  RESUME_PAGE: intVar(200, 10, 1_000),
  /** History page size bound. */
  PAGE_MAX: intVar(100, 1, 1_000),
  /** A connection that sends nothing (not even a ping) for this long is closed. */
  IDLE_TIMEOUT_MS: intVar(120_000, 5_000, 3_600_000),
  /** Presence: a session counts as online this long after its last heartbeat. */
  PRESENCE_TTL_MS: intVar(60_000, 1_000, 3_600_000),
  /** Presence: a user is announced offline only after being gone this long (reconnects in between are silent). */
  PRESENCE_GRACE_MS: intVar(5_000, 0, 600_000),
  /** Users one connection may subscribe to for pushed presence. */
  PRESENCE_SUBSCRIPTIONS_MAX: intVar(200, 1, 10_000),
  /** Channels with more members get no typing or presence push (fetched on demand instead). */
  PUSH_MEMBERS_MAX: intVar(100, 2, 100_000),
  /** Acknowledged sequences are written to the device cursors at most this often. */
  ACK_FLUSH_MS: intVar(500, 10, 60_000),
  /** Messages older than this are deleted by the retention sweep; 0 keeps them forever. */
  RETENTION_DAYS: intVar(0, 0, 36_500),
  RETENTION_SWEEP_MS: intVar(3_600_000, 1_000, 86_400_000),
  /** Run the push notifier (consumer of chat.notification) in this instance. */
  NOTIFIER_ENABLED: boolVar(true),
});

export type Config = z.infer<typeof configSchema>;
