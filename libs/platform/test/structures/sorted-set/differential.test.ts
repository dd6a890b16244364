import {
  deleteRedisPrefix,
  describeWith,
  freshRedisPrefix,
  redisBackend,
  seededRandom,
} from '@sysdesign/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  MemorySortedSetStore,
  RedisSortedSetStore,
  type ScoreBound,
  SortedSetError,
  type SortedSetStore,
  type ZAddOptions,
} from '../../../src/index.js';

/**
 * The twin and Redis are the same keyspace: one seeded random schedule of every command and flag
 * runs against both, and every reply (or refusal code) must be identical, as must every key's whole
 * contents at the end. The pools are small on purpose, so that ties, updates, emptied keys and
 * infinities come up often: scores in -3..3 with halves, -0, +-inf and values near 2^53 and the
 * largest double; members that sort differently by UTF-16 units and by UTF-8 bytes.
 */

const STEPS_PER_SEED = 4_000;
const SEEDS = [11, 2_024, 77_777];
const KEYS = ['k1', 'k2', 'ключ'];
const MEMBERS = [
  '',
  'a',
  'A',
  'ab',
  'abc',
  'b',
  '10',
  '9',
  'a\u0000b',
  '\u00e9',
  '\u00ff',
  '\u07ff',
  '\u0800',
  '\uff61',
  '\ufffd',
  '\ud83d\ude00',
  '\ud83d\ude00x',
  '\u{10ffff}',
  'ключ',
  '日本',
  'x'.repeat(70),
];
const SCORES = [
  -3,
  -2,
  -1,
  -0.5,
  0,
  -0,
  0.5,
  1,
  2,
  3,
  1e-300,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

/** Increments lean on the infinities, so that +inf + -inf (a NaN, refused) comes up in every schedule. */
const INCREMENTS = [...SCORES, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];

type Reply = { ok: unknown } | { error: string };
type Operation = { name: string; run: (store: SortedSetStore) => Promise<unknown> };

function pick<Item>(random: () => number, items: readonly Item[]): Item {
  return items[Math.floor(random() * items.length)]!;
}

function integer(random: () => number, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

function bound(random: () => number): ScoreBound {
  const value = random() < 0.1 ? Number.NaN : pick(random, SCORES);
  return random() < 0.3 ? { value, exclusive: true } : value;
}

function zaddOptions(random: () => number): ZAddOptions {
  // Mostly valid combinations; a few that Redis refuses (NX with XX, GT with LT, NX with GT).
  const options: ZAddOptions = {};
  const roll = random();
  if (roll < 0.15) options.nx = true;
  else if (roll < 0.3) options.xx = true;
  const comparison = random();
  if (!options.nx && comparison < 0.15) options.gt = true;
  else if (!options.nx && comparison < 0.3) options.lt = true;
  if (random() < 0.3) options.ch = true;
  if (random() < 0.03)
    Object.assign(
      options,
      pick(random, [
        { nx: true, xx: true },
        { gt: true, lt: true },
        { nx: true, gt: true },
      ]),
    );
  return options;
}

/**
 * Redis keeps a set of up to 128 members as a listpack and a larger one as a skip list: the large
 * pool makes sets pass that line, so both of Redis's encodings are compared with the twin.
 */
const LARGE_MEMBERS = [
  ...MEMBERS,
  ...Array.from({ length: 400 }, (_, index) => `m${index}\u00e9${index % 7}`),
];

function randomOperation(random: () => number, pool: readonly string[]): Operation {
  const key = pick(random, KEYS);
  const member = pick(random, pool);
  const members = Array.from({ length: integer(random, 1, 4) }, () => pick(random, pool));
  const rev = random() < 0.5;
  const roll = random();
  if (roll < 0.3) {
    const added =
      roll < 0.1 ? Array.from({ length: integer(random, 5, 40) }, () => pick(random, pool)) : members;
    const entries = added.map((entryMember) => ({
      member: entryMember,
      score: random() < 0.02 ? Number.NaN : pick(random, SCORES),
    }));
    const options = zaddOptions(random);
    return {
      name: `zadd ${key} ${JSON.stringify(entries)} ${JSON.stringify(options)}`,
      run: (store) => store.zadd(key, entries, options),
    };
  }
  if (roll < 0.38) {
    const increment = pick(random, INCREMENTS);
    const options = zaddOptions(random);
    return {
      name: `zaddIncr ${key} ${member} ${increment} ${JSON.stringify(options)}`,
      run: (store) => store.zaddIncr(key, member, increment, options),
    };
  }
  if (roll < 0.44) {
    const increment = pick(random, INCREMENTS);
    return {
      name: `zincrby ${key} ${increment} ${member}`,
      run: (store) => store.zincrby(key, increment, member),
    };
  }
  if (roll < 0.5) return { name: `zrem ${key} ${members}`, run: (store) => store.zrem(key, members) };
  if (roll < 0.54) return { name: `zscore ${key} ${member}`, run: (store) => store.zscore(key, member) };
  if (roll < 0.57) return { name: `zmscore ${key} ${members}`, run: (store) => store.zmscore(key, members) };
  if (roll < 0.62)
    return { name: `zrank ${key} ${member} ${rev}`, run: (store) => store.zrank(key, member, rev) };
  if (roll < 0.66) {
    return {
      name: `zrankWithScore ${key} ${member} ${rev}`,
      run: (store) => store.zrankWithScore(key, member, rev),
    };
  }
  if (roll < 0.73) {
    const start = integer(random, -25, 25);
    const stop = integer(random, -25, 25);
    return {
      name: `zrange ${key} ${start} ${stop} ${rev}`,
      run: (store) => store.zrange(key, start, stop, { rev }),
    };
  }
  if (roll < 0.82) {
    const min = bound(random);
    const max = bound(random);
    const limit =
      random() < 0.5 ? { offset: integer(random, -2, 8), count: integer(random, -2, 8) } : undefined;
    const options = limit ? { rev, limit } : { rev };
    return {
      name: `zrangeByScore ${key} ${JSON.stringify([min, max, options])}`,
      run: (store) => store.zrangeByScore(key, min, max, options),
    };
  }
  if (roll < 0.85) {
    const start = integer(random, -25, 25);
    const stop = integer(random, -25, 25);
    return {
      name: `zremRangeByRank ${key} ${start} ${stop}`,
      run: (store) => store.zremRangeByRank(key, start, stop),
    };
  }
  if (roll < 0.88) {
    const min = bound(random);
    const max = bound(random);
    return {
      name: `zremRangeByScore ${key} ${JSON.stringify([min, max])}`,
      run: (store) => store.zremRangeByScore(key, min, max),
    };
  }
  if (roll < 0.91) return { name: `zcard ${key}`, run: (store) => store.zcard(key) };
  if (roll < 0.95) {
    const min = bound(random);
    const max = bound(random);
    return {
      name: `zcount ${key} ${JSON.stringify([min, max])}`,
      run: (store) => store.zcount(key, min, max),
    };
  }
  if (roll < 0.97) {
    const count = integer(random, 0, pool.length);
    const order = random() < 0.5 ? 'highest' : 'lowest';
    return { name: `keepTop ${key} ${count} ${order}`, run: (store) => store.keepTop(key, count, order) };
  }
  return { name: `del ${key}`, run: (store) => store.del(key) };
}

async function replyOf(store: SortedSetStore, operation: Operation): Promise<Reply> {
  try {
    return { ok: await operation.run(store) };
  } catch (error) {
    if (error instanceof SortedSetError) return { error: error.code };
    throw error;
  }
}

describeWith(await redisBackend(), 'sorted-set twin against Redis', ({ url }) => {
  const prefix = freshRedisPrefix('zset-differential');
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteRedisPrefix(url, prefix);
  });

  const schedules = SEEDS.flatMap((seed) => [
    { seed, pool: 'small', members: MEMBERS },
    { seed, pool: 'large', members: LARGE_MEMBERS },
  ]);
  it.each(schedules)(
    'answers every command as Redis does (seed $seed, $pool member pool)',
    async ({ seed, pool, members }) => {
      const random = seededRandom(seed);
      const twin = new MemorySortedSetStore({ random: seededRandom(seed + 1) });
      const real = new RedisSortedSetStore(redis, { prefix: `${prefix}${seed}:${pool}:` });
      const seen = new Map<string, number>();
      let largest = 0;
      for (let step = 0; step < STEPS_PER_SEED; step++) {
        const operation = randomOperation(random, members);
        const fromRedis = await replyOf(real, operation);
        const fromTwin = await replyOf(twin, operation);
        expect(fromTwin, `seed ${seed} step ${step}: ${operation.name}`).toEqual(fromRedis);
        for (const key of KEYS) largest = Math.max(largest, twin.keyspace.zcard(key));
        const kind = 'error' in fromRedis ? `error ${fromRedis.error}` : operation.name.split(' ')[0]!;
        seen.set(kind, (seen.get(kind) ?? 0) + 1);
      }
      for (const key of KEYS) {
        expect(await twin.zrange(key, 0, -1), `final contents of ${key}`).toEqual(
          await real.zrange(key, 0, -1),
        );
      }
      if (pool === 'large') expect(largest, 'a set in Redis skip-list encoding').toBeGreaterThan(128);
      // The schedule must reach the refusals and the emptied keys, or it proves less than it claims.
      const refusals = ['error ZSET_ERR_NOT_A_FLOAT', 'error ZSET_ERR_INVALID_OPTIONS'];
      // A NaN sum needs a member at +-inf incremented by the other infinity: the small pool's repeats.
      if (pool === 'small') refusals.push('error ZSET_ERR_NAN_RESULT');
      for (const kind of refusals) {
        expect(seen.get(kind) ?? 0, `${kind} in ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
      }
    },
  );
});

describeWith(await redisBackend(), 'ZADD flag combinations, refused as Redis refuses them', ({ url }) => {
  const prefix = freshRedisPrefix('zset-flags');
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteRedisPrefix(url, prefix);
  });

  const FLAGS = ['nx', 'xx', 'gt', 'lt', 'ch'] as const;
  const combinations = Array.from({ length: 2 ** FLAGS.length }, (_, bits) =>
    FLAGS.filter((_, index) => bits & (1 << index)),
  );

  it.each(
    combinations.flatMap((flags) => [
      { flags, incr: false },
      { flags, incr: true },
    ]),
  )('the twin refuses ZADD $flags (INCR $incr) exactly when Redis does', async ({ flags, incr }) => {
    // Raw ZADD straight to Redis (no port checks) against the twin, for all 32 flag sets x INCR.
    const key = `${prefix}${flags.join('-')}:${incr}`;
    const raw = redis.call(
      'zadd',
      key,
      ...flags.map((flag) => flag.toUpperCase()),
      ...(incr ? ['INCR'] : []),
      '1',
      'm',
    );
    const redisRefused = await raw.then(
      () => false,
      () => true,
    );
    const options = Object.fromEntries(flags.map((flag) => [flag, true])) as ZAddOptions;
    const twin = new MemorySortedSetStore();
    const fromTwin = incr
      ? twin.zaddIncr('k', 'm', 1, options)
      : twin.zadd('k', [{ member: 'm', score: 1 }], options);
    const twinRefused = await fromTwin.then(
      () => false,
      (error: SortedSetError) => error.code === 'ZSET_ERR_INVALID_OPTIONS',
    );
    expect(twinRefused).toBe(redisRefused);
  });
});
