import { Redis } from 'ioredis';
import { type Limiter, MemoryLimiter, type RateLimitPolicy, RedisLimiter } from '../src/index.js';

/**
 * The start of a test timeline: a day ahead of the real clock (keys expire on the decision's
 * clock, so a replayed timeline must run ahead of the Redis server's), aligned on a whole hour so
 * window edges fall at T0 + k × windowMs for every window the tests use.
 */
const HOUR_MS = 3_600_000;
export const T0 = Math.ceil((Date.now() + 24 * HOUR_MS) / HOUR_MS) * HOUR_MS;

/** Makes limiters of one backend; each call gets a fresh name, so tests never share counters. */
export interface LimiterBackend {
  label: string;
  make(policy: RateLimitPolicy): Limiter;
}

/** Tests of semantics must not fail because a loaded machine answered slowly: latency has its own tests. */
export const SEMANTICS_TIMEOUT_MS = 10_000;

let sequence = 0;
export function uniqueName(label = 'limiter'): string {
  sequence++;
  return `${label}${sequence}`;
}

export function memoryLimiters(): LimiterBackend {
  return { label: 'memory', make: (policy) => new MemoryLimiter(policy, { name: uniqueName() }) };
}

export function redisLimiters(redis: Redis, prefix: string): LimiterBackend {
  return {
    label: 'redis',
    make: (policy) =>
      new RedisLimiter(redis, policy, {
        name: uniqueName(),
        prefix,
        overLimitCache: false,
        timeoutMs: SEMANTICS_TIMEOUT_MS,
      }),
  };
}

export function connect(url: string): Redis {
  const redis = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  return redis;
}

/** Runs `count` decisions at one time, one after another, and returns how many were admitted. */
export async function admitted(
  limiter: Limiter,
  key: string,
  count: number,
  now: number,
  cost = 1,
): Promise<number> {
  let admittedCount = 0;
  for (let request = 0; request < count; request++) {
    if ((await limiter.limit(key, { now, cost })).allowed) admittedCount++;
  }
  return admittedCount;
}
