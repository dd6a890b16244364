import { describe, expect, it } from 'vitest';
import { diffLeafEntries, type LeafEntry, MerkleTree } from '../src/index.js';
import { Random } from '../src/testing.js';

function entries(count: number, seed = 1): LeafEntry[] {
  const random = new Random(seed);
  return Array.from({ length: count }, (_, index) => ({ key: `key-${index}`, digest: random.uint32() }));
}

describe('Merkle trees', () => {
  it('gives equal roots for equal contents, whatever the insertion order', () => {
    // Leaf hashes are sums, so order cannot matter; an empty tree hashes to 0.
    const list = entries(500);
    const forward = MerkleTree.build(list, 8);
    const backward = MerkleTree.build([...list].reverse(), 8);
    expect(forward.root()).toBe(backward.root());
    expect(forward.root()).not.toBe(0);
    expect(new MerkleTree(8).root()).toBe(0);
    expect(forward.size).toBe(500);
  });

  it('finds exactly the leaves and keys that differ', () => {
    // Two replicas of 1,000 keys; one changed digest, one key missing on each side.
    const list = entries(1000);
    const local = MerkleTree.build(list, 10);
    const remote = MerkleTree.build(list, 10);
    remote.set('key-10', 42);
    remote.delete('key-20');
    local.delete('key-30');
    const leaves = local.diff(remote);
    const expectedLeaves = [...new Set(['key-10', 'key-20', 'key-30'].map((key) => local.leafOf(key)))].sort(
      (a, b) => a - b,
    );
    expect(leaves).toEqual(expectedLeaves);
    const diff = diffLeafEntries(
      leaves.flatMap((leaf) => local.leafEntries(leaf)),
      leaves.flatMap((leaf) => remote.leafEntries(leaf)),
    );
    expect(diff).toEqual({ onlyLocal: ['key-20'], onlyRemote: ['key-30'], different: ['key-10'] });
  });

  it('matches a full rebuild after thousands of incremental updates', () => {
    // Random sets and deletes on one tree, then a tree built from the final contents: same hashes at every level.
    const random = new Random(5);
    const tree = new MerkleTree(6);
    const contents = new Map<string, number>();
    for (let step = 0; step < 5000; step++) {
      const key = `k${random.int(300)}`;
      if (random.chance(0.3)) {
        tree.delete(key);
        contents.delete(key);
      } else {
        const digest = random.uint32();
        tree.set(key, digest);
        contents.set(key, digest);
      }
      if (step % 500 === 0) tree.root(); // interleave lazy recomputation with updates
    }
    const rebuilt = MerkleTree.build(
      [...contents].map(([key, digest]) => ({ key, digest })),
      6,
    );
    for (let level = 0; level <= 6; level++) {
      const indexes = Array.from({ length: 2 ** level }, (_, index) => index);
      expect(tree.hashesAt(level, indexes)).toEqual(rebuilt.hashesAt(level, indexes));
    }
    expect(tree.size).toBe(contents.size);
  });

  it('places keys by token, each leaf covering one contiguous token range', () => {
    // Leaf i of a depth-d tree covers tokens [i * 2^(32-d), (i+1) * 2^(32-d)).
    expect(MerkleTree.tokenRange(0, 4)).toEqual({ fromToken: 0, toToken: 2 ** 28 });
    expect(MerkleTree.tokenRange(15, 4)).toEqual({ fromToken: 15 * 2 ** 28, toToken: 2 ** 32 });
    const tree = new MerkleTree(4);
    for (const { key } of entries(200)) expect(tree.leafOf(key)).toBeLessThan(16);
  });

  it('keeps the cost of a comparison proportional to the differences, not the key count', () => {
    // 20,000 keys, 3 changed: walking down from the root touches only a handful of leaves.
    const list = entries(20_000);
    const local = MerkleTree.build(list, 12);
    const remote = MerkleTree.build(list, 12);
    for (const key of ['key-1', 'key-2', 'key-3']) remote.set(key, 7);
    const leaves = local.diff(remote);
    expect(leaves.length).toBeLessThanOrEqual(3);
    const keysToCompare = leaves.flatMap((leaf) => local.leafEntries(leaf)).length;
    expect(keysToCompare).toBeLessThan(40);
  });

  it('rejects depths outside [1, 20]', () => {
    // A depth is a memory bound: 2^(depth+1) hashes.
    expect(() => new MerkleTree(0)).toThrow(/merkleDepth/);
    expect(() => new MerkleTree(21)).toThrow(/merkleDepth/);
  });
});
