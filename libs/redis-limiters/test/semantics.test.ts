import { deleteRedisPrefix, describeWith, freshRedisPrefix, redisBackend } from '@sysdesign/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALGORITHMS, CostExceedsLimitError } from '../src/index.js';
import { admitted, connect, type LimiterBackend, memoryLimiters, redisLimiters, T0 } from './helpers.js';

/**
 * Each algorithm at its edges (burst, refill, window boundary), on both backends: the same
 * suite runs against the in-memory twins and the Lua scripts, with explicit decision times.
 */
function semantics(backend: () => LimiterBackend) {
  describe('token bucket', () => {
    const policy = { algorithm: 'token_bucket', limit: 10, windowMs: 1_000 } as const;

    it('admits a burst of the bucket size at once, then refuses until one token has refilled', async () => {
      // 10 tokens refill at 1 per 100 ms: the 11th request must wait exactly 100 ms.
      const limiter = backend().make(policy);
      expect(await admitted(limiter, 'k', 10, T0)).toBe(10);
      expect(await limiter.limit('k', { now: T0 })).toEqual({
        allowed: false,
        limit: 10,
        remaining: 0,
        resetAfterMs: 1_000,
        retryAfterMs: 100,
        delayMs: 0,
      });
      expect((await limiter.limit('k', { now: T0 + 99 })).retryAfterMs).toBe(1);
      expect(await limiter.limit('k', { now: T0 + 100 })).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('refills up to the bucket size and no further', async () => {
      // After a long idle period the bucket holds `burst` tokens, not more.
      const limiter = backend().make(policy);
      await admitted(limiter, 'k', 10, T0);
      expect(await admitted(limiter, 'k', 15, T0 + 60_000)).toBe(10);
    });

    it('lets burst differ from the rate: 20 at once, then 1 per 100 ms', async () => {
      // burst is the bucket size; limit/windowMs is the refill rate.
      const limiter = backend().make({ ...policy, burst: 20 });
      expect(await admitted(limiter, 'k', 25, T0)).toBe(20);
      expect(await limiter.limit('k', { now: T0 + 250 })).toMatchObject({
        allowed: true,
        remaining: 1,
        limit: 20,
      });
    });
  });

  describe('leaking bucket', () => {
    const policy = { algorithm: 'leaking_bucket', limit: 10, windowMs: 1_000 } as const;

    it('queues up to its size, telling each request how long it waits to leave at the fixed rate', async () => {
      // The outflow is 1 per 100 ms: the k-th queued request leaves (k − 1) × 100 ms later.
      const limiter = backend().make(policy);
      const delays: number[] = [];
      for (let request = 0; request < 10; request++)
        delays.push((await limiter.limit('k', { now: T0 })).delayMs);
      expect(delays).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
      expect(await limiter.limit('k', { now: T0 })).toMatchObject({
        allowed: false,
        retryAfterMs: 100,
        resetAfterMs: 1_000,
      });
    });

    it('drains at the outflow rate: one place frees every 100 ms', async () => {
      // After 100 ms one request has left, so one more fits, at the back of the queue.
      const limiter = backend().make(policy);
      await admitted(limiter, 'k', 10, T0);
      expect(await limiter.limit('k', { now: T0 + 100 })).toMatchObject({
        allowed: true,
        delayMs: 900,
        remaining: 0,
      });
      expect((await limiter.limit('k', { now: T0 + 150 })).allowed).toBe(false);
    });
  });

  describe('fixed window', () => {
    const policy = { algorithm: 'fixed_window', limit: 5, windowMs: 1_000 } as const;

    it('admits the limit per window and reopens exactly at the window boundary', async () => {
      // Windows are aligned on multiples of windowMs: T0 + 999 is the old window, T0 + 1000 a new one.
      const limiter = backend().make(policy);
      expect(await admitted(limiter, 'k', 6, T0 + 200)).toBe(5);
      expect(await limiter.limit('k', { now: T0 + 999 })).toMatchObject({
        allowed: false,
        retryAfterMs: 1,
        resetAfterMs: 1,
      });
      expect(await limiter.limit('k', { now: T0 + 1_000 })).toMatchObject({ allowed: true, remaining: 4 });
    });

    it('lets twice the limit through within 2 ms at a window edge (its known flaw)', async () => {
      // 5 in the last millisecond of one window and 5 in the first of the next: 10 within 2 ms.
      const limiter = backend().make(policy);
      const atEnd = await admitted(limiter, 'k', 5, T0 + 999);
      const atStart = await admitted(limiter, 'k', 5, T0 + 1_000);
      expect(atEnd + atStart).toBe(10);
    });
  });

  describe('sliding window log', () => {
    const policy = { algorithm: 'sliding_window_log', limit: 5, windowMs: 1_000 } as const;

    it('never admits more than the limit in any rolling window, not even at an edge', async () => {
      // 5 at T0 + 999 fill the rolling window (T0 − 1, T0 + 999]; at T0 + 1000 they are all still in it.
      const limiter = backend().make(policy);
      expect(await admitted(limiter, 'k', 5, T0 + 999)).toBe(5);
      expect(await limiter.limit('k', { now: T0 + 1_000 })).toMatchObject({
        allowed: false,
        retryAfterMs: 999,
      });
      expect(await limiter.limit('k', { now: T0 + 1_999 })).toMatchObject({ allowed: true, remaining: 4 });
    });

    it('frees each unit exactly windowMs after it was admitted, and waits for as many as a cost needs', async () => {
      // Entries at +0, +100, +200 (limit 3): a cost of 2 at +300 needs the two oldest gone, at +1100.
      const limiter = backend().make({ ...policy, limit: 3 });
      for (const offset of [0, 100, 200]) await limiter.limit('k', { now: T0 + offset });
      expect(await limiter.limit('k', { now: T0 + 300, cost: 2 })).toMatchObject({
        allowed: false,
        retryAfterMs: 800,
      });
      expect((await limiter.limit('k', { now: T0 + 1_099, cost: 2 })).allowed).toBe(false);
      expect((await limiter.limit('k', { now: T0 + 1_100, cost: 2 })).allowed).toBe(true);
    });
  });

  describe('sliding window counter', () => {
    const policy = { algorithm: 'sliding_window_counter', limit: 10, windowMs: 1_000 } as const;

    it('weights the previous window by its overlap with the rolling window', async () => {
      // 10 in the previous window; 100 ms into the next, it still weighs 10 × 0.9 = 9: one more fits.
      const limiter = backend().make(policy);
      expect(await admitted(limiter, 'k', 10, T0)).toBe(10);
      expect(await limiter.limit('k', { now: T0 + 1_100 })).toMatchObject({ allowed: true, remaining: 0 });
      expect(await limiter.limit('k', { now: T0 + 1_100 })).toMatchObject({
        allowed: false,
        retryAfterMs: 100,
      });
      expect((await limiter.limit('k', { now: T0 + 1_200 })).allowed).toBe(true);
    });

    it('refuses the edge burst the fixed window admits', async () => {
      // 10 at T0 + 999; at T0 + 1000 the previous window still weighs fully.
      const limiter = backend().make(policy);
      expect(await admitted(limiter, 'k', 10, T0 + 999)).toBe(10);
      expect(await admitted(limiter, 'k', 10, T0 + 1_000)).toBe(0);
    });

    it('tells a client over the limit in the current window to wait into the next one', async () => {
      // 10 in this window: the next window starts at +1000 with them weighing 10; one fits at +1100.
      const limiter = backend().make(policy);
      await admitted(limiter, 'k', 10, T0);
      expect(await limiter.limit('k', { now: T0 })).toMatchObject({
        allowed: false,
        retryAfterMs: 1_100,
        resetAfterMs: 2_000,
      });
    });
  });

  describe('GCRA', () => {
    const policy = { algorithm: 'gcra', limit: 10, windowMs: 1_000 } as const;

    it('admits the burst at once, then exactly one per emission interval', async () => {
      // Emission interval 100 ms: the 11th request may come 100 ms later, the 12th 200 ms later.
      const limiter = backend().make(policy);
      expect(await admitted(limiter, 'k', 10, T0)).toBe(10);
      expect(await limiter.limit('k', { now: T0 })).toMatchObject({
        allowed: false,
        retryAfterMs: 100,
        resetAfterMs: 1_000,
      });
      expect((await limiter.limit('k', { now: T0 + 100 })).allowed).toBe(true);
      expect(await limiter.limit('k', { now: T0 + 150 })).toMatchObject({ allowed: false, retryAfterMs: 50 });
    });

    it('with a burst of 1, spaces requests evenly', async () => {
      // Burst 1: each request must come at least one interval after the previous one.
      const limiter = backend().make({ ...policy, burst: 1 });
      expect((await limiter.limit('k', { now: T0 })).allowed).toBe(true);
      expect(await limiter.limit('k', { now: T0 + 60 })).toMatchObject({ allowed: false, retryAfterMs: 40 });
      expect((await limiter.limit('k', { now: T0 + 100 })).allowed).toBe(true);
    });
  });

  describe.each(ALGORITHMS)('%s, common rules', (algorithm) => {
    const policy = { algorithm, limit: 10, windowMs: 1_000 };

    it('consumes the cost of a request, not one unit', async () => {
      // A cost of 4 leaves 6 of 10.
      const limiter = backend().make(policy);
      expect(await limiter.limit('k', { now: T0, cost: 4 })).toMatchObject({ allowed: true, remaining: 6 });
    });

    it('reads without consuming when the cost is 0', async () => {
      // Two peeks around one request: only the request counts.
      const limiter = backend().make(policy);
      expect(await limiter.limit('k', { now: T0, cost: 0 })).toMatchObject({ allowed: true, remaining: 10 });
      await limiter.limit('k', { now: T0 });
      expect(await limiter.limit('k', { now: T0, cost: 0 })).toMatchObject({ allowed: true, remaining: 9 });
    });

    it('answers a peek on a blocked key as refused, with the wait for one unit, and consumes nothing', async () => {
      // A peek used to say "allowed" on an exhausted key; it now answers as a request of 1 would.
      const limiter = backend().make(policy);
      await limiter.limit('k', { now: T0, cost: 10 });
      const peek = await limiter.limit('k', { now: T0 + 1, cost: 0 });
      const request = await limiter.limit('k', { now: T0 + 1 });
      expect(peek).toMatchObject({ allowed: false, remaining: 0 });
      expect(peek.retryAfterMs).toBeGreaterThan(0);
      expect(peek.retryAfterMs).toBe(request.retryAfterMs);
      const later = await limiter.limit('k', { now: T0 + 1 + peek.retryAfterMs, cost: 0 });
      expect(later.allowed).toBe(true);
    });

    it('refuses a cost above its capacity outright, with a typed error', async () => {
      // Waiting could never help such a request, so it is an error rather than a retry time.
      const limiter = backend().make(policy);
      await expect(limiter.limit('k', { now: T0, cost: 11 })).rejects.toBeInstanceOf(CostExceedsLimitError);
    });

    it('keeps keys independent and forgets a key on reset', async () => {
      // Exhausting one key leaves another untouched; reset gives the quota back.
      const limiter = backend().make(policy);
      await limiter.limit('a', { now: T0, cost: 10 });
      expect((await limiter.limit('a', { now: T0 })).allowed).toBe(false);
      expect((await limiter.limit('b', { now: T0 })).allowed).toBe(true);
      await limiter.reset('a');
      expect(await limiter.limit('a', { now: T0 })).toMatchObject({ allowed: true, remaining: 9 });
    });

    it('treats a clock that runs backwards as no time passing', async () => {
      // After a decision at T0 + 1500, one at T0 + 100 must not see an older, fuller state.
      const limiter = backend().make(policy);
      await limiter.limit('k', { now: T0 + 1_500, cost: 10 });
      expect((await limiter.limit('k', { now: T0 + 100 })).allowed).toBe(false);
    });

    it('decides on its own clock when no time is given', async () => {
      // Production path: the server clock (Redis TIME) or Date.now for the twin.
      const limiter = backend().make({ algorithm, limit: 2, windowMs: 60_000 });
      const results = [await limiter.limit('k'), await limiter.limit('k'), await limiter.limit('k')];
      expect(results.map((result) => result.allowed)).toEqual([true, true, false]);
      expect(results[2]!.retryAfterMs).toBeGreaterThan(0);
    });
  });
}

describe('in-memory twins', () => {
  semantics(memoryLimiters);
});

describeWith(await redisBackend(), 'Lua scripts on Redis', ({ url }) => {
  const prefix = freshRedisPrefix('limiter-semantics');
  let redis: Redis;
  let backend: LimiterBackend;
  beforeAll(() => {
    redis = connect(url);
    backend = redisLimiters(redis, prefix);
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteRedisPrefix(url, prefix);
  });
  semantics(() => backend);
});
