import { fileURLToPath } from 'node:url';
import {
  defineService,
  MemorySortedSetStore,
  openServiceBus,
  openServiceRedis,
  openServiceSql,
  type Redis,
  RedisSortedSetStore,
  resolveAuthSecret,
  type ServiceApp,
  type ServiceContext,
  type SortedSetStore,
  type Sql,
  startServiceSnowflake,
  TokenAuthority,
  WORKER_LEASE_MIGRATIONS,
} from '@sysdesign/platform';
import { createLimiter } from '@sysdesign/redis-limiters';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { mapFeedError } from './errors.js';
import { type ContentTiers, Hydrator } from './hydrate.js';
import { createFeedMetrics, fanoutObserver, feedObserver, tierObserver } from './metrics.js';
import { NewsFeed } from './news-feed.js';
import { registerFeedRoutes } from './routes/feed.js';
import { registerPostRoutes } from './routes/posts.js';
import { registerUserRoutes } from './routes/users.js';
import { type CacheTier, MemoryTier, RedisTier } from './store/cache.js';
import { PostStore } from './store/post-store.js';
import { SocialStore } from './store/social-store.js';
import { Timelines } from './store/timelines.js';
import { CachingTokenAuthority } from './token-cache.js';
import { FanoutWorker } from './workers/fanout.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/** Test seams that configuration cannot express. */
export interface BuildOptions {
  /** The clock for last-seen times and post times (tests move it); defaults to Date.now. */
  nowMs: () => number;
  /** Handed the parts once built (tests wait on the fanout worker and read the feeds). */
  onReady: (parts: NewsFeedParts) => void;
}

export interface NewsFeedParts {
  feed: NewsFeed;
  sql: Sql;
  worker: FanoutWorker | undefined;
  social: SocialStore;
  timelines: Timelines;
  sets: SortedSetStore;
}

export function topicsOf(config: Pick<Config, 'TOPIC_PREFIX'>): { posts: string; batches: string } {
  return { posts: `${config.TOPIC_PREFIX}.posts`, batches: `${config.TOPIC_PREFIX}.fanout` };
}

function sortedSetsOf(config: Config, redis: Redis | undefined): SortedSetStore {
  if (!redis) return new MemorySortedSetStore();
  return new RedisSortedSetStore(redis, { prefix: config.REDIS_KEY_PREFIX });
}

/** Longer bearer tokens are verified on every request rather than remembered. */
const TOKEN_CACHE_CHARS_MAX = 2_048;

function tiersOf(config: Config, redis: Redis | undefined, nowMs: () => number): ContentTiers {
  const shared = (name: string): CacheTier =>
    redis
      ? new RedisTier(redis, name, config.REDIS_KEY_PREFIX, config.CACHE_TTL_MS)
      : new MemoryTier(name, config.CACHE_ENTRIES_MAX);
  return {
    hot: new MemoryTier(
      'hot',
      config.HOT_ENTRIES_MAX,
      redis ? config.HOT_TTL_MS : Number.POSITIVE_INFINITY,
      nowMs,
    ),
    content: shared('content'),
    graph: shared('graph'),
    actions: shared('actions'),
    counters: shared('counters'),
  };
}

/**
 * Opens the feed's parts in dependency order, each closed in reverse by the app's lifecycle: Sql
 * with migrations, Redis when configured (feeds, timelines, cache tiers, the post limiter; else
 * the skip-list twin and bounded memory), the leased snowflake worker, the event bus, the fanout
 * worker (ROLE all or worker) and the routes (ROLE all or api).
 */
async function setup(
  app: ServiceApp,
  config: Config,
  context: ServiceContext,
  options: Partial<BuildOptions>,
): Promise<void> {
  const nowMs = options.nowMs ?? Date.now;
  const metrics = createFeedMetrics(app.metrics, config.FANOUT);
  const sql = await openServiceSql(app, config, context, {
    migrations: [WORKER_LEASE_MIGRATIONS, MIGRATIONS_DIR],
  });
  const redis = await openServiceRedis(app, config);
  const snowflake = await startServiceSnowflake(app, config, { sql, redis });
  const bus = await openServiceBus(app, config, context);
  const sets = sortedSetsOf(config, redis);
  const social = new SocialStore(sql);
  const posts = new PostStore(sql);
  const timelines = new Timelines(sets, config.FEED_MAX, config.FANOUT);
  const hydrator = new Hydrator(
    tiersOf(config, redis, nowMs),
    posts,
    social,
    tierObserver(metrics),
    config.HOT_ENTRIES_MAX,
  );
  const topics = topicsOf(config);
  const feed = new NewsFeed({
    mode: config.FANOUT,
    social,
    posts,
    timelines,
    hydrator,
    bus,
    postsTopic: topics.posts,
    nextId: async () => (await snowflake.generator.nextBatch(1))[0]!,
    limiter: createLimiter(
      {
        algorithm: 'sliding_window_counter',
        limit: config.POST_RATE_LIMIT,
        windowMs: config.POST_RATE_WINDOW_MS,
      },
      { name: 'posts', prefix: `${config.REDIS_KEY_PREFIX}rl:`, ...(redis ? { redis } : {}) },
    ),
    nowMs,
    feedMax: config.FEED_MAX,
    followingMax: config.FOLLOWING_MAX,
    celebrityThreshold: config.CELEBRITY_THRESHOLD,
    inactiveDays: config.INACTIVE_DAYS,
    rebuildTimeoutMs: config.REBUILD_TIMEOUT_MS,
    rebuildsMax: config.REBUILDS_MAX,
    observer: feedObserver(metrics, app.log),
  });
  app.lifecycle.defer('feed rebuilds', () => feed.settle());
  let worker: FanoutWorker | undefined;
  if (config.ROLE !== 'api') {
    worker = new FanoutWorker({
      bus,
      social,
      timelines,
      mode: config.FANOUT,
      postsTopic: topics.posts,
      batchesTopic: topics.batches,
      group: `${config.TOPIC_PREFIX}-fanout`,
      batchSize: config.FANOUT_BATCH,
      writeChunk: config.FANOUT_WRITE_CHUNK,
      inactiveDays: config.INACTIVE_DAYS,
      nowMs,
      observer: fanoutObserver(metrics),
    });
    await worker.start();
    const started = worker;
    app.lifecycle.defer('fanout worker', () => started.close());
  }
  const secret = await resolveAuthSecret({
    configured: config.AUTH_SECRET,
    dataDir: config.DATA_DIR,
    log: app.log,
  });
  const authority =
    config.TOKEN_CACHE_ENTRIES_MAX === 0
      ? new TokenAuthority({ secret })
      : new CachingTokenAuthority({
          secret,
          entriesMax: config.TOKEN_CACHE_ENTRIES_MAX,
          ttlMs: config.TOKEN_CACHE_TTL_MS,
          tokenCharsMax: TOKEN_CACHE_CHARS_MAX,
        });
  if (config.ROLE !== 'worker') {
    registerUserRoutes(app, { feed, authority });
    registerPostRoutes(app, {
      feed,
      authority,
      postMaxChars: config.POST_MAX_CHARS,
      pageMax: config.PAGE_MAX,
    });
    registerFeedRoutes(app, { feed, authority, pageMax: config.PAGE_MAX });
  }
  options.onReady?.({ feed, sql, worker, social, timelines, sets });
}

export const newsFeed = defineService<typeof configSchema, BuildOptions>({
  name: SERVICE_NAME,
  description:
    'Home feeds by fanout on write, on read or hybrid (celebrities pulled at read), on Redis sorted sets or the skip-list twin over Postgres.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  mapError: mapFeedError,
  logBindings: (config) => ({ fanout: config.FANOUT, role: config.ROLE }),
  setup,
});

/** Builds the app from its configuration; closing it closes everything it opened. */
export const buildService = newsFeed.build;
