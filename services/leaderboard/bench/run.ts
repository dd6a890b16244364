/**
 * The leaderboard's measurements (issue #11's performance section), by mode:
 *
 *   pnpm --filter @sysdesign/leaderboard bench [index] [rebuild] [http] [--smoke]
 *        [--players 10000,1000000] [--redis-players 10000,1000000,10000000] [--events 1000000]
 *   (an empty list, `--redis-players ''`, skips those rows)
 *
 * - `index` (default with `rebuild`): the index alone, twin and Redis: bulk load, updates/s, rank
 *   and top-10 p50/p99, bytes per player. Redis is a private `redis-server` of the run when the
 *   binary is on PATH (so `INFO memory` counts only this run and the shared one is not loaded with
 *   10M players), else REDIS_URL under a key prefix of its own. 10M players run on a private Redis
 *   only, and only with 4 GiB of free memory.
 * - `rebuild`: rebuild time from the log through the service, PGlite and (DATABASE_URL) Postgres.
 * - `http`: the service beside bare Fastify (`bench/http.ts`; add `--servers` for Redis + Postgres).
 * - `--smoke`: a few seconds in all (small sizes, short runs, nothing written): CI runs it.
 *
 * Writes `load-tests/results/leaderboard-index.md` (index and rebuild tables) unless smoke.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRedis, MemorySortedSetStore, type Redis, RedisSortedSetStore } from '@sysdesign/platform';
import { type PrivateServer, privateRedis } from '@sysdesign/testkit';
import { heapBytes, type IndexRow, type IndexSettings, measureIndex } from './index-bench.js';
import { measureRebuild, type RebuildBackend, type RebuildRow } from './rebuild.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    smoke: { type: 'boolean', default: false },
    players: { type: 'string' },
    'redis-players': { type: 'string' },
    events: { type: 'string' },
    /** Read by http.ts: the service on Redis and Postgres. */
    servers: { type: 'boolean', default: false },
  },
});
const smoke = values.smoke;
const modes = positionals.length > 0 ? positionals : ['index', 'rebuild'];
for (const mode of modes) {
  if (!['index', 'rebuild', 'http'].includes(mode))
    throw new Error(`unknown mode ${mode}: index, rebuild or http`);
}
const sizes = (text: string | undefined, fallback: number[]) =>
  text === undefined
    ? fallback
    : text
        .split(',')
        .filter((size) => size !== '')
        .map((size) => Number(size.replaceAll('_', '')));
const TWIN_PLAYERS = sizes(values.players, smoke ? [2_000] : [10_000, 1_000_000]);
const REDIS_PLAYERS = sizes(values['redis-players'], smoke ? [2_000] : [10_000, 1_000_000, 10_000_000]);
const EVENTS = Number(values.events ?? (smoke ? 5_000 : 1_000_000));
const SETTINGS: IndexSettings = smoke
  ? { samples: 200, updateSeconds: 0.2 }
  : { samples: 5_000, updateSeconds: 2 };
/** The largest board loaded into a shared Redis, and the free memory a 10M board needs. */
const SHARED_REDIS_PLAYERS_MAX = 1_000_000;
const BIG_BOARD_FREE_BYTES = 4 * 1024 ** 3;

function hasRedisServer(): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .some(
      (directory) =>
        directory !== '' &&
        (statSync(`${directory}/redis-server`, { throwIfNoEntry: false })?.isFile() ?? false),
    );
}

interface RedisUnderTest {
  url: string;
  /** The server's CPU microseconds so far (a private server's process), or 0 for the shared one. */
  cpuMicros: () => number;
  /** True for the run's own server. */
  isPrivate: boolean;
  close(): Promise<void>;
}

async function redisUnderTest(): Promise<RedisUnderTest | undefined> {
  if (hasRedisServer()) {
    const server: PrivateServer = await privateRedis();
    return {
      url: server.url,
      isPrivate: true,
      cpuMicros: () => processCpuMicros(server.pid),
      close: () => server.kill(),
    };
  }
  const url = process.env.REDIS_URL;
  return url ? { url, isPrivate: false, cpuMicros: () => 0, close: async () => undefined } : undefined;
}

/** utime + stime of a process from /proc, in microseconds (0 where /proc is not there). */
function processCpuMicros(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // Fields 14 and 15 of stat (utime, stime), in clock ticks of 10 ms on Linux.
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return 0;
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

interface RedisMemory {
  players: number;
  memoryUsage: number;
  usedMemoryDelta: number | undefined;
}

async function indexRows(
  redisServer: RedisUnderTest | undefined,
): Promise<{ rows: IndexRow[]; memory: RedisMemory[] }> {
  const rows: IndexRow[] = [];
  const memory: RedisMemory[] = [];
  for (const players of TWIN_PLAYERS) {
    rows.push(
      await measureIndex(
        'twin',
        new MemorySortedSetStore({ maxMembers: 20_000_000 }),
        players,
        heapBytes,
        SETTINGS,
      ),
    );
    console.error(rows.at(-1));
  }
  if (redisServer === undefined) return { rows, memory };
  const prefix = `leaderboard-bench-${process.pid}:`;
  const redis = await createRedis({
    url: redisServer.url,
    connectionName: 'leaderboard-bench',
    commandTimeoutMs: 120_000,
  });
  try {
    const store = new RedisSortedSetStore(redis, { prefix });
    for (const players of REDIS_PLAYERS) {
      if (!redisServer.isPrivate && players > SHARED_REDIS_PLAYERS_MAX) {
        console.error(`skipped ${players} players: only on a private redis-server`);
        continue;
      }
      if (players > SHARED_REDIS_PLAYERS_MAX && freemem() < BIG_BOARD_FREE_BYTES) {
        console.error(`skipped ${players} players: ${Math.round(freemem() / 1024 ** 2)} MiB free`);
        continue;
      }
      const before = redisServer.isPrivate ? await usedMemory(redis) : undefined;
      let afterLoad: RedisMemory | undefined;
      const bytesOf = async (key: string) => {
        const bytes = Number((await redis.call('MEMORY', 'USAGE', `${prefix}${key}`, 'SAMPLES', '0')) ?? 0);
        if (bytes > 0) {
          const used = before === undefined ? undefined : (await usedMemory(redis)) - before;
          afterLoad = { players, memoryUsage: bytes, usedMemoryDelta: used };
        }
        return bytes;
      };
      rows.push(await measureIndex('Redis', store, players, bytesOf, SETTINGS, redisServer.cpuMicros));
      if (afterLoad) memory.push(afterLoad);
      console.error(rows.at(-1));
    }
  } finally {
    redis.disconnect();
  }
  return { rows, memory };
}

async function rebuildRows(redisServer: RedisUnderTest | undefined): Promise<RebuildRow[]> {
  const backends: RebuildBackend[] = [{ name: 'PGlite, twin' }];
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    backends.push({ name: 'Postgres, twin', databaseUrl });
    if (redisServer) backends.push({ name: 'Postgres, Redis', databaseUrl, redisUrl: redisServer.url });
  }
  const rows: RebuildRow[] = [];
  for (const backend of backends) {
    rows.push(await measureRebuild(backend, EVENTS));
    console.error(rows.at(-1));
    const row = rows.at(-1)!;
    if (row.rebuiltPlayers !== row.players)
      throw new Error(`${backend.name}: rebuilt ${row.rebuiltPlayers} players of ${row.players}`);
  }
  return rows;
}

const ms = (value: number) => value.toFixed(3);
const count = (value: number) => value.toLocaleString('en-US');

function indexTable(rows: IndexRow[]): string {
  return [
    '| backend | players | bulk load s | updates/s (64 in flight) | CPU µs / update | rank p50 / p99 ms | top-10 p50 / p99 ms | bytes / player |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.backend} | ${count(row.players)} | ${row.loadSeconds.toFixed(2)} | ` +
        `${count(Math.round(row.updatesPerSecond))} | ${row.updateCpuMicros.toFixed(1)} | ${ms(row.rank.p50)} / ${ms(row.rank.p99)} | ` +
        `${ms(row.top10.p50)} / ${ms(row.top10.p99)} | ${row.bytesPerPlayer} |`,
    ),
  ].join('\n');
}

function memoryLines(memory: RedisMemory[]): string {
  return memory
    .map(
      (entry) =>
        `- ${count(entry.players)} players: \`MEMORY USAGE\` ${count(entry.memoryUsage)} bytes ` +
        `(${Math.round(entry.memoryUsage / entry.players)} per player)` +
        (entry.usedMemoryDelta === undefined
          ? ''
          : `; \`INFO memory\` used_memory grew ${count(entry.usedMemoryDelta)} bytes (${Math.round(entry.usedMemoryDelta / entry.players)} per player)`),
    )
    .join('\n');
}

function rebuildTable(rows: RebuildRow[]): string {
  return [
    '| log, index | events | players | rebuild s | s per million events | players/s |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.backend} | ${count(row.events)} | ${count(row.players)} | ${(row.rebuildMs / 1_000).toFixed(2)} | ` +
        `${((row.rebuildMs / 1_000) * (1_000_000 / row.events)).toFixed(2)} | ${count(Math.round(row.players / (row.rebuildMs / 1_000)))} |`,
    ),
  ].join('\n');
}

if (modes.includes('http')) await import('./http.js');
const sections: string[] = [];
const needsRedis = modes.includes('index') || modes.includes('rebuild');
const redisServer = needsRedis ? await redisUnderTest() : undefined;
try {
  if (modes.includes('index')) {
    const { rows, memory } = await indexRows(redisServer);
    sections.push(
      `## Index\n\n${SETTINGS.samples} sequential samples per latency, ${SETTINGS.updateSeconds} s of updates; ` +
        `Redis ${redisServer?.isPrivate ? "a private redis-server of the run's own" : 'the shared REDIS_URL'}.\n\n${indexTable(rows)}\n`,
    );
    if (memory.length > 0) sections.push(`Redis memory after the bulk load:\n\n${memoryLines(memory)}\n`);
  }
  if (modes.includes('rebuild')) {
    sections.push(
      `## Rebuild from the log\n\n\`POST /v1/boards/{board}/rebuild\` on a board whose log holds the events (4 per player, the last one wins).\n\n${rebuildTable(await rebuildRows(redisServer))}\n`,
    );
  }
} finally {
  await redisServer?.close();
}
if (sections.length > 0) {
  const report = `# leaderboard index and rebuild bench\n\nNode ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, ${smoke ? 'smoke mode' : 'full run'}.\n\n${sections.join('\n')}`;
  console.log(report);
  if (!smoke) {
    const results = fileURLToPath(new URL('../../../load-tests/results/', import.meta.url));
    mkdirSync(results, { recursive: true });
    writeFileSync(`${results}leaderboard-index.md`, report);
  }
}
