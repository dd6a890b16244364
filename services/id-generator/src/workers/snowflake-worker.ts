import {
  autoCandidates,
  type Clock,
  ConfigError,
  LAYOUTS,
  PostgresWorkerLeaseStore,
  type Redis,
  type ServiceLogger,
  RedisWorkerLeaseStore,
  SnowflakeGenerator,
  type Sql,
  WorkerLease,
  type WorkerLeaseStore,
} from '@sysdesign/platform';
import type { Config } from '../config.js';
import type { IdMetrics } from '../metrics.js';

/**
 * The snowflake strategy's worker identity: lease a worker id (or claim the fixed one), build
 * the generator on it, and keep the lease renewed in the background. The generator refuses ids
 * when the lease is lost or not renewed in time, and starts above every time a previous holder
 * of the same id may have used.
 */
export interface SnowflakeWorker {
  generator: SnowflakeGenerator;
  lease: WorkerLease;
  /** Stops issuing ids and releases the lease, recording the last id's time. */
  stop(): Promise<void>;
}

export interface SnowflakeWorkerDeps {
  sql: Sql;
  redis?: Redis;
  metrics: IdMetrics;
  logger: ServiceLogger;
  clock?: Clock;
}

type WorkerConfig = Pick<
  Config,
  | 'ID_LAYOUT'
  | 'ID_EPOCH_MS'
  | 'DATACENTER_ID'
  | 'WORKER_ID'
  | 'WORKER_LEASE_STORE'
  | 'WORKER_LEASE_TTL_MS'
  | 'MAX_CLOCK_ROLLBACK_MS'
> &
  Partial<Pick<Config, 'REDIS_KEY_PREFIX'>>;

/** Cross-variable checks that a zod object schema cannot express on its own. */
export function checkWorkerConfig(config: WorkerConfig & Pick<Config, 'REDIS_URL'>): void {
  const problems: string[] = [];
  const maxWorkerId = config.ID_LAYOUT === 'sonyflake' ? 65_535 : 31;
  if (config.WORKER_ID !== 'auto' && config.WORKER_ID > maxWorkerId) {
    problems.push(`WORKER_ID: must be at most ${maxWorkerId} with ID_LAYOUT=${config.ID_LAYOUT} (got ${config.WORKER_ID})`);
  }
  if (config.WORKER_LEASE_STORE === 'redis' && !config.REDIS_URL) {
    problems.push('WORKER_LEASE_STORE: redis needs REDIS_URL');
  }
  if (config.ID_EPOCH_MS > Date.now()) problems.push(`ID_EPOCH_MS: ${config.ID_EPOCH_MS} is in the future`);
  if (problems.length > 0) throw new ConfigError(problems);
}

export async function startSnowflakeWorker(config: WorkerConfig, deps: SnowflakeWorkerDeps): Promise<SnowflakeWorker> {
  const layout = LAYOUTS[config.ID_LAYOUT];
  const sonyflake = config.ID_LAYOUT === 'sonyflake';
  // Sonyflake has no datacenter field: its 16-bit machine id is the whole node identity.
  const datacenterId = sonyflake ? 0 : config.DATACENTER_ID;
  const store: WorkerLeaseStore =
    config.WORKER_LEASE_STORE === 'redis' && deps.redis
      ? new RedisWorkerLeaseStore(deps.redis, `${config.REDIS_KEY_PREFIX ?? 'id-generator:'}${config.ID_LAYOUT}:`)
      : new PostgresWorkerLeaseStore(deps.sql);
  const lease = await WorkerLease.acquire({
    store,
    datacenterId,
    candidates: config.WORKER_ID === 'auto' ? autoCandidates(sonyflake ? 65_535 : 31) : [config.WORKER_ID],
    ttlMs: config.WORKER_LEASE_TTL_MS,
    ...(deps.clock ? { clock: deps.clock } : {}),
    onRenewal: (result, error) => {
      deps.metrics.leaseRenewals.inc({ result });
      if (result === 'error') deps.logger.warn({ err: error }, 'worker lease renewal failed; will retry');
    },
  });
  const workerId = lease.slot.workerId;
  const generator = new SnowflakeGenerator({
    layout,
    node: sonyflake ? { machineId: workerId } : { datacenterId, workerId },
    epochMs: config.ID_EPOCH_MS,
    maxRollbackMs: config.MAX_CLOCK_ROLLBACK_MS,
    ...(deps.clock ? { clock: deps.clock } : {}),
    observer: {
      onClockRollback: (rollbackMs, refused) => {
        if (refused) deps.metrics.clockRollbackRefusals.inc();
        else deps.metrics.clockRollbackWaits.inc();
        deps.logger.warn({ rollbackMs, refused }, 'clock moved backwards');
      },
    },
  });
  generator.raiseFloor(lease.floorMs);
  lease.start({
    reachExtended: (reachMs) => generator.setCeiling(reachMs),
    lost: (reason) => {
      generator.suspend(reason);
      deps.metrics.generatorAvailable.set(0);
      deps.logger.error({ workerId, reason }, 'worker lease lost: no snowflake ids until it is held again');
    },
    regained: (floorMs) => {
      generator.raiseFloor(floorMs);
      generator.resume();
      deps.metrics.generatorAvailable.set(1);
      deps.logger.info({ workerId }, 'worker lease held again');
    },
  });
  deps.metrics.workerId.set({ datacenter: String(datacenterId) }, workerId);
  deps.metrics.generatorAvailable.set(1);
  deps.logger.info({ datacenterId, workerId, layout: layout.name, floorMs: lease.floorMs, owner: lease.owner }, 'worker id leased');
  return {
    generator,
    lease,
    async stop() {
      generator.suspend('shutting down');
      deps.metrics.generatorAvailable.set(0);
      await lease.stop(generator.lastIssuedMs);
    },
  };
}
