import { createLogger, loadConfig } from '@sysdesign/platform';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/**
 * The service as the load harness runs it, in a child process: embedded PGlite in memory, and
 * request logs off (LOG_LEVEL=warn) as a deployment serving thousands of requests a second would
 * run; every other part (validation, metrics, the leased worker) is as in production.
 */
export async function createBenchTarget() {
  const config = loadConfig(configSchema, { PGLITE_DIR: 'memory', LOG_LEVEL: 'warn' });
  const app = await buildService(config, { logger: createLogger('warn') });
  return { app };
}
