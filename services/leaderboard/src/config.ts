import { authVars, backendVars, boolVar, intVar, serviceVars, splitList } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'leaderboard';
export const DEFAULT_PORT = 3011;

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  /** Set: the index is Redis sorted sets. Absent: the skip-list twin in this process. */
  REDIS_URL: backendVars.REDIS_URL,
  /**
   * Several Redis servers for partitioned boards (comma-separated URLs): a board's shard i lives on
   * URL i mod n, its single-set boards and distinct-score sets on REDIS_URL. Needs REDIS_URL.
   */
  SHARD_REDIS_URLS: z
    .string()
    .transform(splitList)
    .pipe(
      z
        .array(
          z.string().refine((value) => {
            try {
              return ['redis:', 'rediss:'].includes(new URL(value).protocol);
            } catch {
              return false;
            }
          }, 'each must be a URL with scheme redis: or rediss:'),
        )
        .min(1)
        .max(16),
    )
    .optional()
    // The platform hides the password of one URL in a config error, not of each in a list.
    .meta({ secret: true }),
  AUTH_SECRET: authVars.AUTH_SECRET,
  /** Prefix of this service's Redis keys (the index and the per-player limiter). */
  REDIS_KEY_PREFIX: z.string().min(1).max(128).default('leaderboard:'),
  /** Boards one deployment may hold (each costs an index key per period). */
  BOARDS_MAX: intVar(10_000, 1, 1_000_000),
  /** Entries in one batch submission. */
  BATCH_MAX: intVar(100, 1, 1_000),
  /** The largest value an `incr`/`decr` submission may carry; larger ones are refused and counted. */
  INCREMENT_MAX: intVar(1_000_000, 1, Number.MAX_SAFE_INTEGER),
  /** Submissions per player per board per window (shared across instances through Redis). */
  PLAYER_RATE_LIMIT_ENABLED: boolVar(true),
  PLAYER_RATE_LIMIT: intVar(600, 1, 1_000_000),
  PLAYER_RATE_WINDOW_MS: intVar(60_000, 1_000, 86_400_000),
  /** The longest page of a top list or period standings. */
  PAGE_MAX: intVar(100, 1, 1_000),
  /** Players in one "rank within a list" (friends) request. */
  LIST_MAX: intVar(1_000, 1, 10_000),
  /** The most players shown on each side in around-me. */
  AROUND_MAX: intVar(50, 1, 500),
  /** Live pages: how often a board with watchers is read for a changed top 10 (changes in between coalesce). */
  LIVE_INTERVAL_MS: intVar(250, 20, 60_000),
  /** Open live streams per instance. */
  LIVE_STREAMS_MAX: intVar(1_000, 1, 100_000),
  /** Entries per chunk when the index is rebuilt from the log. */
  REBUILD_CHUNK: intVar(5_000, 100, 100_000),
  /** Buckets per shard of a hash-partitioned board's rank sketch (approximate global rank). */
  SKETCH_BUCKETS: intVar(64, 4, 1_024),
  /** An approximate rank uses sketches at most this old (then the next read takes them again). */
  SKETCH_MAX_AGE_MS: intVar(1_000, 10, 3_600_000),
  /** At start, rebuild every board whose index disagrees with the log (count of players). */
  RECOVER_ON_START: boolVar(true),
});

export type Config = z.infer<typeof configSchema>;
