import { parseArgs } from 'node:util';
import { loadConfig, migrate, openSql, WORKER_LEASE_MIGRATIONS } from '@sysdesign/platform';
import { configSchema } from './config.js';
import { seedGraph } from './seed.js';
import { MIGRATIONS_DIR } from './service.js';

/**
 * `pnpm --filter @sysdesign/news-feed seed [--users 10000] [--following 50] [--celebrities 5]`:
 * writes a power-law follow graph into the service's database (DATABASE_URL, else the PGlite at
 * PGLITE_DIR). Celebrity flags follow CELEBRITY_THRESHOLD. Feeds are built on each user's first read.
 */

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    following: { type: 'string', default: '50' },
    celebrities: { type: 'string', default: '5' },
    reach: { type: 'string', default: '0.5' },
    alpha: { type: 'string', default: '1' },
    seed: { type: 'string', default: '42' },
  },
});
const config = loadConfig(configSchema, process.env);
const sql = await openSql({
  schema: 'news_feed',
  databaseUrl: config.DATABASE_URL,
  pgliteDir: config.PGLITE_DIR,
});
try {
  await migrate(sql, WORKER_LEASE_MIGRATIONS, MIGRATIONS_DIR);
  const result = await seedGraph(sql, {
    users: Number(values.users),
    meanFollowing: Number(values.following),
    celebrities: Number(values.celebrities),
    celebrityReach: Number(values.reach),
    alpha: Number(values.alpha),
    celebrityThreshold: config.CELEBRITY_THRESHOLD,
    seed: Number(values.seed),
    nowMs: Date.now(),
  });
  console.log(JSON.stringify(result));
} finally {
  await sql.close();
}
