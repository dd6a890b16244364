import { defineService, openServiceRedis, type Redis, type ServiceApp } from '@sysdesign/platform';
import { CircuitBreaker, type LimiterUnavailableError } from '@sysdesign/redis-limiters';
import { registerApp } from './app.js';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import type { RulesError } from './domain/rules.js';
import { mapRateLimiterError } from './errors.js';
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
 * Watches RULES_FILE and applies each valid version; an invalid one is logged, counted and kept
 * as the last rejected reload while the rules in force stay. The lifecycle stops the watching.
 */
function watchRulesFile(
  app: ServiceApp,
  config: Config,
  loaded: LoadedRules,
  metrics: RateLimiterMetrics,
): { lastRejected(): RejectedReload | undefined } {
  let lastRejected: RejectedReload | undefined;
  const watcher = watchRules(config.RULES_FILE, loaded.rules.contentHash, {
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
  });
  app.lifecycle.defer('rules watcher', () => watcher.close());
  return { lastRejected: () => lastRejected };
}

/**
 * The rate-limiter: the rules file (an invalid one fails the start), Redis when configured (else
 * in-memory counters), the rules watcher and the routes.
 */
export const rateLimiter = defineService<typeof configSchema, BuildOptions>({
  name: SERVICE_NAME,
  description:
    'Rate limiting as a service: Lyft/Envoy descriptor rules, six algorithms shared through Redis, shadow mode, hot reload.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  mapError: mapRateLimiterError,
  async setup(app, config, _context, options) {
    const rules = await loadRulesFile(config.RULES_FILE);
    const metrics = createRateLimiterMetrics(app.metrics);
    const redis = await openServiceRedis(app, config);
    const backend = limiterBackend(config, redis, metrics, app, options);
    const loaded = new LoadedRules(backend, rules, config.RULES_FILE);
    recordLoaded(metrics, loaded);
    app.log.info(
      { file: config.RULES_FILE, rules: rules.rules.length, backend: redis ? 'redis' : 'memory' },
      'rules loaded',
    );
    const reloads = config.RULES_WATCH ? watchRulesFile(app, config, loaded, metrics) : undefined;
    registerApp(app, {
      loaded,
      failMode: config.FAIL_MODE,
      metrics,
      lastRejectedReload: () => reloads?.lastRejected(),
    });
  },
});

/** Builds the service from its configuration; tests pass a clock for the in-memory counters. */
export const buildService = rateLimiter.build;
