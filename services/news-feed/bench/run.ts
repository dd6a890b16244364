/**
 * The fanout beside itself in each mode, in process (PGlite, the skip-list twin, the in-process
 * bus): write amplification (feed writes per post) by the author's follower count, fanout lag
 * (post -> in every follower's feed) for an author with 10k followers and a celebrity with 100k,
 * and memory per full feed (FEED_MAX = 800 ids) on the twin and, with REDIS_URL, on Redis.
 *
 *   pnpm --filter @sysdesign/news-feed bench      (REDIS_URL set for the Redis row)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { resultsPath } from '@sysdesign/load-tests';
import {
  createLogger,
  createRedis,
  loadConfig,
  MemorySortedSetStore,
  RedisSortedSetStore,
} from '@sysdesign/platform';
import { tempDirSync } from '@sysdesign/testkit';
import { configSchema, type FanoutMode } from '../src/config.js';
import { recount } from '../src/seed.js';
import { buildService, type NewsFeedParts } from '../src/service.js';
import { Timelines } from '../src/store/timelines.js';

const FOLLOWER_COUNTS = [10, 100, 1_000, 10_000, 100_000];
const LAG_POSTS = Number(process.env.FEED_BENCH_LAG_POSTS ?? 10);
const CELEBRITY_THRESHOLD = 50_000;
const FEED_MAX = 800;
const CHUNK = 10_000;

const followerId = (index: number) => `f${String(index).padStart(6, '0')}`;

async function appFor(mode: FanoutMode) {
  const config = loadConfig(configSchema, {
    PGLITE_DIR: 'memory',
    LOG_LEVEL: 'warn',
    DATA_DIR: tempDirSync('news-feed-fanout-bench-'),
    AUTH_SECRET: 'bench-secret-of-at-least-thirty-two-bytes',
    FANOUT: mode,
    CELEBRITY_THRESHOLD: String(CELEBRITY_THRESHOLD),
    POST_RATE_LIMIT: '1000000',
    FEED_MAX: String(FEED_MAX),
    // PGlite is one thread shared with the fanout: a 100k fanout delays lease renewals past the
    // default 10 s TTL, and the generator (rightly) refuses ids then. The bench measures the fanout.
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
  return { app, parts: parts! };
}

/** Authors `a<count>`, each followed by the first `count` of the followers, whose feeds are built. */
async function graph(parts: NewsFeedParts, mode: FanoutMode): Promise<void> {
  const total = Math.max(...FOLLOWER_COUNTS);
  const now = Date.now();
  for (let start = 0; start < total; start += CHUNK) {
    const ids = Array.from({ length: Math.min(CHUNK, total - start) }, (_, offset) =>
      followerId(start + offset),
    );
    await parts.sql.query(
      `INSERT INTO users (id, display_name, created_ms, last_seen_ms) SELECT id, id, $2, $2 FROM unnest($1::text[]) AS id`,
      [ids, now],
    );
    await parts.sets.zadd(
      `built:feed:${mode}`,
      ids.map((member) => ({ member, score: -1 })),
    );
  }
  for (const count of FOLLOWER_COUNTS) {
    await parts.feed.register(`a${count}`, `author with ${count} followers`);
    await parts.sql.query(
      `INSERT INTO follows (follower, followee, created_ms)
       SELECT 'f' || lpad(n::text, 6, '0'), $1, $3 FROM generate_series(0, $2 - 1) n`,
      [`a${count}`, count, now],
    );
  }
  await recount(parts.sql, CELEBRITY_THRESHOLD);
  const { rows } = await parts.sql.query<{ id: string }>('SELECT id FROM users WHERE celebrity');
  for (const { id } of rows) await parts.timelines.markCelebrity(id);
}

async function waitForBatches(parts: NewsFeedParts, posts: number): Promise<void> {
  const worker = parts.worker!;
  while (worker.stats.posts < posts || worker.stats.batches < worker.stats.batchesPublished)
    await new Promise((resolve) => setImmediate(resolve));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)]!;
}

interface ModeResult {
  mode: FanoutMode;
  writesPerPost: Map<number, number>;
  lag: Map<number, { p50: number; p99: number; samples: number }>;
}

async function measureMode(mode: FanoutMode): Promise<ModeResult> {
  const { app, parts } = await appFor(mode);
  try {
    await graph(parts, mode);
    const worker = parts.worker!;
    const writesPerPost = new Map<number, number>();
    const lag = new Map<number, { p50: number; p99: number; samples: number }>();
    let posts = 0;
    for (const count of FOLLOWER_COUNTS) {
      process.stderr.write(`  ${count} followers\n`);
      const samples: number[] = [];
      const writesBefore = worker.stats.feedWrites;
      const runs = count >= 10_000 ? LAG_POSTS : 1;
      for (let run = 0; run < runs; run += 1) {
        const started = performance.now();
        await parts.feed.post(`a${count}`, `post ${run}`, undefined, 'bench');
        posts += 1;
        await waitForBatches(parts, posts);
        samples.push(performance.now() - started);
      }
      // Feed writes by the fanout, plus the author's own timeline and own feed written at post time.
      const own = mode === 'read' ? 1 : 2;
      writesPerPost.set(count, (worker.stats.feedWrites - writesBefore) / runs + own);
      samples.sort((a, b) => a - b);
      if (count >= 10_000)
        lag.set(count, {
          p50: percentile(samples, 50),
          p99: percentile(samples, 99),
          samples: samples.length,
        });
    }
    return { mode, writesPerPost, lag };
  } finally {
    await app.close();
  }
}

async function memoryPerFeed(): Promise<{ twinBytes: number; redisBytes: number | undefined }> {
  const twin = new MemorySortedSetStore();
  const timelines = new Timelines(twin, FEED_MAX, 'write');
  const feeds = 200;
  const before = twin.keyspace.approximateBytes;
  for (let feed = 0; feed < feeds; feed += 1) {
    const candidates = Array.from({ length: FEED_MAX }, (_, index) => {
      const id = (BigInt(Date.now() - index * 1_000) << 22n) | BigInt(index % 4096);
      return {
        id,
        author: `u${String(index % 500).padStart(6, '0')}`,
        score: Number(id >> 22n) * 4096 + (index % 4096),
      };
    });
    await timelines.buildFeed(`reader${feed}`, candidates, -1);
  }
  const twinBytes = (twin.keyspace.approximateBytes - before) / feeds;
  let redisBytes: number | undefined;
  if (process.env.REDIS_URL) {
    const redis = await createRedis({ url: process.env.REDIS_URL, connectionName: 'news-feed-bench' });
    const prefix = `test:news-feed-bench:${process.pid}:`;
    try {
      const redisTimelines = new Timelines(new RedisSortedSetStore(redis, { prefix }), FEED_MAX, 'write');
      const candidates = Array.from({ length: FEED_MAX }, (_, index) => {
        const id = (BigInt(Date.now() - index * 1_000) << 22n) | BigInt(index % 4096);
        return {
          id,
          author: `u${String(index % 500).padStart(6, '0')}`,
          score: Number(id >> 22n) * 4096 + (index % 4096),
        };
      });
      await redisTimelines.buildFeed('reader', candidates, -1);
      redisBytes = Number(await redis.call('MEMORY', 'USAGE', `${prefix}feed:write:reader`, 'SAMPLES', '0'));
      await redis.del(`${prefix}feed:write:reader`, `${prefix}built:feed:write`);
    } finally {
      redis.disconnect();
    }
  }
  return { twinBytes, redisBytes };
}

const results: ModeResult[] = [];
for (const mode of ['write', 'hybrid', 'read'] as const) {
  process.stderr.write(`fanout bench: ${mode} mode\n`);
  results.push(await measureMode(mode));
}
const memory = await memoryPerFeed();
const ms = (value: number) => value.toFixed(1);
const lines = [
  '# news-feed fanout bench',
  '',
  `${new Date().toISOString()}, Node ${process.version}, in process: PGlite, the skip-list twin, the in-process bus; ` +
    `FANOUT_BATCH 1000, FEED_MAX ${FEED_MAX}, CELEBRITY_THRESHOLD ${CELEBRITY_THRESHOLD} (so 100k followers is a celebrity in the hybrid).`,
  '',
  '## Write amplification: sorted-set writes per post, by the author’s follower count',
  '',
  '(every active follower’s feed on a push, plus the author’s own timeline and, outside the read mode, own feed)',
  '',
  `| mode | ${FOLLOWER_COUNTS.map((count) => `${count.toLocaleString('en-US')} followers`).join(' | ')} |`,
  `|---|${FOLLOWER_COUNTS.map(() => '---:').join('|')}|`,
  ...results.map(
    (result) =>
      `| ${result.mode} | ${FOLLOWER_COUNTS.map((count) => result.writesPerPost.get(count)!.toLocaleString('en-US')).join(' | ')} |`,
  ),
  '',
  '## Fanout lag: post accepted -> in every follower’s feed',
  '',
  '(a pulled post is readable as soon as the post call returns: its lag is that call)',
  '',
  '| mode | 10k followers p50 | 10k p99 | 100k followers p50 | 100k p99 | posts per row |',
  '|---|---:|---:|---:|---:|---:|',
  ...results.map((result) => {
    const ten = result.lag.get(10_000)!;
    const hundred = result.lag.get(100_000)!;
    return `| ${result.mode} | ${ms(ten.p50)} ms | ${ms(ten.p99)} ms | ${ms(hundred.p50)} ms | ${ms(hundred.p99)} ms | ${ten.samples} |`;
  }),
  '',
  '## Memory per full feed (800 post ids)',
  '',
  '| store | bytes per feed | bytes per entry |',
  '|---|---:|---:|',
  `| skip-list twin (approximate heap bytes) | ${Math.round(memory.twinBytes).toLocaleString('en-US')} | ${Math.round(memory.twinBytes / FEED_MAX)} |`,
  memory.redisBytes === undefined
    ? '| Redis | (REDIS_URL not set) | |'
    : `| Redis (MEMORY USAGE) | ${memory.redisBytes.toLocaleString('en-US')} | ${Math.round(memory.redisBytes / FEED_MAX)} |`,
  '',
];
const markdown = lines.join('\n');
process.stdout.write(markdown);
const path = resultsPath('news-feed-fanout');
mkdirSync(dirname(path), { recursive: true });
writeFileSync(path, markdown);
