import type { LimitResult } from './result.js';

/**
 * A short local memory of keys Redis just refused, so a flood of requests from a client that is
 * already over its limit is answered here instead of reaching Redis. It is exact, not a guess:
 * the scripts never change state on a refusal, and other instances' admissions only push the
 * retry time later, so a request of at least the refused cost cannot pass before the remembered
 * retry time. What it cannot see is a `reset()` on another instance or a policy change, hence
 * the short `maxTtlMs`.
 */

export interface OverLimitCacheOptions {
  /** Keys remembered at most; the oldest is forgotten first. Default 10,000. */
  maxKeys?: number;
  /** The longest a refusal is remembered. Default 1,000 ms. */
  maxTtlMs?: number;
}

export const DEFAULT_CACHE_MAX_KEYS = 10_000;
export const DEFAULT_CACHE_MAX_TTL_MS = 1_000;

interface Refusal {
  cost: number;
  untilMs: number;
  retryAtMs: number;
  resetAtMs: number;
  limit: number;
  remaining: number;
}

export class OverLimitCache {
  private readonly refusals = new Map<string, Refusal>();
  private readonly maxKeys: number;
  private readonly maxTtlMs: number;
  /** A live iterator over the map, for eviction in O(1) (see MemoryStore for why not `keys().next()`). */
  private cursor: Iterator<string> | undefined;

  constructor(options: OverLimitCacheOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_CACHE_MAX_KEYS;
    this.maxTtlMs = options.maxTtlMs ?? DEFAULT_CACHE_MAX_TTL_MS;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1 || this.maxKeys > 10_000_000) {
      throw new RangeError('overLimitCache.maxKeys must be a whole number from 1 to 10,000,000');
    }
    if (!Number.isInteger(this.maxTtlMs) || this.maxTtlMs < 1 || this.maxTtlMs > 60_000) {
      throw new RangeError('overLimitCache.maxTtlMs must be a whole number from 1 to 60,000');
    }
  }

  get size(): number {
    return this.refusals.size;
  }

  /** The remembered refusal for a request of `cost`, or undefined when Redis must be asked. */
  get(key: string, cost: number, nowMs: number): LimitResult | undefined {
    const refusal = this.refusals.get(key);
    if (refusal === undefined) return undefined;
    if (nowMs >= refusal.untilMs) {
      this.refusals.delete(key);
      return undefined;
    }
    // A cheaper request might fit sooner than the one that was refused.
    if (cost < refusal.cost) return undefined;
    return {
      allowed: false,
      limit: refusal.limit,
      remaining: refusal.remaining,
      resetAfterMs: Math.max(0, refusal.resetAtMs - nowMs),
      retryAfterMs: Math.max(1, refusal.retryAtMs - nowMs),
      delayMs: 0,
    };
  }

  remember(key: string, cost: number, result: LimitResult, nowMs: number): void {
    if (result.allowed || result.retryAfterMs <= 0) return;
    const refusal: Refusal = {
      cost,
      untilMs: nowMs + Math.min(result.retryAfterMs, this.maxTtlMs),
      retryAtMs: nowMs + result.retryAfterMs,
      resetAtMs: nowMs + result.resetAfterMs,
      limit: result.limit,
      remaining: result.remaining,
    };
    const existing = this.refusals.get(key);
    if (existing !== undefined) {
      Object.assign(existing, refusal);
      return;
    }
    if (this.refusals.size >= this.maxKeys) this.evictOne();
    this.refusals.set(key, refusal);
  }

  delete(key: string): void {
    this.refusals.delete(key);
  }

  private evictOne(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.cursor ??= this.refusals.keys();
      const step = this.cursor.next();
      if (!step.done) {
        this.refusals.delete(step.value);
        return;
      }
      this.cursor = undefined;
    }
  }
}
