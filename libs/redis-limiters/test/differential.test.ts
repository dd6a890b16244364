import {
  deleteRedisPrefix,
  describeWith,
  freshRedisPrefix,
  redisBackend,
  seededRandom,
} from '@sysdesign/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ALGORITHMS,
  type Algorithm,
  BURST_ALGORITHMS,
  type LimitResult,
  MemoryLimiter,
  type RateLimitPolicy,
  RedisLimiter,
} from '../src/index.js';
import { connect, SEMANTICS_TIMEOUT_MS, T0, uniqueName } from './helpers.js';

/**
 * The Lua scripts and their in-memory twins must be the same algorithm: both are driven through
 * one seeded random schedule of (time, key, cost) with explicit times, and every decision must be
 * identical, field by field. The schedule mixes bursts in one millisecond, small and large steps,
 * the odd clock step backwards, peeks (cost 0) and large costs.
 */

const STEPS_PER_POLICY = 600;
const POLICIES_PER_ALGORITHM = 3;
const KEYS = ['a', 'b', 'c'];
const WINDOWS_MS = [7, 50, 100, 250, 1_000, 60_000];

interface Step {
  now: number;
  key: string;
  cost: number;
}

function randomPolicy(algorithm: Algorithm, random: () => number): RateLimitPolicy {
  const limit = 1 + Math.floor(random() * 20);
  const windowMs = WINDOWS_MS[Math.floor(random() * WINDOWS_MS.length)]!;
  const policy: RateLimitPolicy = { algorithm, limit, windowMs };
  if (BURST_ALGORITHMS.includes(algorithm) && random() < 0.5) policy.burst = 1 + Math.floor(random() * 30);
  return policy;
}

/**
 * One policy's timeline. Steps average a quarter of the policy's spacing (windowMs / limit), so
 * each of the three keys runs a little over its limit; a quarter of the steps stay in the same
 * millisecond (bursts), 1 % jump up to two windows ahead and 2 % step back up to 5 ms.
 */
function schedule(random: () => number, policy: RateLimitPolicy): Step[] {
  const steps: Step[] = [];
  const spacingMs = policy.windowMs / policy.limit;
  const capacity = policy.burst ?? policy.limit;
  let now = T0 + Math.floor(random() * 100_000);
  for (let step = 0; step < STEPS_PER_POLICY; step++) {
    const roll = random();
    if (roll < 0.25) {
      // Same millisecond: a burst.
    } else if (roll < 0.97) now += Math.floor(random() * spacingMs * 0.66);
    else if (roll < 0.98) now += Math.floor(random() * policy.windowMs * 2);
    else now -= 1 + Math.floor(random() * 5);
    const costRoll = random();
    const cost = costRoll < 0.75 ? 1 : costRoll < 0.85 ? 0 : Math.floor(random() * (capacity + 1));
    steps.push({ now, key: KEYS[Math.floor(random() * KEYS.length)]!, cost });
  }
  return steps;
}

describeWith(await redisBackend(), 'Lua scripts against their in-memory twins', ({ url }) => {
  const prefix = freshRedisPrefix('limiter-differential');
  let redis: Redis;
  beforeAll(() => {
    redis = connect(url);
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteRedisPrefix(url, prefix);
  });

  it.each(ALGORITHMS.map((algorithm, index) => [algorithm, 20_240 + index] as const))(
    '%s: identical decisions over a random schedule (seed %i)',
    async (algorithm, seed) => {
      // Seeded, so a failure names a schedule that can be replayed step by step.
      const random = seededRandom(seed);
      const policies = Array.from({ length: POLICIES_PER_ALGORITHM }, () => randomPolicy(algorithm, random));
      let decisions = 0;
      let denied = 0;
      for (const policy of policies) {
        const name = uniqueName('diff');
        const lua = new RedisLimiter(redis, policy, {
          name,
          prefix,
          overLimitCache: false,
          timeoutMs: SEMANTICS_TIMEOUT_MS,
        });
        const twin = new MemoryLimiter(policy, { name });
        for (const [index, step] of schedule(random, policy).entries()) {
          const options = { now: step.now, cost: step.cost };
          const fromLua: LimitResult = await lua.limit(step.key, options);
          const fromTwin: LimitResult = await twin.limit(step.key, options);
          expect(fromLua, `step ${index} of ${JSON.stringify(policy)}: ${JSON.stringify(step)}`).toEqual(
            fromTwin,
          );
          decisions++;
          if (!fromLua.allowed) denied++;
        }
      }
      // The schedule must exercise refusals as well as admissions, or it proves little.
      expect(denied).toBeGreaterThan(decisions / 10);
      expect(denied).toBeLessThan(decisions * 0.9);
    },
  );
});
