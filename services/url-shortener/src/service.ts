import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  defineService,
  type EventBus,
  type LeasedSnowflake,
  openServiceBus,
  openServiceRedis,
  openServiceSql,
  type Redis,
  resolveAuthSecret,
  type ServiceApp,
  type ServiceContext,
  type Sql,
  startServiceSnowflake,
  TokenAuthority,
  WORKER_LEASE_MIGRATIONS,
} from '@sysdesign/platform';
import { type AppDeps, registerApp } from './app.js';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { CodeFilter } from './domain/code-filter.js';
import { Links } from './domain/links.js';
import { selfReferenceOf } from './domain/target-url.js';
import { mapUrlShortenerError } from './errors.js';
import {
  aggregatorObserver,
  createShortenerMetrics,
  linksObserver,
  publisherObserver,
  type ShortenerMetrics,
  snowflakeObserver,
} from './metrics.js';
import { QrRenderer } from './qr/renderer.js';
import { ADMIN_SCOPE } from './routes/admin.js';
import { PostgresClickStore } from './store/click-store.js';
import { type LinkCache, MemoryLinkCache, RedisLinkCache } from './store/link-cache.js';
import { PostgresLinkStore } from './store/link-store.js';
import { ClickAggregator } from './workers/click-aggregator.js';
import { ClickPublisher } from './workers/click-publisher.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
const GAUGE_REFRESH_MS = 5_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Test seams that configuration cannot express. */
export interface BuildOptions {
  /** The clock for expiry, click times and stats (tests move it); defaults to Date.now. */
  nowMs: () => number;
}

function createCache(config: Config, redis: Redis | undefined, metrics: ShortenerMetrics): LinkCache {
  if (!redis) return new MemoryLinkCache(config.CACHE_MAX_ENTRIES);
  return new RedisLinkCache(redis, {
    keyPrefix: config.REDIS_KEY_PREFIX,
    onError: (operation) => metrics.cacheErrors.inc({ operation }),
  });
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
        referrerRetentionMs: config.REFERRER_RETENTION_DAYS * DAY_MS,
      },
      logger: app.log,
      observer: aggregatorObserver(metrics),
      nowMs: parts.nowMs,
    });
    app.lifecycle.defer('click aggregator', () => aggregator.stop());
  }
  const publisher = new ClickPublisher({
    bus,
    lingerMs: config.CLICK_LINGER_MS,
    batchMax: config.CLICK_BATCH_MAX,
    bufferMax: config.CLICK_BUFFER_MAX,
    logger: app.log,
    observer: publisherObserver(metrics),
  });
  app.lifecycle.defer('click publisher', () => publisher.close());
  return publisher;
}

/** Gauges sampled rather than counted: cache entries and the bloom filter's fill. */
function startGauges(
  app: ServiceApp,
  cache: LinkCache,
  filter: CodeFilter | undefined,
  metrics: ShortenerMetrics,
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
  app.lifecycle.defer('gauges', () => clearInterval(gauges));
}

function rateLimitsOf(config: Config, redis: Redis | undefined): Pick<AppDeps, 'rateLimits'> {
  if (!config.RATE_LIMIT_ENABLED) return {};
  return {
    rateLimits: {
      create: { limit: config.CREATE_RATE_LIMIT, windowMs: config.CREATE_RATE_WINDOW_MS },
      qr: { limit: config.QR_RATE_LIMIT, windowMs: config.QR_RATE_WINDOW_MS },
      keyPrefix: `${config.REDIS_KEY_PREFIX}rl:`,
      ...(redis ? { redis } : {}),
    },
  };
}

/** Every address of this machine's interfaces: a wildcard HOST listens on all of them. */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((addresses) =>
    (addresses ?? []).map((address) => address.address),
  );
}

function qrRendererOf(app: ServiceApp, config: Config): QrRenderer {
  const renderer = new QrRenderer({
    threads: config.QR_RENDER_THREADS,
    queueMax: config.QR_RENDER_QUEUE_MAX,
  });
  app.lifecycle.defer('qr renderer', () => renderer.close());
  return renderer;
}

/**
 * Opens the URL shortener's parts in dependency order, each closed in reverse by the app's
 * lifecycle: Sql (Postgres or PGlite) with migrations, Redis when configured (cache, worker
 * leases, rate limits), the event bus (Kafka, the process's shared bus, or its own durable
 * in-process bus under DATA_DIR), the code generator of the chosen strategy, the click
 * aggregator and publisher, and the routes. Closing the app stops the click pipeline
 * (publishing and flushing what it holds) before the backends close.
 */
async function setup(
  app: ServiceApp,
  config: Config,
  context: ServiceContext,
  options: BuildOptions,
): Promise<void> {
  const nowMs = options.nowMs ?? Date.now;
  const metrics = createShortenerMetrics(app.metrics);
  const sql = await openServiceSql(app, config, context, {
    migrations: [WORKER_LEASE_MIGRATIONS, MIGRATIONS_DIR],
  });
  const redis = await openServiceRedis(app, config);
  const bus = await openServiceBus(app, config, context);
  const worker =
    config.CODE_STRATEGY === 'snowflake'
      ? await startServiceSnowflake(app, config, { sql, redis, observer: snowflakeObserver(metrics) })
      : undefined;
  const filter = config.CODE_STRATEGY === 'hash' ? await rebuildCodeFilter(app, config, sql) : undefined;
  const cache = createCache(config, redis, metrics);
  const links = createLinks(config, sql, { cache, worker, filter, metrics, nowMs });
  app.lifecycle.defer('links', () => links.close());
  const clicks = new PostgresClickStore(sql, { referrerTopN: config.REFERRER_TOP_N });
  const publisher = await startClickPipeline(app, config, { bus, clicks, metrics, nowMs });
  startGauges(app, cache, filter, metrics);
  const secret = await resolveAuthSecret({
    configured: config.AUTH_SECRET,
    dataDir: config.DATA_DIR,
    log: app.log,
    // The embedded mode's operator is whoever can read DATA_DIR: its dev token may use the operator API.
    devScopes: [ADMIN_SCOPE],
  });
  await registerApp(app, {
    links,
    clicks,
    publisher,
    authority: new TokenAuthority({ secret }),
    metrics,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    self: selfReferenceOf({
      publicBaseUrl: config.PUBLIC_BASE_URL,
      listen: { host: config.HOST, port: config.PORT },
      interfaceAddresses: interfaceAddresses(),
    }),
    blockPrivateTargets: config.BLOCK_PRIVATE_TARGETS,
    trustProxy: config.TRUST_PROXY,
    redirectStatus: config.REDIRECT_STATUS,
    permanentRedirectMaxAgeSeconds: config.PERMANENT_REDIRECT_MAX_AGE_SECONDS,
    qr: { renderer: qrRendererOf(app, config), cacheEntries: config.QR_CACHE_ENTRIES },
    uniqueClicks: {
      windowMs: config.UNIQUE_CLICK_WINDOW_SECONDS * 1_000,
      maxEntries: config.UNIQUE_CLICK_TRACKED_MAX,
    },
    ...rateLimitsOf(config, redis),
    nowMs,
  });
}

export const urlShortener = defineService<typeof configSchema, BuildOptions>({
  name: SERVICE_NAME,
  description:
    'Short codes for long URLs: base62 snowflake or hashed codes, cache-aside redirects, click analytics as a stream.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  mapError: mapUrlShortenerError,
  setup,
});

/** Builds the app from its configuration (tests pass `nowMs`); closing it closes everything it opened. */
export const buildService = urlShortener.build;
