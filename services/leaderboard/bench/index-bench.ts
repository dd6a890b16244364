/**
 * The leaderboard index on one backend: bulk load, score updates/s with 64 in flight, rank and
 * top-10 latency (sequential samples), bytes per player. Index operations only, through the
 * service's own index classes: the HTTP and Postgres costs of a submission are not in these figures.
 */
import type { SortedSetStore } from '@sysdesign/platform';
import { TieBreakEncoding } from '../src/domain/encoding.js';
import { SingleIndex } from '../src/store/partitions.js';

/** How long each measurement runs: the full run's, or the smoke mode's few seconds. */
export interface IndexSettings {
  samples: number;
  updateSeconds: number;
}

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

async function latency(samples: number, run: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** CPU microseconds a backend's server has used so far (a private Redis's process), or 0 when in process. */
export type ServerCpu = () => number;

/**
 * Updates per wall second with 64 in flight, and CPU microseconds per update (this process plus the
 * server's): on a shared machine the wall rate measures the neighbours too, the CPU cost does not.
 */
async function updateRates(
  index: SingleIndex,
  players: number,
  seconds: number,
  serverCpu: ServerCpu,
): Promise<{ perSecond: number; cpuMicros: number }> {
  let done = 0;
  const cpuBefore = process.cpuUsage();
  const serverBefore = serverCpu();
  const until = performance.now() + seconds * 1_000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await index.put(`player-${Math.floor(random() * players)}`, randomIndexScore());
        done += 1;
      }
    }),
  );
  const own = process.cpuUsage(cpuBefore);
  const cpuMicros = (own.user + own.system + serverCpu() - serverBefore) / done;
  return { perSecond: done / seconds, cpuMicros };
}

export interface IndexRow {
  backend: string;
  players: number;
  loadSeconds: number;
  updatesPerSecond: number;
  /** CPU microseconds per update, client and server. */
  updateCpuMicros: number;
  rank: { p50: number; p99: number };
  top10: { p50: number; p99: number };
  bytesPerPlayer: number;
}

/** Loads `players` into a fresh key of `store`, then times updates, rank reads and top-10 reads. */
export async function measureIndex(
  backend: string,
  store: SortedSetStore,
  players: number,
  bytesOf: (key: string) => Promise<number>,
  settings: IndexSettings,
  serverCpu: ServerCpu = () => 0,
): Promise<IndexRow> {
  const key = `bench:${players}`;
  const index = new SingleIndex({ store, key });
  await index.drop();
  const before = await bytesOf(key);
  const loadStarted = performance.now();
  for (let start = 0; start < players; start += LOAD_CHUNK) {
    const chunk = [];
    for (let player = start; player < Math.min(players, start + LOAD_CHUNK); player += 1) {
      chunk.push({ member: `player-${player}`, score: randomIndexScore() });
    }
    await index.putMany(chunk);
  }
  const loadSeconds = (performance.now() - loadStarted) / 1_000;
  const bytesPerPlayer = Math.round(((await bytesOf(key)) - before) / players);
  const updates = await updateRates(index, players, settings.updateSeconds, serverCpu);
  const row = {
    backend,
    players,
    loadSeconds,
    updatesPerSecond: updates.perSecond,
    updateCpuMicros: updates.cpuMicros,
    rank: await latency(settings.samples, () => index.rankOf(`player-${Math.floor(random() * players)}`)),
    top10: await latency(settings.samples, () => index.range(0, 9)),
    bytesPerPlayer,
  };
  await index.drop();
  return row;
}

/** The twin's bytes: the process's heap after a full collection (run with --expose-gc). */
export function heapBytes(): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  return Promise.resolve(process.memoryUsage().heapUsed);
}
