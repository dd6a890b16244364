/**
 * Rendezvous, or highest random weight, hashing (Thaler and Ravishankar, 1996): every node scores the
 * key, the highest score wins. No ring and no virtual nodes; shares are even up to sampling noise and
 * a join moves exactly the keys the new node wins (the minimum). Lookup is O(n) in the node count.
 *
 * Weights use the logarithmic method (Schindelhauer and Schomaker, 2005; Ceph's straw2): with h uniform
 * in (0, 1), score = weight / -ln(h). A node then wins a key with probability weight / total weight,
 * and changing one node's weight moves keys only to or from that node.
 */
import { ConsistentHashingErrorCode, fail } from './errors.js';
import { hashPosition, type Key, lastHashHigh, lastHashLow, mixPair, murmur3x86_32 } from './hash.js';
import {
  assertInteger,
  assertNodeId,
  type NodeOptions,
  type NodeSpec,
  normalizeNodes,
  normalizeWeight,
  type Placement,
} from './placement.js';

/** Each node's seed is MurmurHash3_x86_32 of its id with this seed ("RDV1"). */
const NODE_SEED = 0x52445631;
const TWO_POW_32 = 2 ** 32;

export interface RendezvousOptions {
  nodes?: Iterable<string | NodeSpec>;
}

export class Rendezvous implements Placement {
  readonly algorithm = 'rendezvous';
  /** Sorted by id, so ties (equal scores) go to the smaller id on every instance. */
  private ids: string[] = [];
  private seeds = new Int32Array(0);
  private weights = new Float64Array(0);
  private uniformWeights = true;

  constructor(options: RendezvousOptions = {}) {
    for (const node of normalizeNodes(options.nodes)) this.add(node.id, { weight: node.weight });
  }

  get size(): number {
    return this.ids.length;
  }

  nodes(): string[] {
    return [...this.ids];
  }

  has(node: string): boolean {
    return this.indexOf(node) >= 0;
  }

  weightOf(node: string): number {
    const index = this.indexOf(node);
    if (index < 0) fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not a member`);
    return this.weights[index]!;
  }

  add(node: string, options: NodeOptions = {}): void {
    assertNodeId(node);
    if (this.has(node)) fail(ConsistentHashingErrorCode.DUPLICATE_NODE, `node "${node}" is already a member`);
    const weight = normalizeWeight(node, options.weight);
    const members = this.members();
    members.push({ id: node, weight });
    this.install(members);
  }

  remove(node: string): void {
    if (!this.has(node)) fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not a member`);
    this.install(this.members().filter((member) => member.id !== node));
  }

  setWeight(node: string, weight: number): void {
    if (!this.has(node)) fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not a member`);
    const normalized = normalizeWeight(node, weight);
    this.install(
      this.members().map((member) => (member.id === node ? { id: node, weight: normalized } : member)),
    );
  }

  lookup(key: Key): string {
    const count = this.ids.length;
    if (count === 0) fail(ConsistentHashingErrorCode.EMPTY, 'lookup with no nodes');
    hashPosition(key);
    const high = lastHashHigh();
    const low = lastHashLow();
    const seeds = this.seeds;
    let best = 0;
    if (this.uniformWeights) {
      // Equal weights: the highest hash wins, no logarithm needed.
      let bestHash = -1;
      for (let index = 0; index < count; index++) {
        const hash = mixPair(high, low, seeds[index]!);
        if (hash > bestHash) {
          bestHash = hash;
          best = index;
        }
      }
      return this.ids[best]!;
    }
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let index = 0; index < count; index++) {
      const score = this.score(high, low, index);
      if (score > bestScore) {
        bestScore = score;
        best = index;
      }
    }
    return this.ids[best]!;
  }

  /** The `count` highest-scoring nodes for the key, best first: a preference list for replicas. */
  preferenceList(key: Key, count: number): string[] {
    const size = this.ids.length;
    if (size === 0) fail(ConsistentHashingErrorCode.EMPTY, 'preference list with no nodes');
    assertInteger('count', count, 1, Number.MAX_SAFE_INTEGER);
    if (count > size)
      fail(
        ConsistentHashingErrorCode.NOT_ENOUGH_NODES,
        `asked for ${count} distinct nodes, there are ${size}`,
      );
    hashPosition(key);
    const high = lastHashHigh();
    const low = lastHashLow();
    const ranked: { index: number; score: number }[] = [];
    for (let index = 0; index < size; index++) ranked.push({ index, score: this.score(high, low, index) });
    // Stable sort: equal scores keep id order, the same tie rule as lookup.
    ranked.sort((a, b) => b.score - a.score);
    return ranked.slice(0, count).map((entry) => this.ids[entry.index]!);
  }

  private score(high: number, low: number, index: number): number {
    const unit = (mixPair(high, low, this.seeds[index]!) + 0.5) / TWO_POW_32;
    return this.weights[index]! / -Math.log(unit);
  }

  private indexOf(node: string): number {
    // Binary search over the sorted ids.
    let low = 0;
    let high = this.ids.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const id = this.ids[middle]!;
      if (id === node) return middle;
      if (id < node) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  private members(): { id: string; weight: number }[] {
    return this.ids.map((id, index) => ({ id, weight: this.weights[index]! }));
  }

  private install(members: { id: string; weight: number }[]): void {
    members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.ids = members.map((member) => member.id);
    this.seeds = Int32Array.from(members, (member) => murmur3x86_32(member.id, NODE_SEED) | 0);
    this.weights = Float64Array.from(members, (member) => member.weight);
    this.uniformWeights = members.every((member) => member.weight === members[0]!.weight);
  }
}
