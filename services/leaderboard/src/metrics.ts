import type { Counter, Histogram, ServiceMetrics } from '@sysdesign/platform';
import type { LeaderboardObserver } from './leaderboard.js';

/** The leaderboard's own series, beside the platform's HTTP and process metrics. */
export interface LeaderboardMetrics {
  scoresAccepted: Counter;
  scoresRefused: Counter<'reason'>;
  limiterUnavailable: Counter;
  rebuilds: Counter;
  rebuildDuration: Histogram;
  liveStreams: Counter<'event'>;
}

export function createLeaderboardMetrics(metrics: ServiceMetrics): LeaderboardMetrics {
  return {
    scoresAccepted: metrics.counter('leaderboard_scores_accepted_total', 'Score submissions applied'),
    scoresRefused: metrics.counter(
      'leaderboard_scores_refused_total',
      'Score submissions refused by the abuse guard or the board range, by reason',
      ['reason'],
    ),
    limiterUnavailable: metrics.counter(
      'leaderboard_limiter_unavailable_total',
      'Submissions admitted without a per-player rate decision because the limiter did not answer',
    ),
    rebuilds: metrics.counter('leaderboard_rebuilds_total', 'Index rebuilds from the log'),
    rebuildDuration: metrics.histogram(
      'leaderboard_rebuild_seconds',
      'Time to rebuild one board from the log',
    ),
    liveStreams: metrics.counter('leaderboard_live_streams_total', 'Live streams opened and closed', [
      'event',
    ]),
  };
}

export function leaderboardObserver(metrics: LeaderboardMetrics): LeaderboardObserver {
  return {
    accepted: (_board, count) => metrics.scoresAccepted.inc(count),
    refused: (reason) => metrics.scoresRefused.inc({ reason }),
    limiterUnavailable: () => metrics.limiterUnavailable.inc(),
    rebuilt: (_board, _players, ms) => {
      metrics.rebuilds.inc();
      metrics.rebuildDuration.observe(ms / 1_000);
    },
  };
}
