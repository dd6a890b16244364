import { authVars, backendVars, intVar, serviceVars, snowflakeVars } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'news-feed';
export const DEFAULT_PORT = 3005;

export const FANOUT_MODES = ['write', 'read', 'hybrid'] as const;
export type FanoutMode = (typeof FANOUT_MODES)[number];

export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  /** Set: feeds, timelines and the cache tiers live in Redis. Absent: the skip-list twin and bounded memory. */
  REDIS_URL: backendVars.REDIS_URL,
  KAFKA_BROKERS: backendVars.KAFKA_BROKERS,
  /** `redis`: post events cross processes on Redis Streams (two API replicas and a fanout worker). */
  BUS: backendVars.BUS,
  AUTH_SECRET: authVars.AUTH_SECRET,
  ...snowflakeVars,
  /** Prefix of this service's Redis keys (feeds, timelines, cache tiers, rate limits, worker leases). */
  REDIS_KEY_PREFIX: z.string().min(1).max(128).default('news-feed:'),
  /** Topics are `<prefix>.posts` and `<prefix>.fanout`; deployments sharing a bus keep them apart. */
  TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/)
    .default('news-feed'),
  /** `api` serves HTTP only; `worker` runs the fanout consumers (and health/metrics); `all` both. */
  ROLE: z.enum(ROLES).default('all'),
  /** write: push every post into followers' feeds; read: merge followees' timelines at read; hybrid: push, but pull celebrities. */
  FANOUT: z.enum(FANOUT_MODES).default('hybrid'),
  /** Followers at which an author becomes a celebrity (pulled at read in the hybrid mode). */
  CELEBRITY_THRESHOLD: intVar(10_000, 1, 1_000_000_000),
  /** Post ids kept per cached feed and per cached author timeline; deeper pages come from Postgres. */
  FEED_MAX: intVar(800, 10, 100_000),
  /** Users not seen for this many days get no fanout; their feed is rebuilt when they return. */
  INACTIVE_DAYS: intVar(30, 1, 3_650),
  /** Followers per fanout message (one bus message per batch, never one per follower). */
  FANOUT_BATCH: intVar(1_000, 1, 10_000),
  /** Feed writes per round trip inside one batch. */
  FANOUT_WRITE_CHUNK: intVar(200, 1, 10_000),
  /** Characters of a post or a reply. */
  POST_MAX_CHARS: intVar(500, 1, 100_000),
  /** Items in one page of a feed, a timeline or replies. */
  PAGE_MAX: intVar(100, 1, 1_000),
  /** Accounts one user may follow (bounds the fanout-on-read merge). */
  FOLLOWING_MAX: intVar(5_000, 1, 1_000_000),
  /** Posts (and replies) per user per window, shared across replicas through Redis. */
  POST_RATE_LIMIT: intVar(30, 1, 1_000_000),
  POST_RATE_WINDOW_MS: intVar(60_000, 1_000, 86_400_000),
  /** Entries of each in-memory cache tier (the hot post tier everywhere; every tier without Redis). */
  CACHE_ENTRIES_MAX: intVar(100_000, 100, 10_000_000),
  /** Entries of the in-process hot tier in front of the post-content tier. */
  HOT_ENTRIES_MAX: intVar(10_000, 10, 1_000_000),
  /** How long a hot post may be served from this process after another replica deleted it. */
  HOT_TTL_MS: intVar(2_000, 0, 600_000),
  /** Time to live of entries in the Redis cache tiers. */
  CACHE_TTL_MS: intVar(3_600_000, 1_000, 604_800_000),
  /** Verified bearer tokens remembered per process (0 turns the cache off); never past a token's exp. */
  TOKEN_CACHE_ENTRIES_MAX: intVar(10_000, 0, 1_000_000),
  /** How long a verified token is remembered. */
  TOKEN_CACHE_TTL_MS: intVar(60_000, 1_000, 3_600_000),
  /** A rebuild not finished after this long is started again by the next read. */
  REBUILD_TIMEOUT_MS: intVar(60_000, 1_000, 3_600_000),
  /** Feed rebuilds one process runs at once; more returning users wait on Postgres reads. */
  REBUILDS_MAX: intVar(4, 1, 256),
});

export type Config = z.infer<typeof configSchema>;
