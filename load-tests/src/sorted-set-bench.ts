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
import { compareMembers, createRedis, SortedSetKeyspace } from '@sysdesign/platform';
import { seededRandom } from '@sysdesign/testkit';
import { OrderedSet } from 'js-sdsl';
import sortedBtree from 'sorted-btree';
import { resultsPath } from './paths.js';
import { describeEnvironment } from './report.js';
import { median, numberFromEnv } from './stats.js';

const ROUNDS = numberFromEnv('SORTED_SET_BENCH_ROUNDS', 3);
const SIZES = (process.env.SORTED_SET_BENCH_SIZES ?? '10000,1000000').split(',').map(Number);
/** Operations timed per measurement at each size (capped by the size). */
const OPERATIONS = 100_000;
const RANGE_LENGTH = 10;

// sorted-btree is CommonJS with `exports.default`: Node's ESM import sees the exports object.
const BTree = sortedBtree.default;

type Key = [number, string];

function byScoreThenMember(a: Key, b: Key): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return compareMembers(a[1], b[1]);
}

interface Contender {
  add(member: string, score: number): void;
  remove(member: string): void;
  /** 0-based rank by member; absent when the structure cannot answer it in O(log n). */
  rank?(member: string): number;
  /** The first RANGE_LENGTH members with score >= min (ZRANGE min +inf BYSCORE LIMIT 0 10). */
  rangeFromScore(min: number): number;
  /** The RANGE_LENGTH members from rank `start` (ZRANGE start start+9). */
  rangeFromRank?(start: number): number;
}

interface ContenderKind {
  name: string;
  create(): Contender;
  /** Why a missing operation is missing, for the table. */
  missing: string;
}

const ALL_KINDS: ContenderKind[] = [
  {
    name: 'twin (SortedSetKeyspace)',
    missing: '',
    create() {
      const keyspace = new SortedSetKeyspace({ maxMembers: 50_000_000, maxBytes: 2 ** 40 });
      return {
        add: (member, score) => keyspace.zadd('k', [{ member, score }]),
        remove: (member) => keyspace.zrem('k', [member]),
        rank: (member) => keyspace.zrank('k', member) ?? -1,
        rangeFromScore: (min) =>
          keyspace.zrangeByScore('k', min, Number.POSITIVE_INFINITY, {
            limit: { offset: 0, count: RANGE_LENGTH },
          }).length,
        rangeFromRank: (start) => keyspace.zrange('k', start, start + RANGE_LENGTH - 1).length,
      };
    },
  },
  {
    name: 'sorted-btree BTree + Map',
    missing: 'no rank: neither rank of a key nor key at a rank',
    create() {
      const scores = new Map<string, number>();
      const tree = new BTree<Key, undefined>(undefined, byScoreThenMember);
      return {
        add(member, score) {
          scores.set(member, score);
          tree.set([score, member], undefined);
        },
        remove(member) {
          tree.delete([scores.get(member)!, member]);
          scores.delete(member);
        },
        rangeFromScore(min) {
          let found = 0;
          for (const _entry of tree.keys([min, ''])) if (++found === RANGE_LENGTH) break;
          return found;
        },
      };
    },
  },
  {
    name: 'js-sdsl OrderedSet (enableIndex) + Map',
    missing: 'element at a rank is an in-order walk (getElementByPos), O(n)',
    create() {
      const scores = new Map<string, number>();
      const tree = new OrderedSet<Key>([], byScoreThenMember, true);
      return {
        add(member, score) {
          scores.set(member, score);
          tree.insert([score, member]);
        },
        remove(member) {
          tree.eraseElementByKey([scores.get(member)!, member]);
          scores.delete(member);
        },
        rank: (member) => tree.find([scores.get(member)!, member]).index,
        rangeFromScore(min) {
          const end = tree.end();
          const iterator = tree.lowerBound([min, '']);
          let found = 0;
          while (found < RANGE_LENGTH && !iterator.equals(end)) {
            found++;
            iterator.next();
          }
          return found;
        },
      };
    },
  },
];

const KINDS = ALL_KINDS.filter((kind) => kind.name.startsWith(process.env.SORTED_SET_BENCH_ONLY ?? ''));

interface Workload {
  members: string[];
  scores: number[];
  extra: string[];
  extraScores: number[];
  probes: number[];
  probeScores: number[];
}

function workload(size: number): Workload {
  // Seeded, so every contender sees the same members, scores and probes.
  const random = seededRandom(size);
  const count = Math.min(size, OPERATIONS);
  // Scores are integers over 10x the size, so ties (ordered by member) occur but are not the rule.
  const score = () => Math.floor(random() * size * 10);
  return {
    members: Array.from({ length: size }, (_, index) => `player:${index}`),
    scores: Array.from({ length: size }, score),
    extra: Array.from({ length: count }, (_, index) => `new:${index}`),
    extraScores: Array.from({ length: count }, score),
    probes: Array.from({ length: count }, () => Math.floor(random() * size)),
    probeScores: Array.from({ length: count }, score),
  };
}

type Row = Record<string, number | undefined>;

/**
 * Operations per second of this process's CPU time (user + system, all threads, so GC counts):
 * the machine is shared, and wall time would measure the neighbours as much as the structure.
 */
function timed(count: number, work: () => void): number {
  const started = process.cpuUsage();
  work();
  const used = process.cpuUsage(started);
  return (count * 1_000_000) / (used.user + used.system);
}

function measureRound(kind: ContenderKind, load: Workload): Row {
  const set = kind.create();
  const size = load.members.length;
  const build = timed(size, () => {
    for (let index = 0; index < size; index++) set.add(load.members[index]!, load.scores[index]!);
  });
  const count = load.extra.length;
  const insert = timed(count, () => {
    for (let index = 0; index < count; index++) set.add(load.extra[index]!, load.extraScores[index]!);
  });
  const remove = timed(count, () => {
    for (let index = 0; index < count; index++) set.remove(load.extra[index]!);
  });
  let sink = 0;
  const rank = set.rank
    ? timed(count, () => {
        for (const probe of load.probes) sink += set.rank!(load.members[probe]!);
      })
    : undefined;
  const rangeScore = timed(count, () => {
    for (const min of load.probeScores) sink += set.rangeFromScore(min);
  });
  const rangeRank = set.rangeFromRank
    ? timed(count, () => {
        for (const probe of load.probes) sink += set.rangeFromRank!(Math.min(probe, size - RANGE_LENGTH));
      })
    : undefined;
  if (sink < 0) console.log(sink);
  return { build, insert, remove, rank, rangeScore, rangeRank };
}

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
  const load = workload(size);
  const before = await settledHeapBytes(gc);
  const set = KINDS[kindIndex]!.create();
  for (let index = 0; index < size; index++) set.add(load.members[index]!, load.scores[index]!);
  const after = await settledHeapBytes(gc);
  // Keeps the set alive past the second measurement.
  set.remove(load.members[0]!);
  console.log(String((after - before) / size));
}

/** Redis's own bytes per member for the same set (`MEMORY USAGE`), or undefined without REDIS_URL. */
async function redisBytesPerMember(load: Workload): Promise<number | undefined> {
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
    const load = workload(size);
    const rounds = new Map<string, Row[]>(KINDS.map((kind) => [kind.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of KINDS) rounds.get(kind.name)!.push(measureRound(kind, load));
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
