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
