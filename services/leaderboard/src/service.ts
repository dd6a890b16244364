import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  createRedis,
  defineService,
  openServiceRedis,
  openServiceSql,
  pingRedis,
  type Redis,
  resolveAuthSecret,
  type ServiceApp,
  type ServiceContext,
  TokenAuthority,
} from '@sysdesign/platform';
import { createLimiter, type Limiter } from '@sysdesign/redis-limiters';
import { registerApp } from './app.js';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { mapLeaderboardError } from './errors.js';
import { Leaderboard } from './leaderboard.js';
import { LIVE_TOP, LiveHub } from './live.js';
import { createLeaderboardMetrics, leaderboardObserver } from './metrics.js';
import { ADMIN_SCOPE, WRITE_SCOPE } from './routes/schemas.js';
import { BoardStore } from './store/board-store.js';
import { ScoreIndex } from './store/score-index.js';
import { MemoryShardStore, RedisShardStore, type ShardStore } from './store/shard-store.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/** Test seams that configuration cannot express. */
export interface BuildOptions {
  /** The clock for periods and tie-breaks (tests move it); defaults to Date.now. */
  nowMs: () => number;
}

/**
 * The index's backends: the twin, or Redis at REDIS_URL plus one connection per SHARD_REDIS_URLS
 * entry (each closed by the lifecycle, each with its own readiness check).
 */
async function scoreIndexOf(app: ServiceApp, config: Config, redis: Redis | undefined): Promise<ScoreIndex> {
  if (!redis) {
    if (config.SHARD_REDIS_URLS) throw new ConfigError(['SHARD_REDIS_URLS needs REDIS_URL']);
    return new ScoreIndex(new MemoryShardStore());
  }
  const shards: ShardStore[] = [];
  for (const [position, url] of (config.SHARD_REDIS_URLS ?? []).entries()) {
    const connection = await createRedis({
      url,
      connectionName: `${app.serviceName}-shard-${position}`,
      onStalledConnection: (timeoutsInARow) =>
        app.log.warn(
          { shard: position, timeoutsInARow },
          'a shard Redis stopped answering: replacing its connection',
        ),
    });
    app.lifecycle.defer(`redis shard ${position}`, () => connection.disconnect());
    app.readiness.add(`redis-shard-${position}`, () => pingRedis(connection));
    shards.push(new RedisShardStore(connection, config.REDIS_KEY_PREFIX));
  }
  return new ScoreIndex(new RedisShardStore(redis, config.REDIS_KEY_PREFIX), shards);
}

function limiterOf(config: Config, redis: Redis | undefined): Limiter | undefined {
  if (!config.PLAYER_RATE_LIMIT_ENABLED) return undefined;
  return createLimiter(
    {
      algorithm: 'sliding_window_counter',
      limit: config.PLAYER_RATE_LIMIT,
      windowMs: config.PLAYER_RATE_WINDOW_MS,
    },
    { name: 'player-scores', prefix: `${config.REDIS_KEY_PREFIX}rl:`, ...(redis ? { redis } : {}) },
  );
}

/**
 * Opens the leaderboard's parts in dependency order, each closed in reverse by the app's
 * lifecycle: Sql (Postgres or PGlite) with migrations, Redis when configured (the index and the
 * per-player limiter; else the skip-list twin and an in-process limiter), the start-up recovery
 * that rebuilds any board whose index disagrees with the log, the live hub, and the routes.
 */
async function setup(
  app: ServiceApp,
  config: Config,
  context: ServiceContext,
  options: Partial<BuildOptions>,
): Promise<void> {
  const nowMs = options.nowMs ?? Date.now;
  const metrics = createLeaderboardMetrics(app.metrics);
  const sql = await openServiceSql(app, config, context, { migrations: [MIGRATIONS_DIR] });
  const redis = await openServiceRedis(app, config);
  const leaderboard = new Leaderboard({
    store: new BoardStore(sql),
    index: await scoreIndexOf(app, config, redis),
    boardsMax: config.BOARDS_MAX,
    sketchBuckets: config.SKETCH_BUCKETS,
    sketchMaxAgeMs: config.SKETCH_MAX_AGE_MS,
    incrementMax: config.INCREMENT_MAX,
    rebuildChunk: config.REBUILD_CHUNK,
    limiter: limiterOf(config, redis),
    observer: leaderboardObserver(metrics),
    nowMs,
  });
  if (config.RECOVER_ON_START) {
    const rebuilt = await leaderboard.recover();
    if (rebuilt.length > 0) app.log.info({ boards: rebuilt.length }, 'rebuilt boards from the score log');
  }
  const hub = new LiveHub({
    top: async (boardId) => (await leaderboard.top(boardId, 0, LIVE_TOP)).entries,
    intervalMs: config.LIVE_INTERVAL_MS,
    streamsMax: config.LIVE_STREAMS_MAX,
    onError: (error) => app.log.warn({ err: error }, 'live top 10 read failed'),
    onStream: (event) => metrics.liveStreams.inc({ event }),
  });
  app.lifecycle.defer('live streams', () => hub.close());
  const secret = await resolveAuthSecret({
    configured: config.AUTH_SECRET,
    dataDir: config.DATA_DIR,
    log: app.log,
    // The embedded mode's operator is whoever can read DATA_DIR: its dev token may post and administer.
    devScopes: [WRITE_SCOPE, ADMIN_SCOPE],
  });
  registerApp(app, {
    leaderboard,
    hub,
    authority: new TokenAuthority({ secret }),
    batchMax: config.BATCH_MAX,
    pageMax: config.PAGE_MAX,
    listMax: config.LIST_MAX,
    aroundMax: config.AROUND_MAX,
  });
}

export const leaderboard = defineService<typeof configSchema, BuildOptions>({
  name: SERVICE_NAME,
  description:
    'Real-time ranking on Redis sorted sets or the skip-list twin, with every score in a Postgres log the index is rebuilt from.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  mapError: mapLeaderboardError,
  setup,
});

/** Builds the app from its configuration (tests pass `nowMs`); closing it closes everything it opened. */
export const buildService = leaderboard.build;
