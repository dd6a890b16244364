import { describe, expect, it } from 'vitest';
import {
  MEMBER_OVERHEAD_BYTES,
  MemorySortedSetStore,
  SortedSetFullError,
  SortedSetKeyspace,
  sortedSetProblemOf,
} from '../../../src/index.js';
import { sortedSetStoreContract } from './contract.js';

sortedSetStoreContract('memory', async () => ({ store: new MemorySortedSetStore(), close: async () => {} }));

describe('SortedSetKeyspace bounds', () => {
  it('refuses an add past the member bound with a typed error, applying none of it', () => {
    // Proves the bound is checked before the command changes anything: the set stays as it was.
    const keyspace = new SortedSetKeyspace({ maxMembers: 3 });
    keyspace.zadd('k', [{ member: 'a', score: 1 }]);
    const add = () =>
      keyspace.zadd('k', [
        { member: 'a', score: 9 },
        { member: 'b', score: 2 },
        { member: 'c', score: 3 },
        { member: 'd', score: 4 },
      ]);
    expect(add).toThrow(SortedSetFullError);
    expect(keyspace.zrange('k', 0, -1)).toEqual([{ member: 'a', score: 1 }]);
    // Updates and re-adds of present members need no room.
    expect(
      keyspace.zadd('k', [
        { member: 'a', score: 9 },
        { member: 'b', score: 2 },
        { member: 'b', score: 3 },
      ]),
    ).toBe(1);
    expect(() => keyspace.zincrby('other', 1, 'x')).not.toThrow();
    expect(() => keyspace.zincrby('other', 1, 'y')).toThrow(expect.objectContaining({ bound: 'members' }));
  });

  it('counts approximate bytes per member and per key, and gives them all back when keys go', () => {
    // Every removal path returns what the adds took: the counters end at zero.
    const keyspace = new SortedSetKeyspace();
    for (let key = 0; key < 20; key++) {
      keyspace.zadd(
        `key-${key}`,
        Array.from({ length: 50 }, (_, index) => ({ member: `ключ-${index}`, score: index })),
      );
    }
    expect(keyspace.memberCount).toBe(1_000);
    expect(keyspace.approximateBytes).toBeGreaterThan(1_000 * MEMBER_OVERHEAD_BYTES);
    for (let key = 0; key < 20; key++) {
      const name = `key-${key}`;
      if (key % 5 === 0) keyspace.del(name);
      else if (key % 5 === 1)
        keyspace.zremRangeByScore(name, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
      else if (key % 5 === 2) keyspace.keepTop(name, 0, 'lowest');
      else if (key % 5 === 3)
        keyspace.zrem(
          name,
          keyspace.zrange(name, 0, -1).map((entry) => entry.member),
        );
      else keyspace.zremRangeByRank(name, 0, -1);
    }
    expect([keyspace.memberCount, keyspace.approximateBytes, keyspace.keyCount]).toEqual([0, 0, 0]);
  });

  it('bounds members of 1 MiB by the byte bound when the member limit allows them', () => {
    // A caller who raises maxMemberBytes still cannot pass maxBytes: the fourth 1 MiB member is refused.
    const mebibyte = 1024 * 1024;
    const keyspace = new SortedSetKeyspace({ maxMemberBytes: mebibyte, maxBytes: 3.5 * mebibyte });
    for (let index = 0; index < 3; index++) {
      keyspace.zadd('big', [{ member: String(index).repeat(mebibyte), score: index }]);
    }
    expect(() => keyspace.zadd('big', [{ member: 'x'.repeat(mebibyte), score: 9 }])).toThrow(
      expect.objectContaining({ bound: 'bytes', code: 'ZSET_ERR_FULL' }),
    );
    expect(keyspace.zcard('big')).toBe(3);
    expect(() => new SortedSetKeyspace().zadd('k', [{ member: 'x'.repeat(mebibyte), score: 1 }])).toThrow(
      expect.objectContaining({ code: 'ZSET_ERR_BAD_STRING' }),
    );
  });

  it('bounds many keys: each empty-set overhead counts against the byte bound', () => {
    // 100,000 one-member keys need more than 1 MiB of overhead, so a 1 MiB keyspace stops early.
    const keyspace = new SortedSetKeyspace({ maxBytes: 1024 * 1024 });
    let created = 0;
    expect(() => {
      for (; created < 100_000; created++) keyspace.zadd(`user:${created}`, [{ member: 'm', score: 1 }]);
    }).toThrow(SortedSetFullError);
    expect(created).toBeLessThan(2_000);
    expect(keyspace.keyCount).toBe(created);
  });

  it('maps refusals to problems: 400 for bad input, 507 when full', () => {
    const keyspace = new SortedSetKeyspace({ maxMembers: 1 });
    keyspace.zadd('k', [{ member: 'a', score: 1 }]);
    const full = (() => {
      try {
        keyspace.zadd('k', [{ member: 'b', score: 1 }]);
      } catch (error) {
        return error;
      }
    })();
    expect(sortedSetProblemOf(full)?.status).toBe(507);
    const nan = (() => {
      try {
        keyspace.zadd('k', [{ member: 'a', score: Number.NaN }]);
      } catch (error) {
        return error;
      }
    })();
    expect(sortedSetProblemOf(nan)?.toBody()).toMatchObject({ status: 400, code: 'ZSET_ERR_NOT_A_FLOAT' });
    expect(sortedSetProblemOf(new Error('other'))).toBeUndefined();
  });

  it('refuses limits that are not positive', () => {
    expect(() => new SortedSetKeyspace({ maxMembers: 0 })).toThrow(RangeError);
    expect(() => new SortedSetKeyspace({ maxBytes: Number.NaN })).toThrow(RangeError);
  });
});
