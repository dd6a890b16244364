import { createLogger, loadConfig } from '@sysdesign/platform';
import { tempDirSync } from '@sysdesign/testkit';
import { configSchema, type FanoutMode } from '../src/config.js';
import { buildService, type NewsFeedParts } from '../src/service.js';
import { CELEBRITY_THRESHOLD, prepare } from './prepare.js';

/** The secret the HTTP bench signs its reader's token with. */
export const BENCH_AUTH_SECRET = 'bench-secret-of-at-least-thirty-two-bytes';

/**
 * The service as the load harness runs it, in a child process, in one fanout mode: request logs
 * off (LOG_LEVEL=warn), PGlite in memory, the skip-list twin and bounded-memory cache tiers, the
 * in-process bus, everything else as in production; the bench graph and posts prepared before
 * it listens.
 */
async function targetOf(mode: FanoutMode) {
  const config = loadConfig(configSchema, {
    PGLITE_DIR: 'memory',
    LOG_LEVEL: 'warn',
    DATA_DIR: tempDirSync('news-feed-bench-'),
    AUTH_SECRET: BENCH_AUTH_SECRET,
    FANOUT: mode,
    CELEBRITY_THRESHOLD: String(CELEBRITY_THRESHOLD),
    POST_RATE_LIMIT: '1000000',
    // The preparation's posts and fanout share PGlite's one thread with the lease renewal; on a
    // loaded machine a renewal can come late, and the generator (rightly) refuses ids then.
    WORKER_LEASE_TTL_MS: '600000',
  });
  let parts: NewsFeedParts | undefined;
  const app = await buildService(
    config,
    { logger: createLogger('warn') },
    {
      onReady: (ready) => {
        parts = ready;
      },
    },
  );
  await prepare(parts!);
  return { app, close: async () => undefined };
}

export const createWriteTarget = () => targetOf('write');
export const createReadTarget = () => targetOf('read');
export const createHybridTarget = () => targetOf('hybrid');
