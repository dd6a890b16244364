import { describeWith, freshRedisPrefix, redisBackend, seededRandom, waitFor } from '@sysdesign/testkit';
import { LinkProxy } from '@sysdesign/testkit/faults';
import type { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { createRedis } from '../../src/index.js';

/**
 * A connection that stops answering without closing: Redis behind a loopback proxy that blackholes
 * the link (bytes discarded both ways, no FIN, no reset), then heals it without a reset. The client
 * must replace the connection after a run of timeouts, and must not replay on the new connection
 * the commands whose callers already timed out.
 */

const COMMAND_TIMEOUT_MS = 200;
const opened: { redis: Redis; proxy: LinkProxy }[] = [];

afterEach(async () => {
  for (const { redis, proxy } of opened.splice(0)) {
    redis.disconnect();
    await proxy.close();
  }
});

async function behindProxy(url: string, replaceAfterTimeouts?: number, maxRetriesPerRequest?: number) {
  const target = new URL(url);
  const proxy = await LinkProxy.start({ targetPort: Number(target.port || 6379), random: seededRandom(1) });
  const stalls: number[] = [];
  const redis = await createRedis({
    url: `redis://127.0.0.1:${proxy.port}${target.pathname}`,
    keyPrefix: freshRedisPrefix('stall'),
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    ...(replaceAfterTimeouts === undefined ? {} : { replaceAfterTimeouts }),
    ...(maxRetriesPerRequest === undefined ? {} : { maxRetriesPerRequest }),
    onStalledConnection: (timeouts) => stalls.push(timeouts),
  });
  opened.push({ redis, proxy });
  return { redis, proxy, stalls };
}

/** Three INCRs of `key` sent into the blackhole: each times out, none reaches Redis. */
async function incrementsLost(redis: Redis, key: string) {
  const outcomes = await Promise.allSettled([redis.incr(key), redis.incr(key), redis.incr(key)]);
  expect(outcomes.map((outcome) => outcome.status === 'rejected' && String(outcome.reason))).toEqual(
    Array(3).fill('Error: Command timed out'),
  );
}

describeWith(await redisBackend(), 'a Redis connection that stalls without closing', ({ url }) => {
  it('is replaced after a run of timeouts, answers again once the link heals, and replays nothing', async () => {
    const { redis, proxy, stalls } = await behindProxy(url);
    expect(await redis.incr('counter')).toBe(1);
    proxy.cut('blackhole');
    await incrementsLost(redis, 'counter');
    expect(stalls).toEqual([3]);
    proxy.heal();
    await waitFor(
      async () => (await redis.ping().catch(() => 'no answer')) === 'PONG',
      'the new connection',
      {
        timeoutMs: 10_000,
      },
    );
    // The three timed-out increments were never applied, then or later.
    expect(await redis.get('counter')).toBe('1');
    expect(await redis.incr('counter')).toBe(2);
    await redis.del('counter');
  });

  it('without the guard stays paired with the lost commands and never answers again (what the guard fixes)', async () => {
    const { redis, proxy, stalls } = await behindProxy(url, 0);
    proxy.cut('blackhole');
    await incrementsLost(redis, 'counter');
    proxy.heal();
    // Each reply now goes to an older, timed-out command: every live command times out.
    for (let attempt = 0; attempt < 3; attempt++)
      await expect(redis.ping()).rejects.toThrow('Command timed out');
    expect(stalls).toEqual([]);
  });

  it('holds no timeout of a command queued while the link was down against the connection that follows', async () => {
    // Enough retries that the queued commands wait out their own timeout rather than the retries.
    const { redis, proxy, stalls } = await behindProxy(url, undefined, 1_000);
    proxy.cut('reset');
    await waitFor(() => redis.status !== 'ready', 'the client to see the reset', { timeoutMs: 5_000 });
    const queued = await Promise.allSettled([
      redis.incr('queued'),
      redis.incr('queued'),
      redis.incr('queued'),
    ]);
    expect(queued.map((outcome) => outcome.status === 'rejected' && String(outcome.reason))).toEqual(
      Array(3).fill('Error: Command timed out'),
    );
    proxy.heal();
    await waitFor(async () => (await redis.ping().catch(() => 'no answer')) === 'PONG', 'the reconnect', {
      timeoutMs: 10_000,
    });
    expect(stalls).toEqual([]);
    await redis.del('queued');
  });

  it('holds an error reply as an answer: a run of them never replaces the connection', async () => {
    const { redis, stalls } = await behindProxy(url, 2);
    await redis.set('text', 'not a number');
    for (let attempt = 0; attempt < 5; attempt++)
      await expect(redis.incr('text')).rejects.toThrow(/not an integer/);
    expect(stalls).toEqual([]);
    expect(redis.status).toBe('ready');
    await redis.del('text');
  });
});
