import { type AlgorithmState, DECIDERS, type Decide } from './algorithms/index.js';
import { checkKeyPart, checkLimiterOptions, DEFAULT_PREFIX, keyBase, limiterKey } from './keys.js';
import { MemoryStore } from './memory-store.js';
import {
  checkCost,
  checkNow,
  type NormalizedPolicy,
  normalizePolicy,
  type RateLimitPolicy,
} from './policy.js';
import type { Limiter, LimitOptions, LimitResult } from './result.js';

/**
 * The in-memory twin of `RedisLimiter`: the same algorithms (the pure functions the Lua scripts
 * mirror), the same key layout, in one process. For a single instance, for tests, and as the
 * embedded default of services. Never fails and never waits.
 */

export interface MemoryLimiterOptions {
  /** Names the limiter in keys (and headers); limiters with the same name and algorithm share counters. */
  name: string;
  prefix?: string;
  /** Shared by limiters that must see the same counters; default: a store of its own. */
  store?: MemoryStore;
  /** Milliseconds since the epoch. Default `Date.now`. */
  clock?: () => number;
}

export class MemoryLimiter implements Limiter {
  readonly policy: NormalizedPolicy;
  readonly name: string;
  private readonly base: string;
  private readonly store: MemoryStore;
  private readonly clock: () => number;
  private readonly decide: Decide<AlgorithmState>;

  constructor(policy: RateLimitPolicy, options: MemoryLimiterOptions) {
    checkLimiterOptions('MemoryLimiter', options);
    this.policy = normalizePolicy(policy);
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    checkKeyPart('name', options.name);
    checkKeyPart('prefix', prefix);
    this.name = options.name;
    this.base = keyBase(prefix, options.name, this.policy.algorithm);
    this.store = options.store ?? new MemoryStore();
    this.clock = options.clock ?? Date.now;
    this.decide = DECIDERS[this.policy.algorithm];
  }

  async limit(key: string, options: LimitOptions = {}): Promise<LimitResult> {
    return this.limitNow(key, options);
  }

  /** The same decision without a promise, for callers on a hot path. */
  limitNow(key: string, options: LimitOptions = {}): LimitResult {
    const cost = checkCost(options.cost ?? 1, this.policy);
    const nowMs = options.now === undefined ? this.clock() : checkNow(options.now);
    const storeKey = limiterKey(this.base, key);
    const outcome = this.decide(this.store.get(storeKey), nowMs, cost, this.policy);
    if (outcome.state !== undefined) this.store.set(storeKey, outcome.state, nowMs, outcome.expiresAtMs);
    return outcome.result;
  }

  async reset(key: string): Promise<void> {
    this.store.delete(limiterKey(this.base, key));
  }
}
