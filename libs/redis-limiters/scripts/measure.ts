import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@sysdesign/testkit';
import { Redis } from 'ioredis';
import { ALGORITHMS, type Algorithm, MemoryLimiter, MemoryStore, RedisLimiter } from '../src/index.js';

/**
 * `pnpm --filter @sysdesign/redis-limiters measure`: the comparison the design discussion only
 * asserts, measured. Writes load-tests/results/redis-limiters.md and prints it.
 *
 * 1. Memory per key in Redis (`MEMORY USAGE`), after one request and at the limit.
 * 2. Decisions per second of each Lua script, ioredis auto-pipelining, one connection; the
 *    server's CPU per call from INFO commandstats; and the in-memory twins.
 * 3. Burst at window edges: the limit at the end of a window and again at the start of the next.
 * 4. Accuracy: a bursty many-source trace replayed through each algorithm, each decision judged
 *    against an exact sliding log of what that algorithm admitted (Cloudflare's method).
 *
 * Parts 3 and 4 run the in-memory twins on a virtual clock (the differential test proves them
 * identical to the scripts); parts 1 and 2 need Redis (REDIS_URL, default redis://127.0.0.1:6379).
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MEMORY_IDENTITIES = 200;
const THROUGHPUT_SECONDS = Number(process.env.MEASURE_SECONDS ?? 3);
const THROUGHPUT_CONCURRENCY = 256;
const THROUGHPUT_IDENTITIES = 10_000;
const TRACE_SEED = 42;
const HOUR_MS = 3_600_000;
/** Replayed timelines run a day ahead of the server clock: keys expire on the decision's clock. */
const T0 = Math.ceil((Date.now() + 24 * HOUR_MS) / HOUR_MS) * HOUR_MS;
const RESULTS_PATH = fileURLToPath(new URL('../../../load-tests/results/redis-limiters.md', import.meta.url));

const format = (value: number, digits = 0) =>
  value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

// ---- 1. memory per key --------------------------------------------------------------------

async function averageMemoryUsage(redis: Redis, keys: string[]): Promise<number> {
  const sizes = await Promise.all(keys.map((key) => redis.memory('USAGE', key, 'SAMPLES', 0)));
  return sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0) / keys.length;
}

async function memoryPerKey(redis: Redis, prefix: string): Promise<string[]> {
  const lines = [
    '## Memory per key (Redis `MEMORY USAGE`)',
    '',
    `Average over ${MEMORY_IDENTITIES} identities, bytes per key including Redis's own overhead (key name of ~25 bytes).`,
    '',
    '| algorithm | Redis type | after 1 request | at the limit of 100 | at the limit of 1,000 |',
    '|---|---|---:|---:|---:|',
  ];
  for (const algorithm of ALGORITHMS) {
    const cells: string[] = [];
    for (const [limit, cost] of [
      [100, 1],
      [100, 100],
      [1_000, 1_000],
    ] as const) {
      const limiter = new RedisLimiter(
        redis,
        { algorithm, limit, windowMs: 60_000 },
        { name: `m${limit}x${cost}`, prefix, timeoutMs: 10_000 },
      );
      const keys = Array.from({ length: MEMORY_IDENTITIES }, (_, index) => `user:${100_000 + index}`);
      await Promise.all(keys.map((key) => limiter.limit(key, { cost, now: T0 })));
      const redisKeys = keys.map((key) => `${prefix}m${limit}x${cost}:${codeOf(algorithm)}:{${key}}`);
      cells.push(format(await averageMemoryUsage(redis, redisKeys)));
    }
    const type = algorithm === 'gcra' ? 'string' : algorithm === 'sliding_window_log' ? 'sorted set' : 'hash';
    lines.push(`| ${algorithm} | ${type} | ${cells.join(' | ')} |`);
  }
  return lines;
}

function codeOf(algorithm: Algorithm): string {
  return {
    token_bucket: 'tb',
    leaking_bucket: 'lb',
    fixed_window: 'fw',
    sliding_window_log: 'sl',
    sliding_window_counter: 'sc',
    gcra: 'gc',
  }[algorithm];
}

// ---- 2. decisions per second --------------------------------------------------------------

async function evalshaStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const info = await redis.info('commandstats');
  const match = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
  return match ? { calls: Number(match[1]), usec: Number(match[2]) } : { calls: 0, usec: 0 };
}

async function redisThroughput(redis: Redis, algorithm: Algorithm, prefix: string) {
  const limiter = new RedisLimiter(
    redis,
    { algorithm, limit: 100, windowMs: 1_000 },
    { name: 'rate', prefix, overLimitCache: false, timeoutMs: 10_000 },
  );
  const random = seededRandom(1);
  let decisions = 0;
  let deadline = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await limiter.limit(`user:${Math.floor(random() * THROUGHPUT_IDENTITIES)}`);
      decisions++;
    }
  };
  // Half a second unmeasured, so the JIT and the connection are warm.
  deadline = performance.now() + 500;
  await Promise.all(Array.from({ length: THROUGHPUT_CONCURRENCY }, worker));
  decisions = 0;
  const before = await evalshaStats(redis);
  const started = performance.now();
  deadline = started + THROUGHPUT_SECONDS * 1_000;
  await Promise.all(Array.from({ length: THROUGHPUT_CONCURRENCY }, worker));
  const elapsedSeconds = (performance.now() - started) / 1_000;
  const after = await evalshaStats(redis);
  const serverMicros =
    after.calls > before.calls ? (after.usec - before.usec) / (after.calls - before.calls) : Number.NaN;
  return { perSecond: decisions / elapsedSeconds, serverMicros };
}

function twinThroughput(algorithm: Algorithm): number {
  const limiter = new MemoryLimiter(
    { algorithm, limit: 100, windowMs: 1_000 },
    { name: 'rate', store: new MemoryStore() },
  );
  const random = seededRandom(2);
  const deadline = performance.now() + 1_000;
  let decisions = 0;
  const started = performance.now();
  while (performance.now() < deadline) {
    for (let batch = 0; batch < 1_000; batch++)
      limiter.limitNow(`user:${Math.floor(random() * THROUGHPUT_IDENTITIES)}`);
    decisions += 1_000;
  }
  return decisions / ((performance.now() - started) / 1_000);
}

async function throughput(redis: Redis | undefined, prefix: string): Promise<string[]> {
  const lines = [
    '## Decisions per second',
    '',
    `Redis: one ioredis connection with auto-pipelining, ${THROUGHPUT_CONCURRENCY} decisions in flight, ` +
      `${format(THROUGHPUT_IDENTITIES)} identities at random, limit 100 per second each, ${THROUGHPUT_SECONDS} s per algorithm. ` +
      "Server µs/call is Redis's own time per EVALSHA (INFO commandstats). Twin: the in-memory limiter, one thread.",
    '',
    '| algorithm | Redis decisions/s | Redis server µs/call | in-memory twin decisions/s |',
    '|---|---:|---:|---:|',
  ];
  for (const algorithm of ALGORITHMS) {
    const measured = redis ? await redisThroughput(redis, algorithm, prefix) : undefined;
    const redisCells = measured
      ? `${format(measured.perSecond)} | ${format(measured.serverMicros, 1)}`
      : 'n/a | n/a';
    lines.push(`| ${algorithm} | ${redisCells} | ${format(twinThroughput(algorithm))} |`);
  }
  return lines;
}

// ---- 3. bursts ----------------------------------------------------------------------------

const LIMIT = 100;
const WINDOW_MS = 60_000;

function edgeBurst(algorithm: Algorithm): number {
  const limiter = new MemoryLimiter({ algorithm, limit: LIMIT, windowMs: WINDOW_MS }, { name: 'edge' });
  let admitted = 0;
  for (const now of [T0 + WINDOW_MS - 1, T0 + WINDOW_MS]) {
    for (let request = 0; request < LIMIT; request++) if (limiter.limitNow('k', { now }).allowed) admitted++;
  }
  return admitted;
}

/** A client sending one request every 10 ms for 5 windows: the most admitted in any rolling window. */
function floodMaximum(algorithm: Algorithm): number {
  const limiter = new MemoryLimiter({ algorithm, limit: LIMIT, windowMs: WINDOW_MS }, { name: 'flood' });
  const admittedAt: number[] = [];
  for (let now = T0 + WINDOW_MS / 2; now < T0 + 5.5 * WINDOW_MS; now += 10) {
    if (limiter.limitNow('k', { now }).allowed) admittedAt.push(now);
  }
  let maximum = 0;
  let oldest = 0;
  for (let newest = 0; newest < admittedAt.length; newest++) {
    while (admittedAt[oldest]! <= admittedAt[newest]! - WINDOW_MS) oldest++;
    maximum = Math.max(maximum, newest - oldest + 1);
  }
  return maximum;
}

function bursts(): string[] {
  const lines = [
    '## Bursts (limit 100 per minute)',
    '',
    '**Edge**: 100 requests in the last millisecond of a minute, 100 in the first of the next. ' +
      '**Flood**: one request every 10 ms for five minutes; the most admitted in any rolling 60 s.',
    '',
    '| algorithm | admitted at the edge (2 ms) | flood: most in any 60 s |',
    '|---|---:|---:|',
  ];
  for (const algorithm of ALGORITHMS)
    lines.push(`| ${algorithm} | ${edgeBurst(algorithm)} | ${floodMaximum(algorithm)} |`);
  return lines;
}

// ---- 4. accuracy --------------------------------------------------------------------------

const TRACE_SOURCES = 1_000;
const TRACE_MS = 10 * 60_000;
const TRACE_LIMIT = 60;

/**
 * Every source's requests. Bursty: on/off bursts (mean 5 s on, 15 s off), Poisson inside a burst.
 * Steady: Poisson at the same mean rate, no bursts. Rates come from a Pareto tail (α = 1.2): most
 * sources are light, a few abusive.
 */
function traceOf(random: () => number, bursty: boolean): { time: number; source: number }[] {
  const events: { time: number; source: number }[] = [];
  const exponential = (meanMs: number) => -Math.log(1 - random()) * meanMs;
  const end = T0 + TRACE_MS;
  for (let source = 0; source < TRACE_SOURCES; source++) {
    const burstRatePerSecond = Math.min(50, 0.4 / (1 - random()) ** (1 / 1.2));
    if (!bursty) {
      // The same mean: bursts are on a quarter of the time.
      for (
        let time = T0 + exponential(4_000 / burstRatePerSecond);
        time < end;
        time += exponential(4_000 / burstRatePerSecond)
      ) {
        events.push({ time: Math.floor(time), source });
      }
      continue;
    }
    let time = T0 + exponential(15_000);
    while (time < end) {
      const burstEnd = time + exponential(5_000);
      while (time < burstEnd && time < end) {
        events.push({ time: Math.floor(time), source });
        time += exponential(1_000 / burstRatePerSecond);
      }
      time = burstEnd + exponential(15_000);
    }
  }
  return events.sort((a, b) => a.time - b.time);
}

interface Judgement {
  admitted: number;
  wronglyAdmitted: number;
  /** Admitted although the window already held more than 110 % of the limit. */
  badlyAdmitted: number;
  wronglyRefused: number;
  /** Refused although at least 10 % of the quota was free. */
  badlyRefused: number;
}

function judge(algorithm: Algorithm, trace: { time: number; source: number }[]): Judgement {
  const limiter = new MemoryLimiter(
    { algorithm, limit: TRACE_LIMIT, windowMs: 60_000 },
    { name: 'trace', store: new MemoryStore({ maxKeys: 10_000 }) },
  );
  const logs = Array.from({ length: TRACE_SOURCES }, () => ({ times: [] as number[], head: 0 }));
  const judgement: Judgement = {
    admitted: 0,
    wronglyAdmitted: 0,
    badlyAdmitted: 0,
    wronglyRefused: 0,
    badlyRefused: 0,
  };
  for (const { time, source } of trace) {
    const log = logs[source]!;
    while (log.head < log.times.length && log.times[log.head]! <= time - 60_000) log.head++;
    const inWindow = log.times.length - log.head;
    const allowed = limiter.limitNow(String(source), { now: time }).allowed;
    if (allowed) {
      judgement.admitted++;
      log.times.push(time);
      if (inWindow + 1 > TRACE_LIMIT) judgement.wronglyAdmitted++;
      if (inWindow + 1 > TRACE_LIMIT * 1.1) judgement.badlyAdmitted++;
    } else {
      if (inWindow + 1 <= TRACE_LIMIT) judgement.wronglyRefused++;
      if (inWindow + 1 <= TRACE_LIMIT * 0.9) judgement.badlyRefused++;
    }
  }
  return judgement;
}

function accuracy(bursty: boolean): string[] {
  const trace = traceOf(seededRandom(TRACE_SEED), bursty);
  const percent = (count: number) => `${format((count / trace.length) * 100, 3)} %`;
  const lines = [
    `## Accuracy on a ${bursty ? 'bursty' : 'steady'} trace (limit ${TRACE_LIMIT} per minute per source)`,
    '',
    bursty
      ? `${format(TRACE_SOURCES)} sources over ${TRACE_MS / 60_000} minutes, ${format(trace.length)} requests (seed ${TRACE_SEED}): ` +
        'each source sends bursts (mean 5 s, Poisson inside) separated by pauses (mean 15 s), at a rate drawn from a Pareto tail ' +
        '(most sources light, a few abusive). Every decision is judged against an exact sliding log of what that algorithm had ' +
        'admitted: **wrongly admitted** = admitted although the last 60 s already held 60; **wrongly refused** = refused although ' +
        'they held fewer. Percentages are of all requests; most errors are sources far over their limit, admitted or refused a ' +
        'request early or late, hence the columns of errors by more than 10 % of the quota.'
      : `The same sources at the same mean rates, but each a steady Poisson stream (no bursts): ${format(trace.length)} requests. ` +
        'Judged the same way.',
    '',
    '| algorithm | admitted | wrongly admitted | of which beyond 110 % of the limit | wrongly refused | of which with ≥ 10 % of the quota free |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const algorithm of ALGORITHMS) {
    const judgement = judge(algorithm, trace);
    const cells = [
      judgement.wronglyAdmitted,
      judgement.badlyAdmitted,
      judgement.wronglyRefused,
      judgement.badlyRefused,
    ];
    lines.push(`| ${algorithm} | ${percent(judgement.admitted)} | ${cells.map(percent).join(' | ')} |`);
  }
  return lines;
}

// ---- report -------------------------------------------------------------------------------

async function connectOrSkip(): Promise<Redis | undefined> {
  const redis = new Redis(REDIS_URL, {
    enableAutoPipelining: true,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return redis;
  } catch {
    redis.disconnect();
    process.stderr.write(`Redis at ${REDIS_URL} does not answer: memory and Redis throughput are left out\n`);
    return undefined;
  }
}

async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

const redis = await connectOrSkip();
const prefix = `measure:${Date.now().toString(36)}:`;
const sections: string[][] = [];
try {
  if (redis) sections.push(await memoryPerKey(redis, prefix));
  sections.push(await throughput(redis, prefix));
  sections.push(bursts());
  sections.push(accuracy(true));
  sections.push(accuracy(false));
} finally {
  if (redis) {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
}
const server = redis ? ` against Redis ${REDIS_URL.replace(/\/\/[^@]*@/, '//')}` : '';
const header = [
  '# redis-limiters measurements',
  '',
  `Measured ${new Date().toISOString()} on Node ${process.version}, ${cpus()[0]?.model.trim() ?? 'unknown CPU'} ` +
    `(${availableParallelism()} cores)${server}, by \`pnpm --filter @sysdesign/redis-limiters measure\`.`,
];
const markdown = `${[header, ...sections].map((section) => section.join('\n')).join('\n\n')}\n`;
await mkdir(dirname(RESULTS_PATH), { recursive: true });
await writeFile(RESULTS_PATH, markdown);
process.stdout.write(markdown);
