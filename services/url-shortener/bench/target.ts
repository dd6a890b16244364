import { createLogger, loadConfig, openSql, type ServiceApp } from '@sysdesign/platform';
import { tempDirSync } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/**
 * The service as the load harness runs it, in a child process: request logs off (LOG_LEVEL=warn),
 * everything else as in production: validation, metrics, the leased snowflake worker, the cache,
 * and the click pipeline (the durable in-process bus on disk and the aggregator flushing to PGlite
 * in the same process, so the redirect numbers include what counting clicks costs).
 *
 * One bench-only adjustment, outside the code under test: autocannon repeats one body, which
 * would measure dedupe hits, so a request carrying `x-bench-unique-url` gets a counter appended to
 * its URL before validation and every creation is a real insert (a preValidation hook; only the
 * creation scenarios send the header).
 */

function benchHooks(app: ServiceApp): void {
  let counter = 0;
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.headers['x-bench-unique-url'] !== undefined) {
      const body = request.body as { url?: string };
      body.url = `${body.url}?n=${counter++}`;
    }
    done();
  });
}

async function build(env: Record<string, string | undefined>, sqlSchema?: string) {
  // Removed when the bench's process exits.
  const dataDir = tempDirSync('url-shortener-bench-');
  const config = loadConfig(configSchema, {
    PGLITE_DIR: 'memory',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    AUTH_SECRET: 'bench-secret-of-at-least-thirty-two-bytes',
    ...env,
  });
  const app = await buildService(config, {
    logger: createLogger('warn'),
    ...(sqlSchema ? { sqlSchema } : {}),
  });
  benchHooks(app);
  const close = async () => {
    if (sqlSchema && config.DATABASE_URL) {
      const sql = await openSql({ schema: 'public', databaseUrl: config.DATABASE_URL });
      await sql.query(`DROP SCHEMA IF EXISTS ${sqlSchema} CASCADE`);
      await sql.close();
    }
  };
  return { app, close };
}

/** Embedded: PGlite in memory, the in-process LRU cache, creation rate limit off. */
export function createBenchTarget() {
  return build({ RATE_LIMIT_ENABLED: 'false' });
}

/**
 * A redirect instance as docker-compose runs it: it serves redirects and publishes clicks, and a
 * separate aggregator instance counts them (AGGREGATOR_ENABLED=false here).
 */
export function createRedirectOnlyBenchTarget() {
  return build({ RATE_LIMIT_ENABLED: 'false', AGGREGATOR_ENABLED: 'false' });
}

/** As above, with the creation rate limiter on (a limit high enough never to refuse). */
export function createRateLimitedBenchTarget() {
  return build({ RATE_LIMIT_ENABLED: 'true', CREATE_RATE_LIMIT: '1000000' });
}

/** The hash code strategy (bloom filter in front of the inserts). */
export function createHashBenchTarget() {
  return build({ RATE_LIMIT_ENABLED: 'false', CODE_STRATEGY: 'hash' });
}

/** The cache in Redis (BENCH_REDIS_URL): every redirect is one Redis round trip. */
export function createRedisBenchTarget() {
  return build({
    RATE_LIMIT_ENABLED: 'false',
    REDIS_URL: process.env.BENCH_REDIS_URL,
    REDIS_KEY_PREFIX: `bench:${Date.now()}:`,
  });
}

/** A real Postgres (BENCH_DATABASE_URL), in its own schema: creation as it runs in production. */
export function createPostgresBenchTarget() {
  return build(
    { RATE_LIMIT_ENABLED: 'false', DATABASE_URL: process.env.BENCH_DATABASE_URL },
    `bench_url_shortener_${Date.now()}`,
  );
}
