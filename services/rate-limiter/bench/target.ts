import { fileURLToPath } from 'node:url';
import { createLogger, loadConfig } from '@sysdesign/platform';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/**
 * The service as the load harness runs it, in a child process: request logs off (LOG_LEVEL=warn),
 * every other part (validation, metrics, headers, the rules watcher) as in production.
 */

const RULES_FILE = fileURLToPath(new URL('./rules.yaml', import.meta.url));

/**
 * In-memory counters (the embedded mode). What the platform alone costs a request is the harness's
 * platform floor, measured beside every service's bench.
 */
export async function createBenchTarget() {
  const config = loadConfig(configSchema, { RULES_FILE, LOG_LEVEL: 'warn' });
  return { app: await buildService(config, { logger: createLogger('warn') }) };
}

/**
 * Counters in the Redis at BENCH_REDIS_URL, under a prefix of its own. FAIL_MODE=closed: a check
 * Redis did not decide would answer 429 and fail the run, so every number measures a real decision.
 * REDIS_TIMEOUT_MS=2000: on this shared 2-core machine Redis is sometimes descheduled for over
 * 100 ms (its slow log shows it); that must show as latency here, not as a fallback.
 */
export async function createRedisBenchTarget() {
  const config = loadConfig(configSchema, {
    RULES_FILE,
    LOG_LEVEL: 'warn',
    REDIS_URL: process.env.BENCH_REDIS_URL,
    FAIL_MODE: 'closed',
    REDIS_TIMEOUT_MS: '2000',
    REDIS_KEY_PREFIX: `bench:rate-limiter:${Date.now().toString(36)}:`,
  });
  return { app: await buildService(config, { logger: createLogger('warn') }) };
}
