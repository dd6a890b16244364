/**
 * The leaderboard index beside itself on two backends: score updates/s and rank / top-10 latency
 * at 10k and 1M players, on the skip-list twin (in process) and on Redis (REDIS_URL, a key prefix
 * of its own, deleted after), plus bytes per player (Redis `MEMORY USAGE`, the twin's heap
 * growth). Index operations only, through the service's own index classes: the HTTP and Postgres
 * costs of a submission are not in these figures.
 *
 *   pnpm --filter @sysdesign/leaderboard bench            (REDIS_URL set for the Redis rows)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createRedis,
  MemorySortedSetStore,
  RedisSortedSetStore,
  type SortedSetStore,
} from '@sysdesign/platform';
import { TieBreakEncoding } from '../src/domain/encoding.js';
import { SingleIndex } from '../src/store/partitions.js';

const SIZES = [10_000, 1_000_000];
const SAMPLES = 5_000;
const UPDATE_SECONDS = 2;
const CONCURRENCY = 64;
const LOAD_CHUNK = 2_000;
const encoding = new TieBreakEncoding({
  sortOrder: 'desc',
  scoreMin: 0,
  scoreMax: 2 ** 31 - 1,
  timeResolutionMs: 1_000,
});

let seed = 42;
function random(): number {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
}
const randomIndexScore = () =>
  encoding.encode(Math.floor(random() * 1_000_000), Math.floor(random() * 4e9), 0);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function latency(run: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let index = 0; index < SAMPLES; index += 1) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function updatesPerSecond(index: SingleIndex, players: number): Promise<number> {
  let done = 0;
  const until = performance.now() + UPDATE_SECONDS * 1_000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await index.put(`player-${Math.floor(random() * players)}`, randomIndexScore());
        done += 1;
      }
    }),
  );
  return done / UPDATE_SECONDS;
}

interface Row {
  backend: string;
  players: number;
  loadSeconds: number;
  updatesPerSecond: number;
  rank: { p50: number; p99: number };
  top10: { p50: number; p99: number };
  bytesPerPlayer: number;
}

async function measure(
  backend: string,
  store: SortedSetStore,
  players: number,
  bytesOf: () => Promise<number>,
): Promise<Row> {
  const index = new SingleIndex({ store, key: `bench:${players}` });
  await index.drop();
  const before = await bytesOf();
  const loadStarted = performance.now();
  for (let start = 0; start < players; start += LOAD_CHUNK) {
    const chunk = [];
    for (let player = start; player < Math.min(players, start + LOAD_CHUNK); player += 1) {
      chunk.push({ member: `player-${player}`, score: randomIndexScore() });
    }
    await index.putMany(chunk);
  }
  const loadSeconds = (performance.now() - loadStarted) / 1_000;
  const bytesPerPlayer = Math.round(((await bytesOf()) - before) / players);
  const row = {
    backend,
    players,
    loadSeconds,
    updatesPerSecond: await updatesPerSecond(index, players),
    rank: await latency(() => index.rankOf(`player-${Math.floor(random() * players)}`)),
    top10: await latency(() => index.range(0, 9)),
    bytesPerPlayer,
  };
  await index.drop();
  return row;
}

function heapBytes(): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  return Promise.resolve(process.memoryUsage().heapUsed);
}

const rows: Row[] = [];
for (const players of SIZES) {
  rows.push(await measure('twin', new MemorySortedSetStore({ maxMembers: 5_000_000 }), players, heapBytes));
  console.log(rows.at(-1));
}
const redisUrl = process.env.REDIS_URL;
if (redisUrl) {
  const prefix = `leaderboard-bench-${process.pid}:`;
  const redis = await createRedis({
    url: redisUrl,
    connectionName: 'leaderboard-bench',
    commandTimeoutMs: 30_000,
  });
  const store = new RedisSortedSetStore(redis, { prefix });
  for (const players of SIZES) {
    const key = `${prefix}bench:${players}`;
    const bytesOf = async () => Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    rows.push(await measure('Redis', store, players, bytesOf));
    console.log(rows.at(-1));
  }
  redis.disconnect();
}

const ms = (value: number) => value.toFixed(3);
const table = [
  '| backend | players | bulk load s | updates/s (64 in flight) | rank p50 / p99 ms | top-10 p50 / p99 ms | bytes / player |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (row) =>
      `| ${row.backend} | ${row.players.toLocaleString('en-US')} | ${row.loadSeconds.toFixed(2)} | ` +
      `${Math.round(row.updatesPerSecond).toLocaleString('en-US')} | ${ms(row.rank.p50)} / ${ms(row.rank.p99)} | ` +
      `${ms(row.top10.p50)} / ${ms(row.top10.p99)} | ${row.bytesPerPlayer} |`,
  ),
].join('\n');
const report = `# leaderboard index bench\n\nNode ${process.version}, ${new Date().toISOString().slice(0, 10)}; ${SAMPLES} sequential samples per latency, ${UPDATE_SECONDS} s of updates. Index operations only (no HTTP, no Postgres).\n\n${table}\n`;
console.log(report);
const results = fileURLToPath(new URL('../../../load-tests/results/', import.meta.url));
mkdirSync(results, { recursive: true });
writeFileSync(`${results}leaderboard-index.md`, report);
