/**
 * The sorted-set twin (`@sysdesign/platform`, structures) beside the ordered containers a user
 * would pick instead: `sorted-btree`'s BTree and `js-sdsl`'s OrderedSet (a red-black tree; with
 * `enableIndex` it knows an element's rank, but finds the element at a rank by walking in order).
 * Each peer holds a sorted set the way a user would build one: a Map from member to score beside
 * a tree keyed by (score, member), with the twin's member order. Sizes 10k and 1M by default
 * (`SORTED_SET_BENCH_SIZES=10000,1000000`); rounds alternate between contenders and the median is
 * kept. Heap bytes per member come from `--expose-gc` (the package script passes it). With
 * `REDIS_URL` set, Redis's `MEMORY USAGE` per member is measured beside them.
 *
 * Run: `pnpm --filter @sysdesign/load-tests bench:sorted-set`. Writes `results/sorted-set.md`.
 * `SORTED_SET_BENCH_ONLY=twin` keeps the contenders whose name starts so (a quick look while
 * tuning; the report then holds only them).
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createRedis } from '@sysdesign/platform';
import { resultsPath } from './paths.js';
import {
  measureSortedSetRound,
  OPERATIONS,
  SORTED_SET_CONTENDERS,
  type SortedSetRow,
  type SortedSetWorkload,
  sortedSetWorkload,
} from './peers/designs/sorted-set.js';
import { describeEnvironment } from './report.js';
import { median, numberFromEnv } from './stats.js';

const ROUNDS = numberFromEnv('SORTED_SET_BENCH_ROUNDS', 3);
const SIZES = (process.env.SORTED_SET_BENCH_SIZES ?? '10000,1000000').split(',').map(Number);

const KINDS = SORTED_SET_CONTENDERS.filter((kind) =>
  kind.name.startsWith(process.env.SORTED_SET_BENCH_ONLY ?? ''),
);

/** Full collections with pauses between, so concurrent sweeping has finished before heapUsed is read. */
async function settledHeapBytes(gc: () => void): Promise<number> {
  for (let pass = 0; pass < 3; pass++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage().heapUsed;
}

/**
 * The structure's own heap per member, measured in a fresh child process per contender (in this
 * one, the garbage of the timed rounds is still being swept and skews heapUsed by hundreds of MB).
 * The member strings exist before and after, so they are not counted.
 */
function heapBytesPerMember(kindIndex: number, size: number): number | undefined {
  const output = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, SORTED_SET_BENCH_MEMORY_OF: `${kindIndex}:${size}` },
    encoding: 'utf8',
  });
  const bytes = Number(output.trim().split('\n').at(-1));
  return Number.isFinite(bytes) ? bytes : undefined;
}

/** The child's side of `heapBytesPerMember`: prints bytes per member, or nothing without --expose-gc. */
async function measureHeapInThisProcess(kindIndex: number, size: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  const load = sortedSetWorkload(size);
  const before = await settledHeapBytes(gc);
  const set = KINDS[kindIndex]!.create();
  for (let index = 0; index < size; index++) set.add(load.members[index]!, load.scores[index]!);
  const after = await settledHeapBytes(gc);
  // Keeps the set alive past the second measurement.
  set.remove(load.members[0]!);
  console.log(String((after - before) / size));
}

/** Redis's own bytes per member for the same set (`MEMORY USAGE`), or undefined without REDIS_URL. */
async function redisBytesPerMember(load: SortedSetWorkload): Promise<number | undefined> {
  const url = process.env.REDIS_URL;
  if (!url) return undefined;
  const redis = await createRedis({ url, commandTimeoutMs: 30_000 });
  const key = `bench:sorted-set:${process.pid}:${load.members.length}`;
  try {
    for (let start = 0; start < load.members.length; start += 1_000) {
      const args: (string | number)[] = [];
      for (let index = start; index < Math.min(start + 1_000, load.members.length); index++) {
        args.push(load.scores[index]!, load.members[index]!);
      }
      await redis.zadd(key, ...args);
    }
    const bytes = (await redis.call('memory', 'usage', key, 'SAMPLES', '0')) as number;
    return bytes / load.members.length;
  } finally {
    await redis.del(key);
    await redis.quit();
  }
}

const format = (value: number | undefined, missing: string) =>
  value === undefined ? `n/a (${missing})` : Math.round(value).toLocaleString('en-US');

async function main(): Promise<void> {
  const lines: string[] = [];
  const environment = describeEnvironment();
  lines.push(
    '# sorted-set twin beside ordered-container peers',
    '',
    `${environment.date}, Node ${environment.nodeVersion}, ${environment.cpuModel} (${environment.cores} cores). ` +
      `Median of ${ROUNDS} alternated rounds; operations per CPU-second of the process; ${OPERATIONS.toLocaleString('en-US')} timed operations ` +
      `per cell (or the size, if smaller). Members \`player:<i>\`, integer scores in [0, 10 x size).`,
    '',
    'Peers hold a Map (member -> score) beside a tree keyed by (score, member), as a user would build a sorted set on them.',
    '',
  );
  for (const size of SIZES) {
    const load = sortedSetWorkload(size);
    const rounds = new Map<string, SortedSetRow[]>(KINDS.map((kind) => [kind.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of KINDS) rounds.get(kind.name)!.push(measureSortedSetRound(kind, load).row);
    }
    const redisBytes = await redisBytesPerMember(load);
    lines.push(
      `## ${size.toLocaleString('en-US')} members`,
      '',
      '| structure | build (inserts/s) | insert | delete | rank (ZRANK) | range of 10 by score | range of 10 by rank | heap bytes/member |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const kind of KINDS) {
      const rows = rounds.get(kind.name)!;
      const cell = (field: string) => {
        const values = rows.map((row) => row[field]).filter((value) => value !== undefined);
        return format(values.length === 0 ? undefined : median(values), kind.missing);
      };
      const bytes = heapBytesPerMember(KINDS.indexOf(kind), size);
      lines.push(
        `| ${kind.name} | ${cell('build')} | ${cell('insert')} | ${cell('remove')} | ${cell('rank')} | ` +
          `${cell('rangeScore')} | ${cell('rangeRank')} | ${bytes === undefined ? 'run with --expose-gc' : Math.round(bytes)} |`,
      );
    }
    if (redisBytes !== undefined) {
      lines.push('', `Redis \`MEMORY USAGE\` of the same set: ${Math.round(redisBytes)} bytes per member.`);
    }
    lines.push('');
    console.log(lines.slice(-KINDS.length - 6).join('\n'));
  }
  const report = lines.join('\n');
  await writeFile(resultsPath('sorted-set'), report);
  console.log(`\nwritten to ${resultsPath('sorted-set')}`);
}

const memoryOf = process.env.SORTED_SET_BENCH_MEMORY_OF;
if (memoryOf === undefined) await main();
else {
  const [kindIndex, size] = memoryOf.split(':').map(Number);
  await measureHeapInThisProcess(kindIndex!, size!);
}
