import { fileURLToPath } from 'node:url';
import {
  checkSnowflakeConfig,
  createRedis,
  migrate,
  openSql,
  pingRedis,
  type Redis,
  type ServiceApp,
  type ServiceContext,
  type ServiceDefinition,
  schemaForService,
  startLeasedSnowflake,
  WORKER_LEASE_MIGRATIONS,
} from '@sysdesign/platform';
import { createApp, registerApp } from './app.js';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { createIdMetrics, snowflakeObserver } from './metrics.js';
import { PostgresTicketStore } from './store/ticket-store.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * Builds the id-generator from its configuration: Sql (Postgres or PGlite) with migrations,
 * Redis when configured, the leased snowflake worker, and the routes. Closing the app stops the
 * worker (releasing its lease) before the backends close.
 */
export async function buildService(config: Config, context: ServiceContext): Promise<ServiceApp> {
  checkSnowflakeConfig(config);
  const app = await createApp({
    logger: context.logger,
    logLevel: config.LOG_LEVEL,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  const metrics = createIdMetrics(app.metrics);
  const sql = await openSql({
    schema: context.sqlSchema ?? schemaForService(SERVICE_NAME),
    databaseUrl: config.DATABASE_URL,
    ...(context.embedded ? { embedded: context.embedded } : {}),
    pgliteDir: config.PGLITE_DIR,
    applicationName: SERVICE_NAME,
    onIdleError: (error) => app.log.warn({ err: error }, 'idle postgres connection failed'),
  });
  let redis: Redis | undefined;
  try {
    await migrate(sql, WORKER_LEASE_MIGRATIONS, MIGRATIONS_DIR);
    if (config.REDIS_URL) redis = await createRedis({ url: config.REDIS_URL, connectionName: SERVICE_NAME });
    const tickets = await PostgresTicketStore.open(sql, config.MULTI_MASTER_SERVERS);
    const worker = await startLeasedSnowflake(config, {
      sql,
      ...(redis ? { redis } : {}),
      redisKeyPrefix: config.REDIS_KEY_PREFIX,
      logger: app.log,
      observer: snowflakeObserver(metrics),
    });

    app.readiness.add('postgres', () => sql.ping());
    if (redis) app.readiness.add('redis', () => pingRedis(redis!));
    app.readiness.add('worker-lease', () => {
      if (!worker.ready) throw new Error('worker id lease not held');
    });
    // Fastify runs onClose hooks in reverse order of registration: the worker stops first.
    app.addHook('onClose', async () => {
      redis?.disconnect();
      await sql.close();
    });
    app.addHook('onClose', () => worker.stop());
    return registerApp(app, { snowflake: worker.generator, tickets, metrics });
  } catch (error) {
    redis?.disconnect();
    await sql.close();
    await app.close();
    throw error;
  }
}

export const idGenerator: ServiceDefinition<typeof configSchema> = {
  name: SERVICE_NAME,
  defaultPort: DEFAULT_PORT,
  configSchema,
  build: buildService,
};
