import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  CostExceedsLimitError,
  createLimiter,
  InvalidArgumentError,
  InvalidPolicyError,
  MemoryLimiter,
  MemoryStore,
  normalizePolicy,
  type RateLimitPolicy,
} from '../src/index.js';
import { escapeKey, keyBase, limiterKey } from '../src/keys.js';
import { OverLimitCache } from '../src/over-limit-cache.js';
import { T0 } from './helpers.js';

/** Redis Cluster's slot of a key (CRC16/XMODEM of the hash tag, or of the whole key, mod 16384). */
function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  let hashed = key;
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16_384;
}

describe('policy validation', () => {
  const valid: RateLimitPolicy = { algorithm: 'token_bucket', limit: 10, windowMs: 1_000 };

  it.each([
    ['an unknown algorithm', { ...valid, algorithm: 'leaky' as never }, 'algorithm'],
    ['a missing limit', { ...valid, limit: undefined as never }, 'limit'],
    ['a fractional limit', { ...valid, limit: 1.5 }, 'limit'],
    ['a zero limit', { ...valid, limit: 0 }, 'limit'],
    ['a limit as a string', { ...valid, limit: '10' as never }, 'limit'],
    ['a limit above 1,000,000', { ...valid, limit: 1_000_001 }, 'limit'],
    ['a window of 0 ms', { ...valid, windowMs: 0 }, 'windowMs'],
    ['a window above 31 days', { ...valid, windowMs: 31 * 86_400_000 + 1 }, 'windowMs'],
    ['a window of NaN', { ...valid, windowMs: Number.NaN }, 'windowMs'],
    [
      'a burst on a window algorithm',
      { algorithm: 'fixed_window', limit: 10, windowMs: 1_000, burst: 20 } as const,
      'burst',
    ],
    ['a negative burst', { ...valid, burst: -1 }, 'burst'],
    [
      'a sliding log above 10,000',
      { algorithm: 'sliding_window_log', limit: 10_001, windowMs: 1_000 } as const,
      'limit',
    ],
    [
      'a bucket that takes over 31 days to refill',
      { ...valid, limit: 1, burst: 1_000, windowMs: 86_400_000 },
      'refill',
    ],
    [
      'a GCRA rate finer than one per µs',
      { algorithm: 'gcra', limit: 2_000, windowMs: 1 } as const,
      'microsecond',
    ],
  ])('rejects %s, naming the field', (_label, policy, field) => {
    // Bad policies fail when the limiter is made, with a message that says which number is wrong.
    expect(() => normalizePolicy(policy)).toThrow(InvalidPolicyError);
    expect(() => normalizePolicy(policy)).toThrow(field);
  });

  it('defaults burst to the limit and freezes the result', () => {
    // One normalized form for every algorithm: burst is always set.
    const policy = normalizePolicy(valid);
    expect(policy).toEqual({ ...valid, burst: 10 });
    expect(Object.isFrozen(policy)).toBe(true);
  });

  it.each([
    [-1, InvalidArgumentError],
    [0.5, InvalidArgumentError],
    [Number.NaN, InvalidArgumentError],
    [11, CostExceedsLimitError],
  ])('refuses a cost of %s with a typed error', async (cost, errorClass) => {
    // Costs are whole units from 0 to the capacity.
    const limiter = new MemoryLimiter(valid, { name: 'cost' });
    await expect(limiter.limit('k', { cost })).rejects.toBeInstanceOf(errorClass);
  });

  it('refuses an empty key and an explicit time that is not whole milliseconds', async () => {
    // Explicit times are for replays and must be exact.
    const limiter = new MemoryLimiter(valid, { name: 'keys' });
    await expect(limiter.limit('')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(limiter.limit('k', { now: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(limiter.limit('k', { now: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses limiter names and prefixes with braces, which would hijack the hash tag', () => {
    // The tag must be the identity's key, never a constant shared by every key.
    expect(() => new MemoryLimiter(valid, { name: 'a{b}' })).toThrow(InvalidArgumentError);
    expect(() => new MemoryLimiter(valid, { name: 'ok', prefix: '{all}:' })).toThrow(InvalidArgumentError);
    expect(() => new MemoryLimiter(valid, { name: '' })).toThrow(InvalidArgumentError);
  });
});

describe('createLimiter', () => {
  it('makes the in-memory twin without a Redis client', async () => {
    // The embedded default: same call, same result shape.
    const limiter = createLimiter({ algorithm: 'fixed_window', limit: 1, windowMs: 1_000 }, { name: 'made' });
    expect(limiter).toBeInstanceOf(MemoryLimiter);
    expect((await limiter.limit('k', { now: T0 })).allowed).toBe(true);
    expect((await limiter.limit('k', { now: T0 })).allowed).toBe(false);
  });
});

describe('key layout', () => {
  it('puts the identity in a Redis Cluster hash tag, so its keys share a slot and identities spread', () => {
    // Two keys of one identity (under different limiters) hash alike; many identities use many slots.
    const base = keyBase('rl:', 'api', 'sliding_window_log');
    expect(limiterKey(base, 'user:42')).toBe('rl:api:sl:{user:42}');
    const other = limiterKey(keyBase('rl:', 'login', 'gcra'), 'user:42');
    expect(clusterSlot(limiterKey(base, 'user:42'))).toBe(clusterSlot(other));
    const slots = new Set(
      Array.from({ length: 200 }, (_, index) => clusterSlot(limiterKey(base, `user:${index}`))),
    );
    expect(slots.size).toBeGreaterThan(150);
  });

  it('stores a key over 256 characters as its SHA-256, so hostile input stays small and distinct', () => {
    // A 10 KB header becomes a 65-character tag; two long keys differing in one character stay apart.
    const base = keyBase('rl:', 'api', 'gcra');
    const long = limiterKey(base, 'a'.repeat(10_000));
    expect(long).toMatch(/^rl:api:gc:\{#[0-9a-f]{64}\}$/);
    expect(limiterKey(base, `${'a'.repeat(9_999)}b`)).not.toBe(long);
    expect(limiterKey(base, 'a'.repeat(256))).toBe(`rl:api:gc:{${'a'.repeat(256)}}`);
    // A short key spelling a hash cannot impersonate it: its `#` is escaped.
    expect(limiterKey(base, long.slice(long.indexOf('{') + 1, -1))).not.toBe(long);
  });

  it('escapes braces in keys, so a hostile key can neither close the tag early nor collide', () => {
    // `a}b` and `a%7Db` must stay distinct, and both keep one tag that covers the whole key.
    const base = keyBase('rl:', 'api', 'token_bucket');
    expect(escapeKey('a}b{c%')).toBe('a%7Db%7Bc%25');
    expect(limiterKey(base, 'a}b')).not.toBe(limiterKey(base, 'a%7Db'));
    expect(limiterKey(base, '}{')).toBe('rl:api:tb:{%7D%7B}');
    expect(clusterSlot(limiterKey(base, '}x'))).toBe(clusterSlot(`{${escapeKey('}x')}}`));
  });
});

describe('circuit breaker', () => {
  function breaker() {
    let now = 0;
    const states: string[] = [];
    const instance = new CircuitBreaker({
      failureThreshold: 3,
      cooldownMs: 1_000,
      clock: () => now,
      onStateChange: (state) => states.push(state),
    });
    return { instance, states, advance: (ms: number) => (now += ms) };
  }

  it('opens after the threshold of consecutive failures, and a success in between resets the count', () => {
    // 2 failures, a success, 2 failures: still closed; a third consecutive failure opens it.
    const { instance } = breaker();
    instance.recordFailure();
    instance.recordFailure();
    instance.recordSuccess();
    instance.recordFailure();
    instance.recordFailure();
    expect(instance.state).toBe('closed');
    instance.recordFailure();
    expect(instance.state).toBe('open');
    expect(instance.allowRequest()).toBe(false);
  });

  it('lets exactly one probe through after the cooldown, and closes on its success', () => {
    // Half-open: the first caller probes, the others still fail fast until the probe returns.
    const { instance, states, advance } = breaker();
    for (let failure = 0; failure < 3; failure++) instance.recordFailure();
    advance(999);
    expect(instance.allowRequest()).toBe(false);
    advance(1);
    expect(instance.allowRequest()).toBe(true);
    expect(instance.allowRequest()).toBe(false);
    instance.recordSuccess();
    expect(instance.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('reopens for another cooldown when the probe fails', () => {
    // A failed probe starts the cooldown over.
    const { instance, advance } = breaker();
    for (let failure = 0; failure < 3; failure++) instance.recordFailure();
    advance(1_000);
    expect(instance.allowRequest()).toBe(true);
    instance.recordFailure();
    expect(instance.state).toBe('open');
    advance(500);
    expect(instance.allowRequest()).toBe(false);
  });

  it('rejects nonsensical settings', () => {
    // Limits on everything: a threshold of 0 or a cooldown of a day is a configuration error.
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ cooldownMs: 86_400_000 })).toThrow(RangeError);
  });
});

describe('over-limit cache', () => {
  const refusal = {
    allowed: false,
    limit: 5,
    remaining: 0,
    resetAfterMs: 5_000,
    retryAfterMs: 3_000,
    delayMs: 0,
  };

  it('answers a refused key until its retry time or maxTtlMs, whichever comes first', () => {
    // Remembered for min(3000, 1000) ms, with the retry time counting down.
    const cache = new OverLimitCache({ maxTtlMs: 1_000 });
    cache.remember('k', 1, refusal, 0);
    expect(cache.get('k', 1, 400)).toMatchObject({
      allowed: false,
      retryAfterMs: 2_600,
      resetAfterMs: 4_600,
    });
    expect(cache.get('k', 1, 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('lets a cheaper request through to Redis: it might fit sooner', () => {
    // A refusal at cost 3 says nothing about cost 1.
    const cache = new OverLimitCache();
    cache.remember('k', 3, refusal, 0);
    expect(cache.get('k', 1, 10)).toBeUndefined();
    expect(cache.get('k', 3, 10)?.allowed).toBe(false);
  });

  it('remembers at most maxKeys keys, forgetting the oldest', () => {
    // Bounded memory under a flood of distinct abusive keys.
    const cache = new OverLimitCache({ maxKeys: 2 });
    for (const key of ['a', 'b', 'c']) cache.remember(key, 1, refusal, 0);
    expect(cache.size).toBe(2);
    expect(cache.get('a', 1, 1)).toBeUndefined();
    expect(cache.get('c', 1, 1)).toBeDefined();
  });

  it('ignores admissions', () => {
    // Only refusals are exact to cache.
    const cache = new OverLimitCache();
    cache.remember('k', 1, { ...refusal, allowed: true, retryAfterMs: 0 }, 0);
    expect(cache.size).toBe(0);
  });
});

describe('in-memory store', () => {
  it('holds at most maxKeys identities, forgetting the oldest and counting it', () => {
    // A flood of distinct keys cannot grow memory without bound.
    const store = new MemoryStore({ maxKeys: 3 });
    const policy = { algorithm: 'gcra', limit: 1, windowMs: 60_000 } as const;
    const limiter = new MemoryLimiter(policy, { name: 'bounded', store });
    for (const key of ['a', 'b', 'c', 'd']) limiter.limitNow(key, { now: T0 });
    expect(store.size).toBe(3);
    expect(store.evictions).toBe(1);
    // One of the first three was forgotten (it would start over with a full quota); `d` is kept.
    const kept = ['a', 'b', 'c', 'd'].filter((key) => store.get(`rl:bounded:gc:{${key}}`) !== undefined);
    expect(kept).toHaveLength(3);
    expect(kept).toContain('d');
  });

  it('stays fast when keys are rewritten in a cycle (regression: sweeping over deleted Map slots)', () => {
    // 10,000 identities written round-robin cost about what a handful of identities cost. CPU
    // time, measured against that baseline in the same run: a loaded machine slows both alike, and
    // the regression (a sweep over deleted Map slots on every write) made each decision O(n).
    const policy = { algorithm: 'token_bucket', limit: 1_000, windowMs: 1_000 } as const;
    const cpuMicrosPerDecision = (identities: number) => {
      const limiter = new MemoryLimiter(policy, { name: `cycle-${identities}` });
      for (let call = 0; call < 20_000; call++) limiter.limitNow(`k${call % identities}`, { now: T0 });
      const started = process.cpuUsage();
      for (let call = 0; call < 100_000; call++) limiter.limitNow(`k${call % identities}`, { now: T0 });
      const used = process.cpuUsage(started);
      return (used.user + used.system) / 100_000;
    };
    const few = cpuMicrosPerDecision(10);
    const cycle = cpuMicrosPerDecision(10_000);
    expect(
      cycle,
      `${cycle.toFixed(2)} us per decision over 10,000 identities, ${few.toFixed(2)} over 10`,
    ).toBeLessThan(Math.max(3 * few, 1));
  });

  it('drops expired identities as it writes, without being full', () => {
    // An identity idle past its expiry (and the grace) is swept by later writes.
    const store = new MemoryStore();
    const limiter = new MemoryLimiter(
      { algorithm: 'fixed_window', limit: 1, windowMs: 1_000 },
      { name: 'sweep', store },
    );
    limiter.limitNow('old', { now: T0 });
    for (let key = 0; key < 3; key++) limiter.limitNow(`new${key}`, { now: T0 + 60_000 });
    expect(store.get('rl:sweep:fw:{old}')).toBeUndefined();
    expect(store.size).toBe(3);
  });
});
