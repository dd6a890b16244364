import { deleteRedisPrefix, describeWith, freshRedisPrefix, redisBackend } from '@sysdesign/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSortedSetStore } from '../../../src/index.js';
import { sortedSetStoreContract } from './contract.js';

describeWith(await redisBackend(), 'RedisSortedSetStore', ({ url }) => {
  let redis: Redis;
  const prefixes: string[] = [];
  beforeAll(() => {
    redis = new Redis(url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deleteRedisPrefix(url, prefix);
    redis.disconnect();
  });

  sortedSetStoreContract('redis', async () => {
    const prefix = freshRedisPrefix('zset-contract');
    prefixes.push(prefix);
    return {
      store: new RedisSortedSetStore(redis, { prefix }),
      close: () => deleteRedisPrefix(url, prefix),
    };
  });

  describe('key prefix', () => {
    it('keeps every key under its prefix, so two stores on one Redis do not meet', async () => {
      // Two prefixes, one key name: each store sees only its own members, and Redis holds both keys.
      const first = freshRedisPrefix('zset-prefix-a');
      const second = freshRedisPrefix('zset-prefix-b');
      prefixes.push(first, second);
      await new RedisSortedSetStore(redis, { prefix: first }).zadd('board', [{ member: 'a', score: 1 }]);
      const other = new RedisSortedSetStore(redis, { prefix: second });
      expect(await other.zcard('board')).toBe(0);
      expect(await redis.zscore(`${first}board`, 'a')).toBe('1');
    });
  });
});

describe('RedisSortedSetStore reply errors', () => {
  it("turns Redis's OOM refusal into the twin's full error, and passes other failures through", async () => {
    // A stand-in connection whose commands fail as Redis fails them: no server needed for the mapping.
    const failing = (message: string) =>
      ({ call: () => Promise.reject(new Error(message)) }) as unknown as Redis;
    const full = new RedisSortedSetStore(failing("OOM command not allowed when used memory > 'maxmemory'."));
    await expect(full.zadd('k', [{ member: 'a', score: 1 }])).rejects.toMatchObject({
      code: 'ZSET_ERR_FULL',
      bound: 'redis-maxmemory',
    });
    const down = new RedisSortedSetStore(failing('Connection is closed.'));
    await expect(down.zcard('k')).rejects.toThrow('Connection is closed.');
  });
});
