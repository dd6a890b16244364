import { describe, expect, it } from 'vitest';
import { ClusterRing } from '../../src/domain/ring.js';

/** Placement and Merkle ranges over the consistent-hashing ring. */

const nodes = (count: number) => Array.from({ length: count }, (_, index) => `http://kv-${index + 1}:3002`);
const keys = Array.from({ length: 2_000 }, (_, index) => `key-${index}`);

describe('ClusterRing', () => {
  it('gives every key N distinct replicas then fallbacks, the same on every node whatever the join order', () => {
    // Proves placement is a pure function of the member set (every process builds its own ring).
    const a = new ClusterRing({ nodes: nodes(5), n: 3, vnodes: 64 });
    const b = new ClusterRing({ nodes: nodes(5).reverse(), n: 3, vnodes: 64 });
    for (const key of keys.slice(0, 200)) {
      const list = a.preferenceList(key);
      expect(list).toEqual(b.preferenceList(key));
      expect(new Set(list).size).toBe(list.length);
      expect(list.slice(0, 3)).toEqual(a.replicasOf(key));
      expect(list.length).toBe(5);
      expect(a.rangeOf(key)).toBe(b.rangeOf(key));
    }
  });

  it('puts all keys of a three-node, N = 3 cluster in one replica group, and groups larger rings by replica set', () => {
    // Proves Merkle trees are per replica set: one tree when every node holds everything.
    const three = new ClusterRing({ nodes: nodes(3), n: 3, vnodes: 256 });
    expect(three.groups()).toHaveLength(1);
    expect(three.rangesOf(nodes(3)[0]!)).toEqual([
      { range: three.groups()[0]!.id, replicas: [...nodes(3)].sort() },
    ]);
    for (const share of three.shares().values()) expect(share.replica).toBeCloseTo(1, 9);

    const six = new ClusterRing({ nodes: nodes(6), n: 3, vnodes: 64 });
    const total = six.groups().reduce((sum, group) => sum + group.share, 0);
    expect(total).toBeCloseTo(1, 9);
    for (const key of keys.slice(0, 300)) {
      const group = six.groups().find((candidate) => candidate.id === six.rangeOf(key))!;
      expect(group.replicas).toEqual([...six.replicasOf(key)].sort());
    }
    // Each node replicates about N/nodes of the ring.
    for (const share of six.shares().values()) expect(share.replica).toBeGreaterThan(0.35);
  });

  it('moves only the keys a joining node takes over, and only onto it', () => {
    // Proves add() is consistent hashing: about N/(n+1) of replica slots change, all to the new node.
    const ring = new ClusterRing({ nodes: nodes(4), n: 3, vnodes: 128 });
    const before = new Map(keys.map((key) => [key, ring.replicasOf(key)]));
    expect(ring.add('http://kv-5:3002')).toBe(true);
    expect(ring.add('http://kv-5:3002')).toBe(false);
    let changed = 0;
    for (const key of keys) {
      const after = ring.replicasOf(key);
      const old = before.get(key)!;
      const added = after.filter((node) => !old.includes(node));
      if (added.length > 0) {
        changed++;
        expect(added).toEqual(['http://kv-5:3002']);
      }
    }
    expect(changed / keys.length).toBeGreaterThan(0.45);
    expect(changed / keys.length).toBeLessThan(0.75);
  });

  it('works with fewer nodes than N: every node holds every key', () => {
    // Proves a cluster that is still forming (2 nodes, N = 3) places keys instead of failing.
    const ring = new ClusterRing({ nodes: nodes(2), n: 3, vnodes: 16 });
    expect(ring.replicasOf('k')).toHaveLength(2);
    expect(ring.preferenceList('k')).toHaveLength(2);
  });
});
