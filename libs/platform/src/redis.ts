import { Redis, type RedisOptions } from 'ioredis';

/**
 * The Redis client every Redis-backed part uses, made from `REDIS_URL`. Code that needs Redis
 * defines its own narrow port (a `ScoreStore`, a limiter) with a Redis adapter and an in-memory
 * twin; this only makes the connection.
 *
 * Commands fail fast while Redis is down (one retry, a bounded offline queue) instead of queueing
 * without limit, so callers can fail open or closed and readiness reports the outage.
 */

export interface RedisConnectionOptions {
  url: string;
  /** Prepended to every key, including the KEYS of Lua scripts. */
  keyPrefix?: string;
  connectionName?: string;
  commandTimeoutMs?: number;
  maxRetriesPerRequest?: number;
}

export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000;

export async function createRedis(options: RedisConnectionOptions): Promise<Redis> {
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    keyPrefix: options.keyPrefix ?? '',
    connectionName: options.connectionName ?? 'sysdesign',
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
    enableAutoPipelining: true,
    // Reconnect with capped backoff forever: Redis coming back should heal the service.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
  };
  const redis = new Redis(options.url, redisOptions);
  // Without a listener ioredis logs unhandled errors; the readiness check reports the outage.
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

export async function pingRedis(redis: Redis): Promise<void> {
  const answer = await redis.ping();
  if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
}
