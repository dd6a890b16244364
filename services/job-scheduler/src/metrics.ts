import type { ServiceMetrics } from '@sysdesign/platform';

/** The scheduler's series beside the platform's HTTP ones. Gauges are sampled on a timer. */
export function createSchedulerMetrics(metrics: ServiceMetrics) {
  return {
    submitted: metrics.counter('jobsched_jobs_submitted_total', 'Jobs submitted through the API', ['queue']),
    leased: metrics.counter('jobsched_jobs_leased_total', 'Jobs leased to pull workers', ['queue']),
    outcomes: metrics.counter('jobsched_outcomes_total', 'Pull-worker outcomes accepted', ['outcome']),
    fencingRefusals: metrics.counter(
      'jobsched_fencing_refusals_total',
      'Heartbeats and outcomes refused for a stale fencing token',
      ['action'],
    ),
    leaseExpiries: metrics.counter(
      'jobsched_lease_expiries_total',
      'Leases that lapsed and were put back by this process',
    ),
    attempts: metrics.histogram(
      'jobsched_attempts_per_job',
      'Attempts a job took, observed when a pull worker finishes it through this replica',
      ['queue', 'state'],
      [1, 2, 3, 5, 10, 20, 50, 100],
    ),
    depth: metrics.gauge('jobsched_queue_depth', 'Jobs per queue and state', ['queue', 'state']),
    lagSeconds: metrics.gauge(
      'jobsched_queue_lag_seconds',
      'How long the oldest due job of a queue has waited to start',
      ['queue'],
    ),
  };
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;
