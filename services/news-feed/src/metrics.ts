import type { Counter, Gauge, Histogram, ServiceMetrics } from '@sysdesign/platform';
import type { FanoutMode } from './config.js';
import type { NewsFeedObserver } from './news-feed.js';
import type { TierObserver } from './store/cache.js';
import type { FanoutObserver } from './workers/fanout.js';

/** The news feed's own series, beside the platform's HTTP and process metrics. */
export interface FeedMetrics {
  mode: Gauge<'mode'>;
  posts: Counter<'delivery'>;
  cacheLookups: Counter<'tier' | 'result'>;
  pageItems: Counter<'source'>;
  pagesRebuilding: Counter;
  rebuilds: Counter<'result'>;
  rebuildDuration: Histogram;
  fanoutBatches: Counter;
  fanoutFeedWrites: Counter;
  fanoutLag: Histogram;
  limiterUnavailable: Counter;
}

const LAG_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createFeedMetrics(metrics: ServiceMetrics, mode: FanoutMode): FeedMetrics {
  const created: FeedMetrics = {
    mode: metrics.gauge('news_feed_fanout_mode', '1 for the configured fanout mode', ['mode']),
    posts: metrics.counter('news_feed_posts_total', 'Posts published, by delivery (push or pull)', [
      'delivery',
    ]),
    cacheLookups: metrics.counter(
      'news_feed_cache_lookups_total',
      'Cache tier lookups by tier and result (hit or miss): hit ratio = hit / (hit + miss)',
      ['tier', 'result'],
    ),
    pageItems: metrics.counter(
      'news_feed_page_items_total',
      'Feed items served, by source (cache or postgres)',
      ['source'],
    ),
    pagesRebuilding: metrics.counter(
      'news_feed_pages_rebuilding_total',
      'Feed pages served from Postgres while the reader’s feed was rebuilt',
    ),
    rebuilds: metrics.counter('news_feed_rebuilds_total', 'Feed rebuilds, by result', ['result']),
    rebuildDuration: metrics.histogram('news_feed_rebuild_seconds', 'Time to rebuild one home feed'),
    fanoutBatches: metrics.counter('news_feed_fanout_batches_total', 'Fanout batches written'),
    fanoutFeedWrites: metrics.counter(
      'news_feed_fanout_feed_writes_total',
      'Home feeds written by the fanout (the write amplification of push)',
    ),
    fanoutLag: metrics.histogram(
      'news_feed_fanout_lag_seconds',
      'From a post to the end of one fanout batch that delivers it',
      [],
      LAG_BUCKETS_SECONDS,
    ),
    limiterUnavailable: metrics.counter(
      'news_feed_limiter_unavailable_total',
      'Posts admitted without a rate decision because the limiter did not answer',
    ),
  };
  created.mode.set({ mode }, 1);
  return created;
}

export function tierObserver(metrics: FeedMetrics): TierObserver {
  return (tier, hits, misses) => {
    if (hits > 0) metrics.cacheLookups.inc({ tier, result: 'hit' }, hits);
    if (misses > 0) metrics.cacheLookups.inc({ tier, result: 'miss' }, misses);
  };
}

export function feedObserver(
  metrics: FeedMetrics,
  log: { warn(details: object, message: string): void },
): NewsFeedObserver {
  return {
    pageRead: (mode, stats, rebuilding) => {
      if (stats.fromCache > 0) metrics.pageItems.inc({ source: 'cache' }, stats.fromCache);
      if (stats.fromPostgres > 0) metrics.pageItems.inc({ source: 'postgres' }, stats.fromPostgres);
      if (rebuilding) metrics.pagesRebuilding.inc();
      // The read mode keeps no home feed to hit or miss.
      if (mode !== 'read') metrics.cacheLookups.inc({ tier: 'feed', result: rebuilding ? 'miss' : 'hit' });
    },
    rebuilt: (_reader, _posts, ms) => {
      metrics.rebuilds.inc({ result: 'done' });
      metrics.rebuildDuration.observe(ms / 1_000);
    },
    rebuildFailed: (reader, error) => {
      metrics.rebuilds.inc({ result: 'failed' });
      log.warn(
        { err: error, reader },
        'feed rebuild failed; the next read starts it again after REBUILD_TIMEOUT_MS',
      );
    },
    limiterUnavailable: (error) => {
      metrics.limiterUnavailable.inc();
      log.warn({ err: error }, 'post rate limiter unavailable; admitted');
    },
  };
}

export function fanoutObserver(metrics: FeedMetrics): FanoutObserver {
  return {
    posted: (delivery) => metrics.posts.inc({ delivery }),
    batchWritten: (feeds, lagMs) => {
      metrics.fanoutBatches.inc();
      metrics.fanoutFeedWrites.inc(feeds);
      metrics.fanoutLag.observe(lagMs / 1_000);
    },
  };
}
