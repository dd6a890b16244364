import type { Counter, Gauge, Histogram, ServiceMetrics } from '@sysdesign/platform';
import { LATENCY_BUCKETS_SECONDS } from '@sysdesign/platform';

/** The rate-limiter's own series, beside the platform's HTTP and process metrics. */
export interface RateLimiterMetrics {
  /** Every check, by domain, rule and result (the response's `reason`). */
  decisions: Counter<'domain' | 'rule' | 'result'>;
  /** Admitted checks that left 20 % or less of the rule's capacity: clients close to their limit. */
  nearLimit: Counter<'domain' | 'rule'>;
  /** Over the limit but admitted, because the rule is in shadow mode. */
  shadowMode: Counter<'domain' | 'rule'>;
  /** Decisions Redis did not make, by why (timeout, disconnected, error, breaker-open). */
  redisErrors: Counter<'reason'>;
  redisDuration: Histogram;
  /** Refusals answered from the local over-limit cache, without Redis. */
  localCacheHits: Counter;
  breakerOpen: Gauge;
  reloads: Counter<'result'>;
  rulesLoaded: Gauge;
  rulesLoadedAt: Gauge;
}

export function createRateLimiterMetrics(metrics: ServiceMetrics): RateLimiterMetrics {
  return {
    decisions: metrics.counter('ratelimit_decisions_total', 'Checks by domain, rule and result', [
      'domain',
      'rule',
      'result',
    ]),
    nearLimit: metrics.counter(
      'ratelimit_near_limit_total',
      'Admitted checks with 80% or more of the capacity used',
      ['domain', 'rule'],
    ),
    shadowMode: metrics.counter(
      'ratelimit_shadow_mode_total',
      'Over-limit checks admitted because of shadow mode',
      ['domain', 'rule'],
    ),
    redisErrors: metrics.counter('ratelimit_redis_errors_total', 'Decisions Redis did not make, by reason', [
      'reason',
    ]),
    redisDuration: metrics.histogram(
      'ratelimit_redis_duration_seconds',
      'Round trip of one decision to Redis',
      [],
      LATENCY_BUCKETS_SECONDS,
    ),
    localCacheHits: metrics.counter(
      'ratelimit_local_cache_hits_total',
      'Refusals answered from the over-limit cache',
    ),
    breakerOpen: metrics.gauge(
      'ratelimit_redis_breaker_open',
      '1 while the Redis circuit breaker is open or half-open',
    ),
    reloads: metrics.counter(
      'ratelimit_rules_reloads_total',
      'Rules file reloads by result (applied, invalid)',
      ['result'],
    ),
    rulesLoaded: metrics.gauge('ratelimit_rules_loaded', 'Rules in the loaded rules file'),
    rulesLoadedAt: metrics.gauge(
      'ratelimit_rules_loaded_timestamp_seconds',
      'When the loaded rules were loaded',
    ),
  };
}
