import { deleteRedisPrefix, describeWith, freshRedisPrefix, redisBackend, waitFor } from '@sysdesign/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, expect, it, onTestFinished } from 'vitest';
import { CircuitBreaker, LimiterUnavailableError, type RateLimitPolicy, RedisLimiter } from '../src/index.js';
import { uniqueName } from './helpers.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * What happens when Redis dies or hangs mid-run: decisions fail with `LimiterUnavailableError`,
 * fast, and once the breaker is open without touching the network at all. Redis is reached
 * through a TCP proxy the test cuts or blackholes (the shared Redis itself is never harmed).
 */

const policy: RateLimitPolicy = { algorithm: 'sliding_window_counter', limit: 5, windowMs: 60_000 };
const TIMEOUT_MS = 60;
const FAILURE_THRESHOLD = 3;

interface Timed {
  ms: number;
  error?: LimiterUnavailableError;
  allowed?: boolean;
}

async function timed(limiter: RedisLimiter, key = 'k'): Promise<Timed> {
  const started = performance.now();
  try {
    const result = await limiter.limit(key);
    return { ms: performance.now() - started, allowed: result.allowed };
  } catch (error) {
    if (!(error instanceof LimiterUnavailableError)) throw error;
    return { ms: performance.now() - started, error };
  }
}

describeWith(await redisBackend(), 'Redis failing mid-run', ({ url }) => {
  const prefix = freshRedisPrefix('limiter-failure');
  let proxy: TcpProxy;
  let redis: Redis;
  let breaker: CircuitBreaker;
  let replies: number;
  let cacheHits: number;

  function limiter(
    options: { cooldownMs?: number; cache?: boolean; timeoutMs?: number; client?: Redis } = {},
  ): RedisLimiter {
    breaker = new CircuitBreaker({
      failureThreshold: FAILURE_THRESHOLD,
      cooldownMs: options.cooldownMs ?? 60_000,
    });
    return new RedisLimiter(options.client ?? redis, policy, {
      name: uniqueName('failure'),
      prefix,
      timeoutMs: options.timeoutMs ?? TIMEOUT_MS,
      breaker,
      overLimitCache: options.cache ? { maxTtlMs: 1_000 } : false,
      events: { onRedisReply: () => replies++, onCacheHit: () => cacheHits++ },
    });
  }

  beforeEach(async () => {
    replies = 0;
    cacheHits = 0;
    proxy = await TcpProxy.start(url);
    redis = new Redis(proxy.url, {
      maxRetriesPerRequest: 1,
      enableAutoPipelining: true,
      retryStrategy: () => 20,
    });
    redis.on('error', () => undefined);
  });
  afterEach(async () => {
    redis.disconnect();
    await proxy.close();
  });
  afterAll(() => deleteRedisPrefix(url, prefix));

  it('fails fast once Redis is gone, and with the breaker open stops trying at all', async () => {
    // After a cut, no decision waits: connection errors come back at once, then the breaker answers.
    const subject = limiter();
    expect((await timed(subject)).allowed).toBe(true);
    await proxy.cut();
    const outcomes: Timed[] = [];
    for (let call = 0; call < 10; call++) outcomes.push(await timed(subject));
    expect(outcomes.every((outcome) => outcome.error !== undefined)).toBe(true);
    expect(Math.max(...outcomes.map((outcome) => outcome.ms))).toBeLessThan(TIMEOUT_MS + 40);
    expect(
      outcomes.slice(FAILURE_THRESHOLD).every((outcome) => outcome.error?.reason === 'breaker-open'),
    ).toBe(true);
    expect(breaker.state).toBe('open');
  });

  it('pays one timeout per decision while Redis hangs, then nothing once the breaker opens', async () => {
    // A blackholed connection: the first decisions wait out the timeout, the rest fail in microseconds.
    const subject = limiter();
    expect((await timed(subject)).allowed).toBe(true);
    proxy.blackhole();
    const outcomes: Timed[] = [];
    for (let call = 0; call < 8; call++) outcomes.push(await timed(subject));
    const [hung, shortCircuited] = [outcomes.slice(0, FAILURE_THRESHOLD), outcomes.slice(FAILURE_THRESHOLD)];
    expect(hung.every((outcome) => outcome.error?.reason === 'timeout' && outcome.ms >= TIMEOUT_MS - 5)).toBe(
      true,
    );
    expect(
      shortCircuited.every((outcome) => outcome.error?.reason === 'breaker-open' && outcome.ms < 5),
    ).toBe(true);
  });

  it('recovers by itself when Redis answers again after the cooldown', async () => {
    // Cut, breaker open; restore; a half-open probe succeeds and decisions flow again.
    const subject = limiter({ cooldownMs: 100 });
    await timed(subject);
    await proxy.cut();
    for (let call = 0; call < FAILURE_THRESHOLD; call++) await timed(subject);
    expect(breaker.state).toBe('open');
    await proxy.restore();
    await waitFor(
      async () => (await timed(subject)).allowed !== undefined,
      'a decision after Redis came back',
      {
        timeoutMs: 5_000,
        intervalMs: 25,
      },
    );
    expect(breaker.state).toBe('closed');
  });

  it('does not time out a reply that arrived while the event loop was busy (regression: breaker opened under load)', async () => {
    // The loop is hogged for 3 × the timeout after each command is written; the reply waits in
    // the socket buffer. Timers run before socket reads, so a naive timeout would win every time.
    // A direct connection: the in-process proxy could not forward while the loop is blocked.
    const direct = new Redis(url, { enableAutoPipelining: true });
    onTestFinished(() => direct.disconnect());
    await new RedisLimiter(direct, policy, { name: 'warm', prefix }).limit('busy');
    const subject = limiter({ client: direct });
    let answered = 0;
    for (let round = 0; round < 10; round++) {
      const pending = subject.limit('busy').then(
        () => answered++,
        () => undefined,
      );
      setImmediate(() => {
        const until = Date.now() + TIMEOUT_MS * 3;
        while (Date.now() < until) {
          // Busy: a long synchronous task, a GC pause, or a starved CPU.
        }
      });
      await pending;
    }
    expect(answered).toBe(10);
    expect(breaker.state).toBe('closed');
  });

  it('answers a flood from a client over its limit locally: one refusal from Redis, then the cache', async () => {
    // 5 admitted, then 500 more requests: Redis sees 1 refusal, the cache answers 499, all refused.
    const subject = limiter({ cache: true, timeoutMs: 5_000 });
    const results = [];
    for (let request = 0; request < 505; request++) results.push(await subject.limit('flood'));
    expect(results.filter((result) => result.allowed)).toHaveLength(5);
    expect(replies).toBe(6);
    expect(cacheHits).toBe(499);
    expect(results.at(-1)).toMatchObject({ allowed: false, remaining: 0 });
    expect(results.at(-1)!.retryAfterMs).toBeGreaterThan(0);
  });
});
