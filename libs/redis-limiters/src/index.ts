/**
 * @sysdesign/redis-limiters: six rate-limiting algorithms as atomic Redis Lua scripts, each with
 * an in-memory twin of identical semantics, behind one call: `limiter.limit(key, { cost })`.
 * The Fastify plugin is at `@sysdesign/redis-limiters/fastify`. What is exported here is the
 * public API; the deciders, the scripts and the key layout are internal.
 */

export { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
export { type CreateLimiterOptions, createLimiter } from './create.js';
export {
  CostExceedsLimitError,
  InvalidArgumentError,
  InvalidPolicyError,
  LimiterError,
  LimiterErrorCode,
  LimiterUnavailableError,
  type UnavailableReason,
} from './errors.js';
export { HEADER_NAMES, type HeaderOptions, policyHeaderValue, writeRateLimitHeaders } from './headers.js';
export { DEFAULT_PREFIX, MAX_KEY_LENGTH } from './keys.js';
export { MemoryLimiter, type MemoryLimiterOptions } from './memory-limiter.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export type { OverLimitCacheOptions } from './over-limit-cache.js';
export {
  ALGORITHMS,
  type Algorithm,
  BURST_ALGORITHMS,
  MAX_LIMIT,
  MAX_WINDOW_MS,
  type NormalizedPolicy,
  normalizePolicy,
  type RateLimitPolicy,
  SLIDING_LOG_MAX_LIMIT,
} from './policy.js';
export {
  DEFAULT_TIMEOUT_MS,
  type LimiterEvents,
  type RedisClient,
  RedisLimiter,
  type RedisLimiterOptions,
} from './redis-limiter.js';
export type { Limiter, LimitOptions, LimitResult } from './result.js';
