import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkSnowflakeConfig,
  createEventBus,
  createRedis,
  type EventBus,
  type LeasedSnowflake,
  migrate,
  openSql,
  pingRedis,
  type Redis,
  resolveAuthSecret,
  type ServiceApp,
  type ServiceContext,
  type ServiceDefinition,
  type Sql,
  schemaForService,
  startLeasedSnowflake,
  TokenAuthority,
  WORKER_LEASE_MIGRATIONS,
} from '@sysdesign/platform';
import { type AppDeps, createApp, registerApp } from './app.js';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { CodeFilter } from './domain/code-filter.js';
import { Links } from './domain/links.js';
import {
  aggregatorObserver,
  createShortenerMetrics,
  linksObserver,
  publisherObserver,
  type ShortenerMetrics,
  snowflakeObserver,
} from './metrics.js';
import { PostgresClickStore } from './store/click-store.js';
import { type LinkCache, MemoryLinkCache, RedisLinkCache } from './store/link-cache.js';
import { PostgresLinkStore } from './store/link-store.js';
import { ClickAggregator } from './workers/click-aggregator.js';
import { ClickPublisher } from './workers/click-publisher.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
const GAUGE_REFRESH_MS = 5_000;
const HOUR_MS = 3_600_000;

/** Everything `buildService` opened, closed in reverse on shutdown (or on a failed start). */
class Resources {
  private readonly closers: { name: string; close: () => Promise<void> | void }[] = [];

  add(name: string, close: () => Promise<void> | void): void {
    this.closers.push({ name, close });
  }

  async closeAll(log: { warn(fields: object, message: string): void }): Promise<void> {
    for (const { name, close } of this.closers.reverse()) {
      try {
        await close();
      } catch (error) {
        log.warn({ err: error, resource: name }, 'closing failed');
      }
    }
    this.closers.length = 0;
  }
}

function createCache(config: Config, redis: Redis | undefined, metrics: ShortenerMetrics): LinkCache {
  if (!redis) return new MemoryLinkCache(config.CACHE_MAX_ENTRIES);
  return new RedisLinkCache(redis, {
    keyPrefix: config.REDIS_KEY_PREFIX,
    onError: (operation) => metrics.cacheErrors.inc({ operation }),
  });
}

/** The clock for expiry, click times and stats (tests move it); defaults to Date.now. */
export interface BuildOptions {
  nowMs?: () => number;
}

interface Backends {
  sql: Sql;
  redis: Redis | undefined;
  bus: EventBus;
}

async function openBackends(
  app: ServiceApp,
  config: Config,
  context: ServiceContext,
  resources: Resources,
): Promise<Backends> {
  const sql: Sql = await openSql({
    schema: context.sqlSchema ?? schemaForService(SERVICE_NAME),
    databaseUrl: config.DATABASE_URL,
    ...(context.embedded ? { embedded: context.embedded } : {}),
    pgliteDir: config.PGLITE_DIR,
    applicationName: SERVICE_NAME,
    onIdleError: (error) => app.log.warn({ err: error }, 'idle postgres connection failed'),
  });
  resources.add('postgres', () => sql.close());
  await migrate(sql, WORKER_LEASE_MIGRATIONS, MIGRATIONS_DIR);
  app.readiness.add('postgres', () => sql.ping());

  let redis: Redis | undefined;
  if (config.REDIS_URL) {
    const connection = await createRedis({ url: config.REDIS_URL, connectionName: SERVICE_NAME });
    redis = connection;
    resources.add('redis', () => connection.disconnect());
    app.readiness.add('redis', () => pingRedis(connection));
  }

  let bus: EventBus;
  if (context.bus) bus = context.bus;
  else {
    const own = await createEventBus({
      clientId: SERVICE_NAME,
      kafkaBrokers: config.KAFKA_BROKERS,
      dir: join(config.DATA_DIR, 'bus'),
      logger: app.log,
    });
    resources.add('event bus', () => own.close());
    bus = own;
  }
  app.readiness.add('event-bus', () => bus.ping());
  return { sql, redis, bus };
}

async function startSnowflake(
  app: ServiceApp,
  config: Config,
  backends: Backends,
  metrics: ShortenerMetrics,
  resources: Resources,
): Promise<LeasedSnowflake> {
  const leased = await startLeasedSnowflake(config, {
    sql: backends.sql,
    ...(backends.redis ? { redis: backends.redis } : {}),
    redisKeyPrefix: config.REDIS_KEY_PREFIX,
    logger: app.log,
    observer: snowflakeObserver(metrics),
  });
  resources.add('snowflake worker', () => leased.stop());
  app.readiness.add('worker-lease', () => {
    if (!leased.ready) throw new Error('worker id lease not held');
  });
  return leased;
}

/** The hash strategy's filter of codes in use, filled from the store. */
async function rebuildCodeFilter(app: ServiceApp, config: Config, sql: Sql): Promise<CodeFilter> {
  const codes = new PostgresLinkStore(sql);
  const filter = new CodeFilter({
    expectedKeys: config.BLOOM_EXPECTED_CODES,
    falsePositiveRate: config.BLOOM_FALSE_POSITIVE_RATE,
  });
  const count = await filter.rebuild((after, limit) => codes.codesAfter(after, limit));
  app.log.info(
    { codes: count, expectedFalsePositiveRate: filter.expectedFalsePositiveRate },
    'bloom filter rebuilt',
  );
  return filter;
}

interface LinksParts {
  cache: LinkCache;
  worker: LeasedSnowflake | undefined;
  filter: CodeFilter | undefined;
  metrics: ShortenerMetrics;
  nowMs: () => number;
}

function createLinks(config: Config, sql: Sql, parts: LinksParts): Links {
  const { worker, filter } = parts;
  return new Links({
    store: new PostgresLinkStore(sql),
    cache: parts.cache,
    strategy: config.CODE_STRATEGY,
    ...(worker ? { nextId: () => worker.generator.nextSync() } : {}),
    ...(filter ? { filter } : {}),
    hashMaxAttempts: config.HASH_MAX_ATTEMPTS,
    cacheTtlMs: config.CACHE_TTL_MS,
    negativeCacheTtlMs: config.NEGATIVE_CACHE_TTL_MS,
    nowMs: parts.nowMs,
    observer: linksObserver(parts.metrics),
  });
}

/** The click aggregator (when this instance runs one) and the publisher the redirects feed. */
async function startClickPipeline(
  app: ServiceApp,
  config: Config,
  parts: { bus: EventBus; clicks: PostgresClickStore; metrics: ShortenerMetrics; nowMs: () => number },
  resources: Resources,
): Promise<ClickPublisher> {
  const { bus, metrics } = parts;
  if (config.AGGREGATOR_ENABLED) {
    const aggregator = await ClickAggregator.start({
      bus,
      store: parts.clicks,
      flushIntervalMs: config.FLUSH_INTERVAL_MS,
      flushMaxClicks: config.FLUSH_MAX_CLICKS,
      flushIdleMs: config.FLUSH_IDLE_MS,
      retention: {
        dedupeRetentionMs: config.DEDUPE_RETENTION_HOURS * HOUR_MS,
        minutesRetentionMs: config.CLICK_MINUTES_RETENTION_HOURS * HOUR_MS,
      },
      logger: app.log,
      observer: aggregatorObserver(metrics),
      nowMs: parts.nowMs,
    });
    resources.add('click aggregator', () => aggregator.stop());
  }
  const publisher = new ClickPublisher({
    bus,
    lingerMs: config.CLICK_LINGER_MS,
    batchMax: config.CLICK_BATCH_MAX,
    bufferMax: config.CLICK_BUFFER_MAX,
    logger: app.log,
    observer: publisherObserver(metrics),
  });
  resources.add('click publisher', () => publisher.close());
  return publisher;
}

/** Gauges sampled rather than counted: cache entries and the bloom filter's fill. */
function startGauges(
  cache: LinkCache,
  filter: CodeFilter | undefined,
  metrics: ShortenerMetrics,
  resources: Resources,
): void {
  const gauges = setInterval(() => {
    const entries = cache.size();
    if (entries !== undefined) metrics.cacheEntries.set(entries);
    if (filter) {
      metrics.bloomKeys.set(filter.size);
      metrics.bloomExpectedFalsePositiveRate.set(filter.expectedFalsePositiveRate);
    }
  }, GAUGE_REFRESH_MS);
  gauges.unref();
  resources.add('gauges', () => clearInterval(gauges));
}

function createRateLimitOf(config: Config, redis: Redis | undefined): Pick<AppDeps, 'createRateLimit'> {
  if (!config.RATE_LIMIT_ENABLED) return {};
  return {
    createRateLimit: {
      limit: config.CREATE_RATE_LIMIT,
      windowMs: config.CREATE_RATE_WINDOW_MS,
      keyPrefix: `${config.REDIS_KEY_PREFIX}rl:`,
      ...(redis ? { redis } : {}),
    },
  };
}

/** Opens the backends and parts in dependency order; each registers its close on `resources`. */
async function assemble(
  app: ServiceApp,
  config: Config,
  context: ServiceContext,
  options: BuildOptions,
  resources: Resources,
): Promise<ServiceApp> {
  const nowMs = options.nowMs ?? Date.now;
  const metrics = createShortenerMetrics(app.metrics);
  const backends = await openBackends(app, config, context, resources);
  const { sql, redis, bus } = backends;
  const worker =
    config.CODE_STRATEGY === 'snowflake'
      ? await startSnowflake(app, config, backends, metrics, resources)
      : undefined;
  const filter = config.CODE_STRATEGY === 'hash' ? await rebuildCodeFilter(app, config, sql) : undefined;
  const cache = createCache(config, redis, metrics);
  const links = createLinks(config, sql, { cache, worker, filter, metrics, nowMs });
  resources.add('links', () => links.close());
  const clicks = new PostgresClickStore(sql);
  const publisher = await startClickPipeline(app, config, { bus, clicks, metrics, nowMs }, resources);
  startGauges(cache, filter, metrics, resources);
  const secret = await resolveAuthSecret({
    configured: config.AUTH_SECRET,
    dataDir: config.DATA_DIR,
    log: app.log,
  });
  app.addHook('onClose', () => resources.closeAll(app.log));
  return await registerApp(app, {
    links,
    clicks,
    publisher,
    authority: new TokenAuthority({ secret }),
    metrics,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    redirectStatus: config.REDIRECT_STATUS,
    permanentRedirectMaxAgeSeconds: config.PERMANENT_REDIRECT_MAX_AGE_SECONDS,
    ...createRateLimitOf(config, redis),
    nowMs,
  });
}

/**
 * Builds the URL shortener from its configuration: Sql (Postgres or PGlite) with migrations,
 * Redis when configured (cache, worker leases), the event bus (Kafka, the process's shared bus,
 * or its own durable in-process bus under DATA_DIR), the code generator of the chosen strategy,
 * the click publisher and aggregator, and the routes. Closing the app stops the click pipeline
 * (publishing and flushing what it holds) before the backends close.
 */
export async function buildService(
  config: Config,
  context: ServiceContext,
  options: BuildOptions = {},
): Promise<ServiceApp> {
  if (config.CODE_STRATEGY === 'snowflake') checkSnowflakeConfig(config);
  const app = await createApp({
    logger: context.logger,
    logLevel: config.LOG_LEVEL,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  const resources = new Resources();
  try {
    return await assemble(app, config, context, options, resources);
  } catch (error) {
    await resources.closeAll(app.log);
    await app.close();
    throw error;
  }
}

export const urlShortener: ServiceDefinition<typeof configSchema> = {
  name: SERVICE_NAME,
  defaultPort: DEFAULT_PORT,
  configSchema,
  build: buildService,
};
