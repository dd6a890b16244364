import type { Counter, Gauge, Histogram, LeasedSnowflakeObserver, ServiceMetrics } from '@sysdesign/platform';
import type { LinksObserver } from './domain/links.js';
import type { ClickAggregatorObserver } from './workers/click-aggregator.js';
import type { ClickPublisherObserver } from './workers/click-publisher.js';

/** The URL shortener's own series, beside the platform's HTTP and process metrics. */
export interface ShortenerMetrics {
  linksCreated: Counter<'kind' | 'result'>;
  redirects: Counter<'status'>;
  cacheLookups: Counter<'result'>;
  cacheEntries: Gauge;
  cacheErrors: Counter<'operation'>;
  hashCollisions: Counter;
  bloomChecks: Counter<'result'>;
  bloomFalsePositives: Counter;
  bloomKeys: Gauge;
  bloomExpectedFalsePositiveRate: Gauge;
  clicksPublished: Counter;
  clicksDropped: Counter;
  clickPublishFailures: Counter;
  clicksHeld: Gauge;
  clicksAggregated: Counter;
  clickDuplicates: Counter;
  clickInvalidMessages: Counter;
  clickFlushes: Counter<'result'>;
  clickFlushDuration: Histogram;
  leaseRenewals: Counter<'result'>;
  generatorAvailable: Gauge;
  rateLimited: Counter;
  rateLimiterUnavailable: Counter;
}

export function createShortenerMetrics(metrics: ServiceMetrics): ShortenerMetrics {
  return {
    linksCreated: metrics.counter(
      'urlshort_links_created_total',
      'Creation requests by code kind and result (created or deduplicated)',
      ['kind', 'result'],
    ),
    redirects: metrics.counter('urlshort_redirects_total', 'Answers of GET /{code}, by status', ['status']),
    cacheLookups: metrics.counter(
      'urlshort_cache_lookups_total',
      'Redirect cache lookups: hit, negative_hit (known unknown code) or miss; hit ratio = (hit + negative_hit) / all',
      ['result'],
    ),
    cacheEntries: metrics.gauge(
      'urlshort_cache_entries',
      'Entries in the in-process LRU (absent with Redis)',
    ),
    cacheErrors: metrics.counter(
      'urlshort_cache_errors_total',
      'Cache operations that failed (served from the database)',
      ['operation'],
    ),
    hashCollisions: metrics.counter(
      'urlshort_hash_collisions_total',
      'Hash candidates taken by another URL: one salted rehash each',
    ),
    bloomChecks: metrics.counter(
      'urlshort_bloom_checks_total',
      'Bloom filter checks of hash candidates: free (no read) or maybe_taken (one read)',
      ['result'],
    ),
    bloomFalsePositives: metrics.counter(
      'urlshort_bloom_false_positives_total',
      'Candidates the filter called maybe taken that were free',
    ),
    bloomKeys: metrics.gauge('urlshort_bloom_keys', 'Codes in the bloom filter'),
    bloomExpectedFalsePositiveRate: metrics.gauge(
      'urlshort_bloom_expected_false_positive_rate',
      'The filter’s false-positive rate at its current fill',
    ),
    clicksPublished: metrics.counter(
      'urlshort_clicks_published_total',
      'Click events accepted by the event bus',
    ),
    clicksDropped: metrics.counter(
      'urlshort_clicks_dropped_total',
      'Click events dropped: the publish buffer was full, or shutdown timed out',
    ),
    clickPublishFailures: metrics.counter(
      'urlshort_click_publish_failures_total',
      'Failed publishes of a click batch (retried)',
    ),
    clicksHeld: metrics.gauge(
      'urlshort_clicks_held',
      'Clicks counted in memory by the aggregator, waiting for a flush',
    ),
    clicksAggregated: metrics.counter(
      'urlshort_clicks_aggregated_total',
      'Clicks applied to the counters by a flush',
    ),
    clickDuplicates: metrics.counter(
      'urlshort_click_duplicate_messages_total',
      'url.clicked messages delivered again and not counted twice',
    ),
    clickInvalidMessages: metrics.counter(
      'urlshort_click_invalid_messages_total',
      'url.clicked messages that failed validation, skipped',
    ),
    clickFlushes: metrics.counter('urlshort_click_flushes_total', 'Aggregator flushes by result', ['result']),
    clickFlushDuration: metrics.histogram(
      'urlshort_click_flush_duration_seconds',
      'Time of one aggregator flush transaction',
      [],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
    leaseRenewals: metrics.counter(
      'urlshort_worker_lease_renewals_total',
      'Snowflake worker lease renewals, by result',
      ['result'],
    ),
    generatorAvailable: metrics.gauge(
      'urlshort_code_generator_available',
      '1 while the snowflake generator may issue ids',
    ),
    rateLimited: metrics.counter(
      'urlshort_create_rate_limited_total',
      'Requests (creations and QR images) refused with 429 by the rate limiter',
    ),
    rateLimiterUnavailable: metrics.counter(
      'urlshort_rate_limiter_unavailable_total',
      'Creations admitted without a decision because Redis did not answer (fail open)',
    ),
  };
}

export function linksObserver(metrics: ShortenerMetrics): LinksObserver {
  // Children made once: prom-client hashes the labels on every inc() otherwise (the redirect path).
  const lookups = {
    hit: metrics.cacheLookups.labels('hit'),
    'negative-hit': metrics.cacheLookups.labels('negative_hit'),
    miss: metrics.cacheLookups.labels('miss'),
  };
  const bloomFree = metrics.bloomChecks.labels('free');
  const bloomMaybe = metrics.bloomChecks.labels('maybe_taken');
  return {
    onCreated: (kind, created) =>
      metrics.linksCreated.inc({ kind, result: created ? 'created' : 'deduplicated' }),
    onCacheLookup: (result) => lookups[result].inc(),
    onHashCollision: () => metrics.hashCollisions.inc(),
    onBloomCheck: (maybeTaken) => (maybeTaken ? bloomMaybe : bloomFree).inc(),
    onBloomFalsePositive: () => metrics.bloomFalsePositives.inc(),
  };
}

export function publisherObserver(metrics: ShortenerMetrics): ClickPublisherObserver {
  return {
    onPublished: (clicks) => metrics.clicksPublished.inc(clicks),
    onDropped: (clicks) => metrics.clicksDropped.inc(clicks),
    onPublishFailed: () => metrics.clickPublishFailures.inc(),
  };
}

export function aggregatorObserver(metrics: ShortenerMetrics): ClickAggregatorObserver {
  return {
    onFlushed: (report) => {
      metrics.clickFlushes.inc({ result: 'ok' });
      metrics.clicksAggregated.inc(report.clicks);
      metrics.clickDuplicates.inc(report.duplicates);
      metrics.clickFlushDuration.observe(report.durationMs / 1000);
    },
    onFlushFailed: () => metrics.clickFlushes.inc({ result: 'error' }),
    onInvalidMessage: () => metrics.clickInvalidMessages.inc(),
    onHeld: (clicks) => metrics.clicksHeld.set(clicks),
  };
}

export function snowflakeObserver(metrics: ShortenerMetrics): LeasedSnowflakeObserver {
  return {
    onRenewal: (result) => metrics.leaseRenewals.inc({ result }),
    onAvailability: (available) => metrics.generatorAvailable.set(available ? 1 : 0),
  };
}
