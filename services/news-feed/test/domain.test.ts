import { describe, expect, it } from 'vitest';
import { batchesOf, deliveryOf, pulledAuthors } from '../src/domain/fanout.js';
import { mergeNewestFirst } from '../src/domain/page.js';
import { decodeCursor, encodeCursor, ID_MAX, isBefore, memberOfId, scoreOfId } from '../src/domain/score.js';
import { powerLawEdges } from '../src/seed.js';
import { MemoryTier } from '../src/store/cache.js';

/** The pure parts: scores in 53 bits, cursors, the fanout decision, the merge, the LRU tier, the seed graph. */

describe('scores and cursors', () => {
  it('packs a snowflake id’s millisecond and sequence into an exact 53-bit score, dropping the node', () => {
    const ms = 2n ** 41n - 1n;
    const id = (ms << 22n) | (31n << 17n) | (31n << 12n) | 4095n;
    expect(scoreOfId(id)).toBe(Number((ms << 12n) | 4095n));
    expect(scoreOfId(id)).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    const otherNode = (ms << 22n) | (3n << 12n) | 4095n;
    expect(scoreOfId(otherNode)).toBe(scoreOfId(id));
  });

  it('orders members by id as bytes, as Redis orders ties', () => {
    const ids = [5n, 40n, 1_000n, ID_MAX];
    const members = ids.map(memberOfId);
    expect([...members].sort()).toEqual(members);
  });

  it('round-trips a cursor and refuses one whose score does not match its id', () => {
    const id = (123_456n << 22n) | 7n;
    const position = { score: scoreOfId(id), id };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
    expect(() => decodeCursor(encodeCursor({ score: position.score + 1, id }))).toThrow(/cursor/);
  });

  it('orders positions by score, then id', () => {
    expect(isBefore({ score: 2, id: 1n }, { score: 1, id: 9n })).toBe(true);
    expect(isBefore({ score: 1, id: 9n }, { score: 1, id: 8n })).toBe(true);
    expect(isBefore({ score: 1, id: 8n }, { score: 1, id: 8n })).toBe(false);
  });
});

describe('the fanout decision', () => {
  it('pushes on write, pulls on read, and pulls only celebrities in the hybrid', () => {
    expect(deliveryOf('write', true)).toBe('push');
    expect(deliveryOf('read', false)).toBe('pull');
    expect(deliveryOf('hybrid', false)).toBe('push');
    expect(deliveryOf('hybrid', true)).toBe('pull');
    const followees = [
      { id: 'a', celebrity: false },
      { id: 'b', celebrity: true },
    ];
    expect(pulledAuthors('write', followees)).toEqual([]);
    expect(pulledAuthors('hybrid', followees)).toEqual(['b']);
    expect(pulledAuthors('read', followees)).toEqual(['a', 'b']);
  });

  it('splits followers into batches of the given size, the last one shorter', () => {
    expect(batchesOf([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(() => batchesOf([1], 0)).toThrow(RangeError);
  });
});

describe('merging sources', () => {
  it('merges newest first and keeps each post once', () => {
    const a = [
      { score: 9, id: 9n, author: 'a' },
      { score: 5, id: 5n, author: 'a' },
    ];
    const b = [
      { score: 9, id: 9n, author: 'a' },
      { score: 7, id: 7n, author: 'b' },
    ];
    expect(mergeNewestFirst([a, b]).map((candidate) => candidate.id)).toEqual([9n, 7n, 5n]);
  });
});

describe('the in-memory cache tier', () => {
  it('keeps at most its bound, evicting the least recently used, and expires entries', async () => {
    let now = 0;
    const tier = new MemoryTier('t', 2, 100, () => now);
    await tier.setMany([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(tier.get('a')).toBe('1');
    tier.set('c', '3');
    expect(await tier.getMany(['a', 'b', 'c'])).toEqual(['1', undefined, '3']);
    now = 100;
    expect(tier.get('a')).toBeUndefined();
    expect(tier.size).toBe(1);
  });
});

describe('the seed graph', () => {
  it('gives a power law: the most followed users have far more followers than the median', () => {
    const edges = powerLawEdges({
      users: 2_000,
      meanFollowing: 20,
      celebrities: 2,
      celebrityReach: 0.5,
      alpha: 1,
      seed: 3,
    });
    const followers = new Array<number>(2_000).fill(0);
    for (const [, followee] of edges) followers[followee]! += 1;
    const sorted = [...followers].sort((x, y) => y - x);
    expect(sorted[0]).toBeGreaterThan(800);
    expect(sorted[1_000]).toBeLessThan(20);
    expect(edges.every(([follower, followee]) => follower !== followee)).toBe(true);
  });
});
