import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SORTED_SET_LIMITS, type SortedSetStore } from '../../../src/index.js';

/**
 * The SortedSetStore contract: both adapters run this suite, each test on an empty keyspace (a
 * fresh key prefix on Redis). It states Redis's semantics as the services rely on them; the
 * differential test then checks the long tail by comparing the adapters reply by reply.
 */

export interface OpenedStore {
  store: SortedSetStore;
  close(): Promise<void>;
}

const entries = (...pairs: [string, number][]) => pairs.map(([member, score]) => ({ member, score }));

export function sortedSetStoreContract(adapter: string, open: () => Promise<OpenedStore>): void {
  describe(`SortedSetStore contract: ${adapter}`, () => {
    let opened: OpenedStore;
    let store: SortedSetStore;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(() => opened.close());

    it('adds members, counts only new ones, and updates scores in place', async () => {
      expect(await store.zadd('k', entries(['a', 1], ['b', 2]))).toBe(2);
      expect(await store.zadd('k', entries(['a', 5], ['c', 3]))).toBe(1);
      expect(await store.zrange('k', 0, -1)).toEqual(entries(['b', 2], ['c', 3], ['a', 5]));
      expect(await store.zcard('k')).toBe(3);
    });

    it('orders equal scores by member bytes: UTF-8, so U+FF61 before an emoji', async () => {
      await store.zadd(
        'k',
        entries(['b', 0], ['\ud83d\ude00', 0], ['a', 0], ['\uff61', 0], ['A', 0], ['', 0]),
      );
      const members = (await store.zrange('k', 0, -1)).map((entry) => entry.member);
      expect(members).toEqual(['', 'A', 'a', 'b', '\uff61', '\ud83d\ude00']);
    });

    it('applies NX, XX, GT, LT and CH as Redis does', async () => {
      await store.zadd('k', entries(['a', 5]));
      expect(await store.zadd('k', entries(['a', 9], ['b', 1]), { nx: true })).toBe(1);
      expect(await store.zscore('k', 'a')).toBe(5);
      expect(await store.zadd('k', entries(['a', 7], ['c', 1]), { xx: true, ch: true })).toBe(1);
      expect(await store.zscore('k', 'c')).toBeNull();
      expect(await store.zadd('k', entries(['a', 6], ['d', 4]), { gt: true, ch: true })).toBe(1);
      expect(await store.zscore('k', 'a')).toBe(7);
      expect(await store.zadd('k', entries(['a', 6]), { lt: true, ch: true })).toBe(1);
      expect(await store.zadd('k', entries(['a', 6]), { ch: true })).toBe(0);
      expect(await store.zadd('missing', entries(['a', 1]), { xx: true })).toBe(0);
      expect(await store.zcard('missing')).toBe(0);
    });

    it('refuses the flag sets Redis refuses, changing nothing', async () => {
      for (const options of [
        { nx: true, xx: true },
        { gt: true, lt: true },
        { nx: true, gt: true },
        { nx: true, lt: true },
      ]) {
        await expect(store.zadd('k', entries(['a', 1]), options)).rejects.toMatchObject({
          code: 'ZSET_ERR_INVALID_OPTIONS',
        });
      }
      await expect(store.zadd('k', [])).rejects.toMatchObject({ code: 'ZSET_ERR_INVALID_OPTIONS' });
      expect(await store.zcard('k')).toBe(0);
    });

    it('increments with ZADD INCR (null when a flag stops it) and ZINCRBY', async () => {
      expect(await store.zaddIncr('k', 'a', 2)).toBe(2);
      expect(await store.zaddIncr('k', 'a', 3, { xx: true })).toBe(5);
      expect(await store.zaddIncr('k', 'a', 1, { nx: true })).toBeNull();
      expect(await store.zaddIncr('k', 'a', -1, { gt: true })).toBeNull();
      expect(await store.zaddIncr('k', 'b', 1, { xx: true })).toBeNull();
      expect(await store.zincrby('k', 0.5, 'a')).toBe(5.5);
      expect(await store.zincrby('k', 4, 'new')).toBe(4);
    });

    it('accepts infinities, refuses NaN scores and bounds, and refuses an increment that makes NaN', async () => {
      await store.zadd(
        'k',
        entries(['top', Number.POSITIVE_INFINITY], ['bottom', Number.NEGATIVE_INFINITY], ['mid', 0]),
      );
      expect(await store.zrange('k', 0, -1)).toEqual(
        entries(['bottom', Number.NEGATIVE_INFINITY], ['mid', 0], ['top', Number.POSITIVE_INFINITY]),
      );
      await expect(store.zadd('k', entries(['x', 1], ['y', Number.NaN]))).rejects.toMatchObject({
        code: 'ZSET_ERR_NOT_A_FLOAT',
      });
      expect(await store.zscore('k', 'x')).toBeNull();
      await expect(store.zincrby('k', Number.NEGATIVE_INFINITY, 'top')).rejects.toMatchObject({
        code: 'ZSET_ERR_NAN_RESULT',
      });
      expect(await store.zscore('k', 'top')).toBe(Number.POSITIVE_INFINITY);
      await expect(store.zcount('k', Number.NaN, 1)).rejects.toMatchObject({ code: 'ZSET_ERR_NOT_A_FLOAT' });
    });

    it('answers scores, several scores, ranks and reverse ranks with scores', async () => {
      await store.zadd('k', entries(['a', 1], ['b', 2], ['c', 3]));
      expect(await store.zscore('k', 'b')).toBe(2);
      expect(await store.zmscore('k', ['c', 'nope', 'a'])).toEqual([3, null, 1]);
      expect(await store.zmscore('missing', ['a'])).toEqual([null]);
      expect(await store.zrank('k', 'a')).toBe(0);
      expect(await store.zrank('k', 'a', true)).toBe(2);
      expect(await store.zrankWithScore('k', 'c', true)).toEqual({ rank: 0, score: 3 });
      expect(await store.zrankWithScore('k', 'nope')).toBeNull();
      expect(await store.zrank('missing', 'a')).toBeNull();
    });

    it('ranges by rank with negative indexes, clamped, forward and reversed', async () => {
      await store.zadd('k', entries(['a', 1], ['b', 2], ['c', 3], ['d', 4]));
      expect((await store.zrange('k', -2, -1)).map((entry) => entry.member)).toEqual(['c', 'd']);
      expect((await store.zrange('k', 0, 0, { rev: true })).map((entry) => entry.member)).toEqual(['d']);
      expect((await store.zrange('k', -100, 100)).length).toBe(4);
      expect(await store.zrange('k', 3, 1)).toEqual([]);
      expect(await store.zrange('k', 4, 10)).toEqual([]);
      await expect(store.zrange('k', 0.5, 1)).rejects.toMatchObject({ code: 'ZSET_ERR_NOT_AN_INTEGER' });
    });

    it('ranges by score with exclusive bounds, infinities, LIMIT and REV', async () => {
      await store.zadd('k', entries(['a', 1], ['b', 2], ['c', 2], ['d', 3], ['e', 4]));
      const members = (found: { member: string }[]) => found.map((entry) => entry.member);
      expect(members(await store.zrangeByScore('k', { value: 1, exclusive: true }, 3))).toEqual([
        'b',
        'c',
        'd',
      ]);
      expect(
        members(await store.zrangeByScore('k', 2, { value: 4, exclusive: true }, { rev: true })),
      ).toEqual(['d', 'c', 'b']);
      const all = { limit: { offset: 1, count: 2 } };
      expect(
        members(await store.zrangeByScore('k', Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, all)),
      ).toEqual(['b', 'c']);
      expect(
        members(
          await store.zrangeByScore('k', Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, {
            rev: true,
            ...all,
          }),
        ),
      ).toEqual(['d', 'c']);
      expect(members(await store.zrangeByScore('k', 0, 10, { limit: { offset: 3, count: -1 } }))).toEqual([
        'd',
        'e',
      ]);
      expect(await store.zrangeByScore('k', 0, 10, { limit: { offset: -1, count: 2 } })).toEqual([]);
      expect(await store.zrangeByScore('k', 3, 1)).toEqual([]);
      expect(await store.zrangeByScore('k', { value: 2, exclusive: true }, 2)).toEqual([]);
      expect(await store.zcount('k', { value: 1, exclusive: true }, { value: 3, exclusive: true })).toBe(2);
    });

    it('answers a huge LIMIT with what there is, without spending by the count asked', async () => {
      await store.zadd('k', entries(['a', 1], ['b', 2]));
      const limit = { offset: 0, count: Number.MAX_SAFE_INTEGER };
      expect((await store.zrangeByScore('k', 0, 10, { limit })).length).toBe(2);
      expect(
        await store.zrangeByScore('k', 0, 10, { limit: { offset: Number.MAX_SAFE_INTEGER, count: 1 } }),
      ).toEqual([]);
      await expect(
        store.zrangeByScore('k', 0, 10, { limit: { offset: 0, count: 2 ** 60 } }),
      ).rejects.toMatchObject({
        code: 'ZSET_ERR_NOT_AN_INTEGER',
      });
    });

    it('removes members and ranges, and a key emptied is gone', async () => {
      await store.zadd('k', entries(['a', 1], ['b', 2], ['c', 3], ['d', 4], ['e', 5]));
      expect(await store.zrem('k', ['a', 'nope', 'a'])).toBe(1);
      expect(await store.zremRangeByRank('k', -1, -1)).toBe(1);
      expect(await store.zremRangeByScore('k', { value: 2, exclusive: true }, 3)).toBe(1);
      expect((await store.zrange('k', 0, -1)).map((entry) => entry.member)).toEqual(['b', 'd']);
      expect(await store.zrem('k', ['b', 'd'])).toBe(2);
      expect(await store.zcard('k')).toBe(0);
      expect(await store.del('k')).toBe(false);
      await store.zadd('k', entries(['a', 1]));
      expect(await store.del('k')).toBe(true);
      expect(await store.zscore('k', 'a')).toBeNull();
    });

    it('keeps the top N of a key, by highest or lowest score (a timeline cap)', async () => {
      await store.zadd('feed', entries(['p1', 1], ['p2', 2], ['p3', 3], ['p4', 4], ['p5', 5]));
      expect(await store.keepTop('feed', 3, 'highest')).toBe(2);
      expect((await store.zrange('feed', 0, -1)).map((entry) => entry.member)).toEqual(['p3', 'p4', 'p5']);
      expect(await store.keepTop('feed', 10, 'highest')).toBe(0);
      expect(await store.keepTop('feed', 1, 'lowest')).toBe(2);
      expect((await store.zrange('feed', 0, -1)).map((entry) => entry.member)).toEqual(['p3']);
      expect(await store.keepTop('feed', 0, 'highest')).toBe(1);
      expect(await store.zcard('feed')).toBe(0);
      await expect(store.keepTop('feed', -1, 'highest')).rejects.toMatchObject({
        code: 'ZSET_ERR_INVALID_OPTIONS',
      });
    });

    it('refuses oversized and ill-formed keys and members, on every command', async () => {
      const huge = 'm'.repeat(DEFAULT_SORTED_SET_LIMITS.maxMemberBytes + 1);
      await expect(store.zadd('k', entries([huge, 1]))).rejects.toMatchObject({
        code: 'ZSET_ERR_BAD_STRING',
      });
      await expect(store.zadd('k', entries(['\ud83d', 1]))).rejects.toMatchObject({
        code: 'ZSET_ERR_BAD_STRING',
      });
      await expect(store.zscore('k', 'a\udc00')).rejects.toMatchObject({ code: 'ZSET_ERR_BAD_STRING' });
      const hugeKey = 'k'.repeat(DEFAULT_SORTED_SET_LIMITS.maxKeyBytes + 1);
      await expect(store.zcard(hugeKey)).rejects.toMatchObject({ code: 'ZSET_ERR_BAD_STRING' });
      await expect(store.zrem('k', [])).rejects.toMatchObject({ code: 'ZSET_ERR_INVALID_OPTIONS' });
      expect(await store.zcard('k')).toBe(0);
    });

    it('keeps scores exact up to 2^53 and rounds above, as doubles do', async () => {
      await store.zadd('k', entries(['exact', 2 ** 53], ['rounded', 2 ** 53 + 1]));
      expect(await store.zscore('k', 'exact')).toBe(2 ** 53);
      expect(await store.zscore('k', 'rounded')).toBe(2 ** 53);
      await store.zadd('k', entries(['tiny', 5e-324], ['fraction', 0.1 + 0.2]));
      expect(await store.zscore('k', 'tiny')).toBe(5e-324);
      expect(await store.zscore('k', 'fraction')).toBe(0.1 + 0.2);
    });
  });
}
