import { MemoryLimiter, type MemoryLimiterOptions } from './memory-limiter.js';
import type { RateLimitPolicy } from './policy.js';
import { type RedisClient, RedisLimiter, type RedisLimiterOptions } from './redis-limiter.js';

export type CreateLimiterOptions = RedisLimiterOptions &
  Omit<MemoryLimiterOptions, 'clock'> & {
    /** Shared Redis; without it the limiter is in-memory (one process). */
    redis?: RedisClient;
  };

/** A Redis-backed limiter when a client is given, else its in-memory twin. */
export function createLimiter(
  policy: RateLimitPolicy,
  options: CreateLimiterOptions,
): RedisLimiter | MemoryLimiter {
  const { redis, store, ...rest } = options;
  if (redis !== undefined) return new RedisLimiter(redis, policy, rest);
  return new MemoryLimiter(policy, {
    name: options.name,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    ...(store === undefined ? {} : { store }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}
