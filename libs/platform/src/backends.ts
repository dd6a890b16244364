import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { createEventBus, type EventBusSelection } from './bus/index.js';
import type { EventBus } from './bus/port.js';
import { clockFromEnv } from './clock.js';
import type { BusKind } from './config.js';
import {
  checkSnowflakeConfig,
  type LeasedSnowflake,
  type LeasedSnowflakeDeps,
  type SnowflakeConfig,
  startLeasedSnowflake,
} from './ids/leased-snowflake.js';
import { createRedis, pingRedis } from './redis.js';
import type { ServiceContext } from './run.js';
import type { ServiceApp } from './service.js';
import { type MigrationSource, migrate, openSql } from './sql/index.js';
import { type Sql, schemaForService } from './sql/port.js';

/**
 * Openers of the backends a service uses. Each one opens its backend, registers how to close it
 * on `app.lifecycle` and how to check it on `app.readiness`, and answers with the client. Call
 * them in the order the parts depend on each other (Sql before the leased worker that uses it):
 * the lifecycle closes them in reverse, on shutdown and on a failed start.
 */

export interface ServiceSqlConfig {
  /** Set: Postgres. Absent: PGlite, the process's shared one (`context.embedded`) or one at PGLITE_DIR. */
  DATABASE_URL?: string | undefined;
  PGLITE_DIR: string;
}

export interface ServiceSqlOptions {
  /** Applied in order once the database is open: the platform's sources first (`WORKER_LEASE_MIGRATIONS`), then the service's folder. */
  migrations?: readonly (MigrationSource | string)[];
}

/** Sql in the schema `context.sqlSchema` names (tests), else the service's own; readiness `postgres`. */
export async function openServiceSql(
  app: ServiceApp,
  config: ServiceSqlConfig,
  context: Pick<ServiceContext, 'embedded' | 'sqlSchema'>,
  options: ServiceSqlOptions = {},
): Promise<Sql> {
  const sql = await openSql({
    schema: context.sqlSchema ?? schemaForService(app.serviceName),
    databaseUrl: config.DATABASE_URL,
    ...(context.embedded ? { embedded: context.embedded } : {}),
    pgliteDir: config.PGLITE_DIR,
    applicationName: app.serviceName,
    onIdleError: (error) => app.log.warn({ err: error }, 'idle postgres connection failed'),
  });
  app.lifecycle.defer('postgres', () => sql.close());
  app.readiness.add('postgres', () => sql.ping());
  const migrations = options.migrations ?? [];
  if (migrations.length > 0) await migrate(sql, ...migrations);
  return sql;
}

export interface ServiceRedisOptions {
  /** Prepended to every key, including the KEYS of Lua scripts. */
  keyPrefix?: string;
}

/** Redis at REDIS_URL, or undefined without one (the embedded mode); readiness `redis`. */
export async function openServiceRedis(
  app: ServiceApp,
  config: { REDIS_URL?: string | undefined },
  options: ServiceRedisOptions = {},
): Promise<Redis | undefined> {
  if (!config.REDIS_URL) return undefined;
  const redis = await createRedis({
    url: config.REDIS_URL,
    connectionName: app.serviceName,
    onStalledConnection: (timeoutsInARow) =>
      app.log.warn({ timeoutsInARow }, 'Redis stopped answering on an open connection: replacing it'),
    ...options,
  });
  app.lifecycle.defer('redis', () => redis.disconnect());
  app.readiness.add('redis', () => pingRedis(redis));
  return redis;
}

export interface ServiceBusConfig {
  KAFKA_BROKERS?: string | readonly string[] | undefined;
  /** `redis`: the Redis Streams bus at REDIS_URL (a ConfigError without it); absent: in-process. */
  BUS?: BusKind | undefined;
  REDIS_URL?: string | undefined;
  /** The service's own in-process bus keeps its logs under `DATA_DIR/bus`. */
  DATA_DIR: string;
}

export type ServiceBusOptions = Pick<
  EventBusSelection,
  'partitions' | 'retry' | 'drainTimeoutMs' | 'observer'
>;

/**
 * The process's bus when it shares one (start-all), which its owner closes; else the service's
 * own (Kafka at KAFKA_BROKERS, Redis Streams at REDIS_URL with BUS=redis, or in-process under
 * DATA_DIR), which the lifecycle closes.
 * Readiness `event-bus` either way.
 */
export async function openServiceBus(
  app: ServiceApp,
  config: ServiceBusConfig,
  context: Pick<ServiceContext, 'bus'>,
  options: ServiceBusOptions = {},
): Promise<EventBus> {
  let bus = context.bus;
  if (bus === undefined) {
    const own = await createEventBus({
      ...options,
      clientId: app.serviceName,
      kafkaBrokers: config.KAFKA_BROKERS,
      bus: config.BUS,
      redisUrl: config.REDIS_URL,
      dir: join(config.DATA_DIR, 'bus'),
      logger: app.log,
    });
    app.lifecycle.defer('event bus', () => own.close());
    bus = own;
  }
  const ready = bus;
  app.readiness.add('event-bus', () => ready.ping());
  return ready;
}

export type ServiceSnowflakeDeps = Omit<LeasedSnowflakeDeps, 'logger' | 'redisKeyPrefix' | 'redis'> & {
  redis?: Redis | undefined;
};

/**
 * The leased snowflake worker (see `leased-snowflake.ts`) after checking its configuration;
 * readiness `worker-lease`. It stops (releasing its lease) before the Sql or Redis it leases
 * from closes, since it was opened after them. Redis slots are named by REDIS_KEY_PREFIX, else
 * by the service's name. The clock is `deps.clock`, else the process's (`clockFromEnv`): a node
 * started with SYSDESIGN_CLOCK_OFFSET_MS mints, leases and checks its epoch on that skewed time.
 */
export async function startServiceSnowflake(
  app: ServiceApp,
  config: SnowflakeConfig & { REDIS_KEY_PREFIX?: string },
  deps: ServiceSnowflakeDeps,
): Promise<LeasedSnowflake> {
  const { redis, clock = clockFromEnv(process.env), ...rest } = deps;
  checkSnowflakeConfig(config, clock.nowMs());
  const worker = await startLeasedSnowflake(config, {
    ...rest,
    clock,
    ...(redis === undefined ? {} : { redis }),
    redisKeyPrefix: config.REDIS_KEY_PREFIX ?? `${app.serviceName}:`,
    logger: app.log,
  });
  app.lifecycle.defer('snowflake worker', () => worker.stop());
  app.readiness.add('worker-lease', () => {
    if (!worker.ready) throw new Error('worker id lease not held');
  });
  return worker;
}
