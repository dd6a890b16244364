import { createLogger, createPostgresSql, createRedis, loadConfig } from '@sysdesign/platform';
import { tempDirSync } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/** The secret the HTTP bench signs its setup token with. */
export const BENCH_AUTH_SECRET = 'bench-secret-of-at-least-thirty-two-bytes';

/**
 * The service as the load harness runs it, in a child process: request logs off (LOG_LEVEL=warn),
 * everything else as in production. Embedded (PGlite in memory and the skip-list twin) unless
 * LEADERBOARD_BENCH_SERVERS=1: then Postgres (DATABASE_URL, a schema of its own, dropped at the
 * end) and Redis (REDIS_URL, a key prefix of its own, deleted at the end).
 */
export async function createBenchTarget() {
  const servers = process.env.LEADERBOARD_BENCH_SERVERS === '1';
  const databaseUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  if (servers && (!databaseUrl || !redisUrl))
    throw new Error('LEADERBOARD_BENCH_SERVERS=1 needs DATABASE_URL and REDIS_URL');
  const schema = `lb_http_bench_${process.pid}`;
  const prefix = `${schema}:`;
  const config = loadConfig(configSchema, {
    PGLITE_DIR: 'memory',
    LOG_LEVEL: 'warn',
    DATA_DIR: tempDirSync('leaderboard-bench-'),
    AUTH_SECRET: BENCH_AUTH_SECRET,
    PLAYER_RATE_LIMIT: '1000000',
    ...(servers ? { DATABASE_URL: databaseUrl!, REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix } : {}),
  });
  const app = await buildService(config, {
    logger: createLogger('warn'),
    ...(servers ? { sqlSchema: schema } : {}),
  });
  return {
    app,
    close: async () => {
      if (!servers) return;
      const sql = await createPostgresSql({ url: databaseUrl!, schema: 'public' });
      await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.close();
      const redis = await createRedis({ url: redisUrl!, connectionName: 'leaderboard-bench-cleanup' });
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}
