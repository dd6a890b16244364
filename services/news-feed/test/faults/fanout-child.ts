import { createLogger, createRedisStreamsEventBus, loadConfig } from '@sysdesign/platform';
import { configSchema } from '../../src/config.js';
import { buildService } from '../../src/service.js';

/**
 * A fanout worker in its own process, for the kill -9 test: the service with ROLE=worker on a
 * real Postgres schema, Redis feeds and the Redis Streams bus, all named by the parent. Prints
 * `ready` once its consumers joined, and runs until it is killed.
 */

const env = process.env;
const bus = await createRedisStreamsEventBus({
  url: env.REDIS_URL!,
  clientId: `fanout-child-${process.pid}`,
  keyPrefix: env.FEED_TEST_BUS_PREFIX!,
  // A killed member's partitions move to the next worker after this long.
  sessionTimeoutMs: 2_000,
});
const config = loadConfig(configSchema, {
  LOG_LEVEL: 'silent',
  AUTH_SECRET: 'test-secret-of-at-least-thirty-two-bytes!',
  DATABASE_URL: env.DATABASE_URL,
  REDIS_URL: env.REDIS_URL,
  REDIS_KEY_PREFIX: env.FEED_TEST_REDIS_PREFIX,
  TOPIC_PREFIX: env.FEED_TEST_TOPIC_PREFIX,
  ROLE: 'worker',
  FANOUT: 'write',
  FANOUT_BATCH: env.FANOUT_BATCH,
  FANOUT_WRITE_CHUNK: env.FANOUT_WRITE_CHUNK,
});
await buildService(config, { logger: createLogger('silent'), sqlSchema: env.FEED_TEST_SCHEMA!, bus });
process.stdout.write('ready\n');
