import { createLogger, loadConfig } from '@sysdesign/platform';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/**
 * The service as the load harness runs it, in a child process: request logs off (LOG_LEVEL=warn)
 * as a deployment serving thousands of requests a second would run; every other part
 * (validation, metrics, the leased worker) is as in production.
 */

/** Embedded PGlite in memory. */
export async function createBenchTarget() {
  const config = loadConfig(configSchema, { PGLITE_DIR: 'memory', LOG_LEVEL: 'warn' });
  const app = await buildService(config, { logger: createLogger('warn') });
  return { app };
}

/** A real Postgres from BENCH_DATABASE_URL, in its own schema. */
export async function createPostgresBenchTarget() {
  const config = loadConfig(configSchema, {
    DATABASE_URL: process.env.BENCH_DATABASE_URL,
    LOG_LEVEL: 'warn',
  });
  const app = await buildService(config, { logger: createLogger('warn'), sqlSchema: 'bench_id_generator' });
  return { app };
}
