import { seededRandom } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import type { StoredEntry } from '../../src/storage/entry.js';
import { Memtable, SkipList, SortedArray, type SortedIndex } from '../../src/storage/memtable.js';

const entry = (key: string, seq: number, kind: StoredEntry['kind'] = 'value'): StoredEntry => ({
  key,
  kind,
  value: Buffer.from(`v${seq}`),
  seq,
  timestampMs: seq,
});

for (const [name, create] of [
  ['skip list', () => new SkipList()],
  ['sorted array', () => new SortedArray()],
] as Array<[string, () => SortedIndex]>) {
  describe(`memtable index: ${name}`, () => {
    it('matches a Map plus sort under 5,000 random inserts and overwrites', () => {
      // Drives the index and a model with the same seeded keys, then compares lookups, order and ranges.
      const index = create();
      const model = new Map<string, StoredEntry>();
      const random = seededRandom(7);
      for (let seq = 1; seq <= 5_000; seq++) {
        const key = `k${Math.floor(random() * 1_500)}`;
        const created = entry(key, seq);
        const replaced = index.set(created);
        expect(replaced).toBe(model.get(key));
        model.set(key, created);
      }
      const sortedKeys = [...model.keys()].sort();
      expect(index.size).toBe(model.size);
      expect([...index.values()].map((found) => found.key)).toEqual(sortedKeys);
      for (const key of sortedKeys) expect(index.get(key)).toBe(model.get(key));
      expect(index.get('k-absent')).toBeUndefined();
      const start = sortedKeys[100]!;
      const end = sortedKeys[160]!;
      expect(index.range(start, end, 1_000).map((found) => found.key)).toEqual(sortedKeys.slice(100, 160));
      expect(index.range(start, undefined, 7).map((found) => found.key)).toEqual(sortedKeys.slice(100, 107));
      expect(index.range('k0', undefined, 3).map((found) => found.key)).toEqual(sortedKeys.slice(0, 3));
      expect(index.range(`${sortedKeys.at(-1)}~`, undefined, 10)).toEqual([]);
    });

    it('orders keys by JavaScript string order, including non-ASCII keys', () => {
      // Inserts in reverse order; iteration must follow `<` on strings.
      const index = create();
      const keys = ['zebra', 'Zebra', 'éclair', 'a', '🔑', 'ab', 'a\u0000'];
      for (const [position, key] of [...keys].reverse().entries()) index.set(entry(key, position + 1));
      expect([...index.values()].map((found) => found.key)).toEqual([...keys].sort());
    });
  });
}

describe('memtable accounting', () => {
  it('tracks bytes, tombstones and sequence range across overwrites', () => {
    // A value, then its tombstone, then a new value: counts follow the current version only.
    const memtable = new Memtable('skiplist');
    memtable.apply(entry('a', 1), 1);
    const afterOne = memtable.bytes;
    memtable.apply(entry('a', 2, 'tombstone'), 1);
    expect(memtable.tombstones).toBe(1);
    expect(memtable.bytes).toBe(afterOne);
    memtable.apply(entry('a', 3), 1);
    expect(memtable.tombstones).toBe(0);
    expect([memtable.minSeq, memtable.maxSeq, memtable.entryCount]).toEqual([1, 3, 1]);
  });
});
