import { HashRing, RING_SIZE, rangeWidth } from '@sysdesign/consistent-hashing';
import { hash52, type RangeReplicas } from '@sysdesign/quorum';

/**
 * Which nodes hold a key, and how keys group into Merkle-tree ranges.
 *
 * Placement is a consistent-hashing ring with virtual nodes: a key's replicas are the first N
 * distinct nodes clockwise from its hash, and the nodes after them are its fallbacks for sloppy
 * quorum. The ring holds every node the cluster has ever known (seeds and nodes announced by
 * gossip): a node that is down stays on the ring, as in Dynamo, because an outage is rarely a
 * departure; the failure detector decides who is *alive*, the ring who is *responsible*.
 *
 * Anti-entropy compares one Merkle tree per replica set rather than per ring range: the ranges
 * whose keys share the same N replicas form one group, so every replica of a group places each of
 * its keys in the same tree whatever else it holds. Three nodes with N = 3 make one group (every
 * node holds everything); ten nodes make a few dozen, against the thousands of ranges 256 virtual
 * nodes per node cut the ring into.
 */

/** Spare nodes walked past the N replicas, per N: fallbacks for sloppy quorum. */
const FALLBACKS_PER_REPLICA = 1;

export interface ReplicaGroup {
  /** Stable across nodes: a hash of the sorted replica list. */
  id: string;
  /** Sorted. */
  replicas: string[];
  /** Fraction of the ring whose keys this group holds. */
  share: number;
}

export interface NodeShare {
  /** Fraction of keys this node is the first replica (the owner) of. */
  primary: number;
  /** Fraction of keys this node holds a replica of. */
  replica: number;
}

export interface ClusterRingOptions {
  nodes: Iterable<string>;
  /** Replicas per key. */
  n: number;
  vnodes: number;
}

export class ClusterRing {
  readonly n: number;
  readonly vnodes: number;
  private readonly ring: HashRing;
  private replicaGroups: ReplicaGroup[] = [];
  private readonly groupIdByReplicas = new Map<string, string>();
  private nodeShares = new Map<string, NodeShare>();

  constructor(options: ClusterRingOptions) {
    this.n = options.n;
    this.vnodes = options.vnodes;
    this.ring = new HashRing({ vnodes: options.vnodes, nodes: [...new Set(options.nodes)] });
    this.recompute();
  }

  get size(): number {
    return this.ring.size;
  }

  nodes(): string[] {
    return this.ring.nodes();
  }

  has(node: string): boolean {
    return this.ring.has(node);
  }

  /** Adds a node; false when it was already on the ring. */
  add(node: string): boolean {
    if (this.ring.has(node)) return false;
    this.ring.add(node);
    this.recompute();
    return true;
  }

  /** The key's replicas (the first N distinct nodes clockwise), then its fallbacks. */
  preferenceList(key: string): string[] {
    const replicas = Math.min(this.n, this.size);
    return this.ring.preferenceList(key, Math.min(this.size, replicas * (1 + FALLBACKS_PER_REPLICA)));
  }

  /** The key's N replicas (fewer while the ring has fewer than N nodes). */
  replicasOf(key: string): string[] {
    return this.ring.preferenceList(key, Math.min(this.n, this.size));
  }

  /** The Merkle range (replica group) of a key: the same on every node with the same ring. */
  rangeOf(key: string): string {
    return this.groupId(this.replicasOf(key));
  }

  /** The groups `node` is a replica of: what its anti-entropy compares, and with whom. */
  rangesOf(node: string): RangeReplicas[] {
    return this.replicaGroups
      .filter((group) => group.replicas.includes(node))
      .map((group) => ({ range: group.id, replicas: group.replicas }));
  }

  groups(): readonly ReplicaGroup[] {
    return this.replicaGroups;
  }

  /** Each node's share of the ring, as owner and as replica. */
  shares(): ReadonlyMap<string, NodeShare> {
    return this.nodeShares;
  }

  private groupId(replicas: readonly string[]): string {
    const name = [...replicas].sort().join('\n');
    let id = this.groupIdByReplicas.get(name);
    if (id === undefined) {
      id = `g${hash52(name).toString(36)}`;
      this.groupIdByReplicas.set(name, id);
    }
    return id;
  }

  private recompute(): void {
    const byId = new Map<string, ReplicaGroup>();
    const shares = new Map<string, NodeShare>();
    for (const [node, primary] of this.ring.ownership()) shares.set(node, { primary, replica: 0 });
    const replicas = Math.min(this.n, this.size);
    for (const range of replicas === 0 ? [] : this.ring.replicaRanges(replicas)) {
      const width = rangeWidth(range) / RING_SIZE;
      const id = this.groupId(range.replicas);
      const group = byId.get(id) ?? { id, replicas: [...range.replicas].sort(), share: 0 };
      group.share += width;
      byId.set(id, group);
      for (const node of range.replicas) shares.get(node)!.replica += width;
    }
    this.replicaGroups = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.nodeShares = shares;
  }
}
