import { createLogger, loadConfig } from '@sysdesign/platform';
import { tempDirSync } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/** The secret the HTTP bench signs its setup token with. */
export const BENCH_AUTH_SECRET = 'bench-secret-of-at-least-thirty-two-bytes';

/**
 * The service as the load harness runs it, in a child process: request logs off (LOG_LEVEL=warn),
 * PGlite in memory and the skip-list twin, everything else as in production.
 */
export async function createBenchTarget() {
  const config = loadConfig(configSchema, {
    PGLITE_DIR: 'memory',
    LOG_LEVEL: 'warn',
    DATA_DIR: tempDirSync('leaderboard-bench-'),
    AUTH_SECRET: BENCH_AUTH_SECRET,
    PLAYER_RATE_LIMIT: '1000000',
  });
  const app = await buildService(config, { logger: createLogger('warn') });
  return { app, close: async () => undefined };
}
