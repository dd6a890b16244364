import {
  createRedis,
  pingRedis,
  type Redis,
  type ServiceApp,
  type ServiceContext,
  type ServiceDefinition,
} from '@sysdesign/platform';
import { CircuitBreaker, type LimiterUnavailableError } from '@sysdesign/redis-limiters';
import { createApp, registerApp } from './app.js';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import type { RuleSet, RulesError } from './domain/rules.js';
import { createRateLimiterMetrics, type RateLimiterMetrics } from './metrics.js';
import type { RejectedReload } from './routes/rules.js';
import { type LimiterBackend, LoadedRules, memoryBackend, redisBackend } from './store/limiters.js';
import { loadRulesFile, watchRules } from './workers/rules-watcher.js';

/** What tests may inject beyond the configuration. */
export interface BuildOptions {
  /** The in-memory backend's clock (ms). Redis always decides on its own server clock. */
  clock?: () => number;
}

function limiterBackend(
  config: Config,
  redis: Redis | undefined,
  metrics: RateLimiterMetrics,
  app: ServiceApp,
  options: BuildOptions,
): LimiterBackend {
  if (redis === undefined) {
    return memoryBackend({
      maxKeys: config.MEMORY_MAX_KEYS,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }
  const breaker = new CircuitBreaker({
    failureThreshold: config.BREAKER_FAILURE_THRESHOLD,
    cooldownMs: config.BREAKER_COOLDOWN_MS,
    onStateChange: (state) => {
      metrics.breakerOpen.set(state === 'closed' ? 0 : 1);
      if (state === 'open')
        app.log.warn(
          { failMode: config.FAIL_MODE },
          'Redis failing: circuit breaker open, applying the fail mode',
        );
      else if (state === 'closed') app.log.info('Redis answering again: circuit breaker closed');
    },
  });
  const errorChildren = new Map<string, ReturnType<RateLimiterMetrics['redisErrors']['labels']>>();
  return redisBackend(redis, {
    prefix: config.REDIS_KEY_PREFIX,
    timeoutMs: config.REDIS_TIMEOUT_MS,
    breaker,
    overLimitCache:
      config.OVER_LIMIT_CACHE_TTL_MS === 0
        ? false
        : { maxKeys: config.OVER_LIMIT_CACHE_MAX_KEYS, maxTtlMs: config.OVER_LIMIT_CACHE_TTL_MS },
    events: {
      onRedisReply: (durationMs) => metrics.redisDuration.observe(durationMs / 1_000),
      onCacheHit: () => metrics.localCacheHits.inc(),
      onUnavailable: (error: LimiterUnavailableError) => {
        let child = errorChildren.get(error.reason);
        if (child === undefined) {
          child = metrics.redisErrors.labels(error.reason);
          errorChildren.set(error.reason, child);
        }
        child.inc();
      },
    },
  });
}

function recordLoaded(metrics: RateLimiterMetrics, loaded: LoadedRules): void {
  metrics.rulesLoaded.set(loaded.rules.rules.length);
  metrics.rulesLoadedAt.set(loaded.loadedAt.getTime() / 1_000);
}

/**
 * Builds the rate-limiter from its configuration: the rules file (an invalid one fails the start),
 * Redis when configured (else in-memory counters), the rules watcher and the routes. Closing the
 * app stops the watcher and closes Redis.
 */
export async function buildService(
  config: Config,
  context: ServiceContext,
  options: BuildOptions = {},
): Promise<ServiceApp> {
  const rules: RuleSet = await loadRulesFile(config.RULES_FILE);
  const app = await createApp({
    logger: context.logger,
    logLevel: config.LOG_LEVEL,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  const metrics = createRateLimiterMetrics(app.metrics);
  let redis: Redis | undefined;
  try {
    if (config.REDIS_URL) redis = await createRedis({ url: config.REDIS_URL, connectionName: SERVICE_NAME });
    const loaded = new LoadedRules(
      limiterBackend(config, redis, metrics, app, options),
      rules,
      config.RULES_FILE,
    );
    recordLoaded(metrics, loaded);
    app.log.info(
      { file: config.RULES_FILE, rules: rules.rules.length, backend: redis ? 'redis' : 'memory' },
      'rules loaded',
    );
    let lastRejected: RejectedReload | undefined;
    const watcher = config.RULES_WATCH
      ? watchRules(config.RULES_FILE, rules.contentHash, {
          onReload: (reloaded) => {
            loaded.apply(reloaded);
            recordLoaded(metrics, loaded);
            metrics.reloads.labels('applied').inc();
            app.log.info(
              { file: config.RULES_FILE, rules: reloaded.rules.length, version: loaded.version },
              'rules reloaded',
            );
          },
          onInvalid: (error: RulesError) => {
            lastRejected = { at: new Date(), problems: error.problems };
            metrics.reloads.labels('invalid').inc();
            app.log.error(
              { file: config.RULES_FILE, problems: error.problems },
              'rules file invalid: keeping the rules in force',
            );
          },
        })
      : undefined;
    if (redis) {
      const client = redis;
      app.readiness.add('redis', () => pingRedis(client));
    }
    app.addHook('onClose', async () => {
      watcher?.close();
      redis?.disconnect();
    });
    return registerApp(app, {
      loaded,
      failMode: config.FAIL_MODE,
      metrics,
      lastRejectedReload: () => lastRejected,
    });
  } catch (error) {
    redis?.disconnect();
    await app.close();
    throw error;
  }
}

export const rateLimiter: ServiceDefinition<typeof configSchema> = {
  name: SERVICE_NAME,
  defaultPort: DEFAULT_PORT,
  configSchema,
  build: (config, context) => buildService(config, context),
};
