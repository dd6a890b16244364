/**
 * The limiter library against `rate-limiter-flexible`'s RateLimiterRedis (a fixed window that starts at
 * a key's first hit): Redis decisions per second with 64 decisions in flight on one ioredis connection
 * each, Redis's own time per decision (INFO commandstats), and exactness: 150 concurrent calls at a limit
 * of 100 must admit exactly 100.
 */
import { type Algorithm, RedisLimiter } from '@sysdesign/redis-limiters';
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { PeerContext, PeerDesign, PeerDesignResult } from '../design.js';
import { alternateRounds, formatRatio, formatSpread, spreadOf } from '../rounds.js';

const IN_FLIGHT = 64;
const IDENTITIES = 10_000;
const LIMIT = 100;
const WINDOW_MS = 1_000;
const EXACT_LIMIT = 100;
const EXACT_CALLS = 150;
const PEER_NAME = 'rate-limiter-flexible RateLimiterRedis';

/** One decision: true when admitted. */
type Decide = (key: string) => Promise<boolean>;

interface Contender {
  name: string;
  /** A limiter of `limit` per `windowMs` whose keys start with `prefix`. */
  make(redis: Redis, prefix: string, limit: number, windowMs: number): Decide;
}

function ours(algorithm: Algorithm): Contender {
  return {
    name: `ours ${algorithm}`,
    make(redis, prefix, limit, windowMs) {
      // No local cache of refused keys (the peer has none by default): every decision reaches Redis.
      const limiter = new RedisLimiter(
        redis,
        { algorithm, limit, windowMs },
        { name: 'peers', prefix, overLimitCache: false, timeoutMs: 10_000 },
      );
      return async (key) => (await limiter.limit(key)).allowed;
    },
  };
}

const PEER: Contender = {
  name: PEER_NAME,
  make(redis, prefix, limit, windowMs) {
    const limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: prefix,
      points: limit,
      duration: windowMs / 1_000,
    });
    return async (key) => {
      try {
        await limiter.consume(key);
        return true;
      } catch (refusal) {
        // A refusal rejects with the limiter's result; anything else is a failure of the run.
        if (refusal instanceof RateLimiterRes) return false;
        throw refusal;
      }
    };
  },
};

const CONTENDERS: Contender[] = [
  ours('token_bucket'),
  ours('sliding_window_counter'),
  ours('fixed_window'),
  PEER,
];

interface ServerTime {
  microsPerDecision: number;
  /** The commands run per decision, by name (hmget 1.00, ...). */
  commands: string;
}

/** INFO commandstats by command, without the bench's own INFO and CONFIG calls. */
async function commandStats(admin: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  const info = await admin.info('commandstats');
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    const command = match[1]!;
    if (command === 'info' || command.startsWith('config')) continue;
    stats.set(command, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall']);

/**
 * Redis counts the commands a script runs on their own lines as well as inside the script's time, so
 * the time per decision is the scripts' time alone (both sides decide in one script), or every
 * command's when no script ran.
 */
function serverTime(stats: Map<string, { calls: number; usec: number }>, decisions: number): ServerTime {
  let scriptUsec = 0;
  let otherUsec = 0;
  const commands: string[] = [];
  for (const [command, stat] of stats) {
    if (SCRIPT_COMMANDS.has(command)) scriptUsec += stat.usec;
    else {
      otherUsec += stat.usec;
      commands.push(`${command} ${(stat.calls / decisions).toFixed(2)}`);
    }
  }
  const usec = scriptUsec > 0 ? scriptUsec : otherUsec;
  return { microsPerDecision: usec / decisions, commands: commands.sort().join(', ') };
}

/** Decisions per second from IN_FLIGHT loops over random identities, for `durationMs`. */
async function throughput(decide: Decide, durationMs: number, round: number): Promise<number> {
  let decisions = 0;
  const deadline = performance.now() + durationMs;
  let seed = round * 7_919 + 1;
  const loop = async () => {
    while (performance.now() < deadline) {
      // A small linear congruential generator: the same key sequence for every contender of a round.
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      await decide(`user:${seed % IDENTITIES}`);
      decisions++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  return decisions / ((performance.now() - started) / 1_000);
}

async function exactness(contender: Contender, redis: Redis, prefix: string): Promise<number> {
  const decide = contender.make(redis, `${prefix}exact:`, EXACT_LIMIT, 60_000);
  const decisions = await Promise.all(Array.from({ length: EXACT_CALLS }, () => decide('one-key')));
  return decisions.filter(Boolean).length;
}

async function run(context: PeerContext): Promise<PeerDesignResult> {
  const redisUrl = context.redisUrl;
  if (redisUrl === undefined) throw new Error('redis-limiters needs a Redis');
  const durationMs = context.smoke ? 300 : 3_000;
  const runId = `peers:${Date.now().toString(36)}:`;
  // One connection per contender, created alike; plus one for the bench's INFO and CONFIG.
  const clients = new Map(CONTENDERS.map((contender) => [contender.name, new Redis(redisUrl)]));
  const admin = new Redis(redisUrl);
  const serverTimes = new Map<string, ServerTime[]>(CONTENDERS.map((contender) => [contender.name, []]));
  const clientMicros = new Map<string, number[]>(CONTENDERS.map((contender) => [contender.name, []]));
  try {
    const deciders = new Map(
      CONTENDERS.map((contender, index) => [
        contender.name,
        contender.make(clients.get(contender.name)!, `${runId}${index}:`, LIMIT, WINDOW_MS),
      ]),
    );
    // Warm: scripts loaded, connections open, JIT compiled.
    for (const contender of CONTENDERS) await throughput(deciders.get(contender.name)!, 200, 0);
    const rates = await alternateRounds(
      CONTENDERS.map((contender) => contender.name),
      context.rounds,
      async (name, round) => {
        await admin.config('RESETSTAT');
        const started = performance.now();
        const cpuBefore = process.cpuUsage();
        const perSecond = await throughput(deciders.get(name)!, durationMs, round);
        const cpu = process.cpuUsage(cpuBefore);
        const decisions = (perSecond * (performance.now() - started)) / 1_000;
        clientMicros.get(name)!.push((cpu.user + cpu.system) / decisions);
        serverTimes.get(name)!.push(serverTime(await commandStats(admin), decisions));
        return perSecond;
      },
      context.log,
    );
    const exact = new Map<string, number>();
    for (const [index, contender] of CONTENDERS.entries()) {
      exact.set(
        contender.name,
        await exactness(contender, clients.get(contender.name)!, `${runId}${index}:`),
      );
    }
    const peerRate = rates.get(PEER_NAME)!;
    const rows = CONTENDERS.map((contender) => {
      const rate = rates.get(contender.name)!;
      const times = serverTimes.get(contender.name)!;
      const micros = times.map((time) => time.microsPerDecision);
      const allowed = exact.get(contender.name)!;
      return [
        contender.name,
        formatSpread(rate),
        contender === PEER ? '-' : formatRatio(rate.median, peerRate.median),
        formatSpread(spreadOf(micros), (value) => value.toFixed(1)),
        formatSpread(spreadOf(clientMicros.get(contender.name)!), (value) => value.toFixed(1)),
        times.at(-1)!.commands,
        `${allowed} of ${EXACT_CALLS}${allowed === EXACT_LIMIT ? '' : ' (not exact)'}`,
      ];
    });
    await deleteKeys(admin, runId);
    return {
      settings: [
        `Redis at ${redisUrl.startsWith('redis://127.0.0.1') ? 'a private redis-server on loopback (only this bench counted in its commandstats)' : 'the shared REDIS_URL (commandstats include other clients)'}; each contender its own ioredis 5 connection, default options (no auto-pipelining).`,
        `${IN_FLIGHT} decisions in flight, ${IDENTITIES.toLocaleString('en-US')} identities drawn alike for every contender, limit ${LIMIT} per ${WINDOW_MS / 1_000} s, ${durationMs / 1_000} s per sample. Ours with the over-limit cache off, so every decision reaches Redis as the peer's do.`,
        "Server µs/decision: the `usec` of the script calls (EVALSHA) in INFO commandstats, reset before each sample, divided by the decisions: Redis's own time for the whole script, without the network. The commands each script runs are listed beside it (Redis counts them on their own lines as well). Client CPU µs/decision: this process's CPU time (user + system, ioredis's socket work included) per decision.",
      ],
      tables: [
        {
          title: 'Decisions per second, server time, exactness',
          intro: `**exactness**: ${EXACT_CALLS} concurrent calls on one key at a limit of ${EXACT_LIMIT} per minute; exactly ${EXACT_LIMIT} must be admitted.`,
          header: [
            'limiter',
            'decisions/s',
            'ours ÷ peer',
            'server µs/decision',
            'client CPU µs/decision',
            'Redis commands per decision (inside the script)',
            'exactness',
          ],
          rows,
        },
      ],
    };
  } finally {
    for (const client of clients.values()) client.disconnect();
    admin.disconnect();
  }
}

/** Removes this run's keys (SCAN, never KEYS or FLUSHALL: the Redis may be shared). */
async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export const redisLimitersPeers: PeerDesign = {
  name: 'redis-limiters',
  peers: ['rate-limiter-flexible'],
  needsRedis: true,
  run,
  findings: [
    "The rate is Redis-bound on both sides: a CPU profile of this bench process shows it idle 51-64 % of the time, waiting for replies, so Redis's time per script sets the pace.",
    "Redis time: the peer's one script (`rlflxIncr`) runs SET NX EX, INCRBY and PTTL on a string key and answers two integers. Ours run TIME, HMGET, HSET and PEXPIREAT on a hash, after checking five arguments in Lua (`commands/includes/arguments.lua`), and answer six integers. That is the whole difference in Redis's work per decision (more than twice the peer's time); what each part costs is for the gap work to measure, one change at a time.",
    "The peer needs no TIME because its window starts at a key's first hit and ends when Redis expires the key: it never reads a clock. Ours read the server clock so that every instance agrees on window boundaries and bucket refills, whatever their own clocks say; a window aligned on the clock has to know the time.",
    'Client: ours arms a setTimeout and a Promise.race per decision (the timeout that feeds the circuit breaker) and validates the cost and key; the peer sends its EVALSHA with nothing around it (timeouts are a separate wrapper, `RLWrapperTimeouts`). The client CPU column shows what that costs per decision.',
  ],
};
