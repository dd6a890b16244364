import type { Counter, Gauge, LeasedSnowflakeObserver, ServiceMetrics } from '@sysdesign/platform';

/** The id-generator's own series, beside the platform's HTTP and process metrics. */
export interface IdMetrics {
  idsIssued: Counter<'strategy'>;
  clockRollbackWaits: Counter;
  clockRollbackRefusals: Counter;
  leaseRenewals: Counter<'result'>;
  workerId: Gauge<'datacenter'>;
  generatorAvailable: Gauge;
}

export function createIdMetrics(metrics: ServiceMetrics): IdMetrics {
  return {
    idsIssued: metrics.counter('idgen_ids_issued_total', 'Ids issued, by strategy', ['strategy']),
    clockRollbackWaits: metrics.counter(
      'idgen_clock_rollback_waits_total',
      'Clock rollbacks small enough to wait out',
    ),
    clockRollbackRefusals: metrics.counter(
      'idgen_clock_rollback_refusals_total',
      'Clock rollbacks too large to wait out: requests refused',
    ),
    leaseRenewals: metrics.counter('idgen_worker_lease_renewals_total', 'Worker lease renewals, by result', [
      'result',
    ]),
    workerId: metrics.gauge('idgen_worker_id', 'The worker (machine) id this instance holds', ['datacenter']),
    generatorAvailable: metrics.gauge(
      'idgen_generator_available',
      '1 while the snowflake generator may issue ids',
    ),
  };
}

/** Turns the leased generator's events into the id-generator's metrics. */
export function snowflakeObserver(metrics: IdMetrics): LeasedSnowflakeObserver {
  return {
    onRenewal: (result) => metrics.leaseRenewals.inc({ result }),
    onClockRollback: (_rollbackMs, refused) => {
      if (refused) metrics.clockRollbackRefusals.inc();
      else metrics.clockRollbackWaits.inc();
    },
    onAvailability: (available) => metrics.generatorAvailable.set(available ? 1 : 0),
    onLeased: (slot) => metrics.workerId.set({ datacenter: String(slot.datacenterId) }, slot.workerId),
  };
}
