import { fileURLToPath } from 'node:url';
import {
  defineService,
  openServiceRedis,
  openServiceSql,
  startServiceSnowflake,
  WORKER_LEASE_MIGRATIONS,
} from '@sysdesign/platform';
import { registerApp } from './app.js';
import { configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { mapIdGeneratorError } from './errors.js';
import { createIdMetrics, snowflakeObserver } from './metrics.js';
import { PostgresTicketStore } from './store/ticket-store.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * The id-generator: Sql (Postgres or PGlite) with its migrations, Redis when configured, the
 * leased snowflake worker, and the routes. The lifecycle stops the worker (releasing its lease)
 * before the backends it leases from close.
 */
export const idGenerator = defineService({
  name: SERVICE_NAME,
  description:
    'Unique, numeric, time-sortable 64-bit ids: Snowflake, Sonyflake, UUIDv4/v7, ULID, ticket server, multi-master.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  mapError: mapIdGeneratorError,
  async setup(app, config, context) {
    const metrics = createIdMetrics(app.metrics);
    const sql = await openServiceSql(app, config, context, {
      migrations: [WORKER_LEASE_MIGRATIONS, MIGRATIONS_DIR],
    });
    const redis = await openServiceRedis(app, config);
    const tickets = await PostgresTicketStore.open(sql, config.MULTI_MASTER_SERVERS);
    const worker = await startServiceSnowflake(app, config, {
      sql,
      redis,
      observer: snowflakeObserver(metrics),
    });
    registerApp(app, {
      snowflake: worker.generator,
      tickets,
      metrics,
      budget: { maxIdsInFlight: config.MAX_IDS_IN_FLIGHT, maxIdsQueued: config.MAX_IDS_QUEUED },
    });
  },
});

/** Builds the service from its configuration (tests, the bench). */
export const buildService = idGenerator.build;
