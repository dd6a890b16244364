import {
  deleteRedisPrefix,
  describeWith,
  freshRedisPrefix,
  redisBackend,
  seededRandom,
} from '@sysdesign/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALGORITHMS, MAX_WINDOW_MS, RedisLimiter } from '../src/index.js';
import { connect, SEMANTICS_TIMEOUT_MS, uniqueName } from './helpers.js';

/**
 * Hard limits are exact under concurrency: several limiter instances, each with its own Redis
 * connection (as separate servers would have), fire at one key at once. The window is the
 * longest allowed, so no refill or window edge falls inside the test.
 */

const INSTANCES = 4;
const REQUESTS = 200;
const LIMIT = 50;

describeWith(await redisBackend(), 'exactness under concurrency', ({ url }) => {
  const prefix = freshRedisPrefix('limiter-concurrency');
  let clients: Redis[];
  beforeAll(() => {
    clients = Array.from({ length: INSTANCES }, () => connect(url));
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await deleteRedisPrefix(url, prefix);
  });

  function instances(algorithm: (typeof ALGORITHMS)[number]): RedisLimiter[] {
    const name = uniqueName('concurrent');
    const policy = { algorithm, limit: LIMIT, windowMs: MAX_WINDOW_MS };
    return clients.map(
      (client) =>
        new RedisLimiter(client, policy, {
          name,
          prefix,
          overLimitCache: false,
          timeoutMs: SEMANTICS_TIMEOUT_MS,
        }),
    );
  }

  it.each(ALGORITHMS)(
    '%s admits exactly 50 of 200 concurrent requests across 4 instances',
    async (algorithm) => {
      // 200 decisions in flight at once over 4 connections; atomic scripts admit exactly the quota.
      const limiters = instances(algorithm);
      const results = await Promise.all(
        Array.from({ length: REQUESTS }, (_, request) => limiters[request % INSTANCES]!.limit('hot')),
      );
      expect(results.filter((result) => result.allowed)).toHaveLength(LIMIT);
      expect(Math.min(...results.map((result) => result.remaining))).toBe(0);
    },
  );

  it.each(ALGORITHMS)('%s never admits more than the quota when requests cost 1 to 5', async (algorithm) => {
    // Mixed costs: the admitted costs sum to at most 50, and to more than 45 (nothing fitting is lost).
    const limiters = instances(algorithm);
    const random = seededRandom(7);
    const costs = Array.from({ length: REQUESTS }, () => 1 + Math.floor(random() * 5));
    const results = await Promise.all(
      costs.map((cost, request) => limiters[request % INSTANCES]!.limit('hot', { cost })),
    );
    const admittedCost = results.reduce(
      (sum, result, request) => sum + (result.allowed ? costs[request]! : 0),
      0,
    );
    expect(admittedCost).toBeLessThanOrEqual(LIMIT);
    expect(admittedCost).toBeGreaterThan(LIMIT - 5);
  });
});
