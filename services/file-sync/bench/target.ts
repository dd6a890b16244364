import { createLogger, loadConfig } from '@sysdesign/platform';
import { tempDirSync } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

export const BENCH_AUTH_SECRET = 'bench-secret-of-at-least-thirty-two-bytes';

/**
 * The service as the load harness runs it, in a child process: PGlite in memory, blocks in a temp
 * dir, request logs off (LOG_LEVEL=warn), validation, auth and metrics on.
 */
export async function createBenchTarget() {
  const dir = tempDirSync('file-sync-bench-');
  const config = loadConfig(configSchema, {
    PGLITE_DIR: 'memory',
    LOG_LEVEL: 'warn',
    DATA_DIR: dir,
    BLOB_DIR: dir,
    AUTH_SECRET: BENCH_AUTH_SECRET,
    GC_INTERVAL_SECONDS: '0',
  });
  const app = await buildService(config, { logger: createLogger('warn') });
  return { app, close: async () => undefined };
}
