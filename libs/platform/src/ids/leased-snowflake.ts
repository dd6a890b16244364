import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { ConfigError, intVar } from '../config.js';
import type { Sql } from '../sql/port.js';
import { LAYOUTS } from './layout.js';
import { PostgresWorkerLeaseStore, RedisWorkerLeaseStore } from './lease-stores.js';
import { SnowflakeGenerator } from './snowflake.js';
import { autoCandidates, type RenewalResult, WorkerLease, type WorkerLeaseStore } from './worker-lease.js';

/**
 * A Snowflake generator on a leased worker id, as every service that mints time-sortable ids
 * runs it (the id-generator, the URL shortener, chat, jobs, wallet): lease a worker id (or claim
 * the fixed one), build the generator on it, and keep the lease renewed in the background. The
 * generator refuses ids when the lease is lost or not renewed in time, and starts above every
 * time a previous holder of the same id may have used (see worker-lease.ts).
 *
 * Services spread `snowflakeVars` into their config schema, apply `WORKER_LEASE_MIGRATIONS`, and
 * call `startLeasedSnowflake(config, deps)`; the observer turns events into the service's metrics.
 */

/** 2024-01-01T00:00:00Z: ids stay small for decades (41 bits of milliseconds last 69 years). */
export const DEFAULT_ID_EPOCH_MS = 1_704_067_200_000;

/** The configuration variables of a leased snowflake generator. */
export const snowflakeVars = {
  /** Bit layout: Twitter's 41/5/5/12 or Sonyflake's 39/8/16. */
  ID_LAYOUT: z.enum(['snowflake', 'sonyflake']).default('snowflake'),
  /** Milliseconds since the Unix epoch where id time starts. */
  ID_EPOCH_MS: z.coerce.number().int().min(0).max(4_102_444_800_000).default(DEFAULT_ID_EPOCH_MS),
  /** 0..31; the snowflake layout only. */
  DATACENTER_ID: intVar(0, 0, 31),
  /** A fixed worker (machine) id, or `auto` to lease a free one. */
  WORKER_ID: z.union([z.literal('auto'), z.coerce.number().int().min(0).max(65_535)]).default('auto'),
  /** Where worker leases live: Postgres (or PGlite), or Redis (needs REDIS_URL). */
  WORKER_LEASE_STORE: z.enum(['postgres', 'redis']).default('postgres'),
  WORKER_LEASE_TTL_MS: intVar(10_000, 1_000, 600_000),
  /** Clock moved back by at most this: wait it out. Further: refuse. */
  MAX_CLOCK_ROLLBACK_MS: intVar(5, 0, 10_000),
};

export type SnowflakeConfig = z.infer<z.ZodObject<typeof snowflakeVars>> & {
  REDIS_URL?: string | undefined;
};

export interface LeasedSnowflakeObserver {
  onRenewal?(result: RenewalResult): void;
  onClockRollback?(rollbackMs: number, refused: boolean): void;
  /** The generator may (true) or may not (false) issue ids: lease held, lost, regained, stopped. */
  onAvailability?(available: boolean): void;
  onLeased?(slot: { datacenterId: number; workerId: number }): void;
}

export interface LeasedSnowflakeDeps {
  sql: Sql;
  redis?: Redis;
  /** Names this service's slots in Redis, e.g. `url-shortener:` (the layout is appended). */
  redisKeyPrefix: string;
  logger: FastifyBaseLogger;
  clock?: Clock;
  observer?: LeasedSnowflakeObserver;
}

export interface LeasedSnowflake {
  generator: SnowflakeGenerator;
  lease: WorkerLease;
  /** True while the lease is held and the generator may issue ids. */
  readonly ready: boolean;
  /** Stops issuing ids and releases the lease, recording the last id's time. */
  stop(): Promise<void>;
}

/** Cross-variable checks a zod object schema cannot express on its own. */
export function checkSnowflakeConfig(config: SnowflakeConfig, now = Date.now()): void {
  const problems: string[] = [];
  const maxWorkerId = config.ID_LAYOUT === 'sonyflake' ? 65_535 : 31;
  if (config.WORKER_ID !== 'auto' && config.WORKER_ID > maxWorkerId) {
    problems.push(
      `WORKER_ID: must be at most ${maxWorkerId} with ID_LAYOUT=${config.ID_LAYOUT} (got ${config.WORKER_ID})`,
    );
  }
  if (config.WORKER_LEASE_STORE === 'redis' && !config.REDIS_URL)
    problems.push('WORKER_LEASE_STORE: redis needs REDIS_URL');
  if (config.ID_EPOCH_MS > now) problems.push(`ID_EPOCH_MS: ${config.ID_EPOCH_MS} is in the future`);
  if (problems.length > 0) throw new ConfigError(problems);
}

export async function startLeasedSnowflake(
  config: SnowflakeConfig,
  deps: LeasedSnowflakeDeps,
): Promise<LeasedSnowflake> {
  const layout = LAYOUTS[config.ID_LAYOUT];
  const sonyflake = config.ID_LAYOUT === 'sonyflake';
  // Sonyflake has no datacenter field: its 16-bit machine id is the whole node identity.
  const datacenterId = sonyflake ? 0 : config.DATACENTER_ID;
  const observer = deps.observer ?? {};
  const store: WorkerLeaseStore =
    config.WORKER_LEASE_STORE === 'redis' && deps.redis
      ? new RedisWorkerLeaseStore(deps.redis, `${deps.redisKeyPrefix}${config.ID_LAYOUT}:`)
      : new PostgresWorkerLeaseStore(deps.sql);
  const lease = await WorkerLease.acquire({
    store,
    datacenterId,
    candidates: config.WORKER_ID === 'auto' ? autoCandidates(sonyflake ? 65_535 : 31) : [config.WORKER_ID],
    ttlMs: config.WORKER_LEASE_TTL_MS,
    ...(deps.clock ? { clock: deps.clock } : {}),
    onRenewal: (result, error) => {
      observer.onRenewal?.(result);
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
        observer.onClockRollback?.(rollbackMs, refused);
        deps.logger.warn({ rollbackMs, refused }, 'clock moved backwards');
      },
    },
  });
  generator.raiseFloor(lease.floorMs);
  lease.start({
    reachExtended: (reachMs) => generator.setCeiling(reachMs),
    lost: (reason) => {
      generator.suspend(reason);
      observer.onAvailability?.(false);
      deps.logger.error({ workerId, reason }, 'worker lease lost: no snowflake ids until it is held again');
    },
    regained: (floorMs) => {
      generator.raiseFloor(floorMs);
      generator.resume();
      observer.onAvailability?.(true);
      deps.logger.info({ workerId }, 'worker lease held again');
    },
  });
  observer.onLeased?.(lease.slot);
  observer.onAvailability?.(true);
  deps.logger.info(
    { datacenterId, workerId, layout: layout.name, floorMs: lease.floorMs, owner: lease.owner },
    'worker id leased',
  );
  return {
    generator,
    lease,
    get ready() {
      return lease.isHeld && generator.available;
    },
    async stop() {
      generator.suspend('shutting down');
      observer.onAvailability?.(false);
      await lease.stop(generator.lastIssuedMs);
    },
  };
}
