import { assert, InvalidOptionError } from './errors.js';
import { addHashes, combineHashes, hash32, hash52, subtractHashes } from './hash.js';
import type { LeafEntry } from './transport.js';

/**
 * A Merkle tree over one key range, for anti-entropy: two replicas compare roots, then children of
 * the nodes that differ, down to the leaves, and exchange only the keys in differing leaves.
 *
 * Shape: a complete binary tree of fixed `depth`. Leaf `i` covers the tokens (32-bit hashes of
 * keys) in `[i * 2^(32-depth), (i+1) * 2^(32-depth))`, so both replicas put a key in the same leaf
 * whatever else they hold. A leaf's hash is the sum (mod 2^52) of hash(key, version digest) over
 * its keys, so setting one key is O(1) at the leaf; inner hashes are recomputed lazily, only along
 * paths marked dirty, when someone asks for them. An empty subtree hashes to 0 on every replica.
 *
 * Memory: 16 bytes per tree node (2^(depth+1) of them) plus the key -> digest map of the leaves
 * (about 100 bytes per key), which is what lets a leaf list its keys without a store scan.
 */

export const DEFAULT_MERKLE_DEPTH = 10;
export const MAX_MERKLE_DEPTH = 20;

export interface KeyDiff {
  /** Keys only this side has. */
  onlyLocal: string[];
  /** Keys only the other side has. */
  onlyRemote: string[];
  /** Keys both have, with different version sets. */
  different: string[];
}

export interface TokenRange {
  /** First token of the leaf, inclusive. */
  fromToken: number;
  /** Last token of the leaf, exclusive (2^32 for the last leaf). */
  toToken: number;
}

export class MerkleTree {
  readonly depth: number;
  readonly leafCount: number;
  /** Heap layout: node 1 is the root, node k has children 2k and 2k+1; leaves at [leafCount, 2*leafCount). */
  private readonly hashes: Float64Array;
  private readonly dirty: Uint8Array;
  private readonly leaves: Array<Map<string, number> | undefined>;
  private entryCount = 0;

  constructor(depth = DEFAULT_MERKLE_DEPTH) {
    if (!Number.isInteger(depth) || depth < 1 || depth > MAX_MERKLE_DEPTH) {
      throw new InvalidOptionError(
        'merkleDepth',
        `must be an integer in [1, ${MAX_MERKLE_DEPTH}], got ${depth}`,
      );
    }
    this.depth = depth;
    this.leafCount = 2 ** depth;
    this.hashes = new Float64Array(2 * this.leafCount);
    this.dirty = new Uint8Array(this.leafCount);
    this.leaves = new Array(this.leafCount);
  }

  /** A tree of `entries` (key and the digest of its versions); the "cheap rebuild". */
  static build(entries: Iterable<LeafEntry>, depth = DEFAULT_MERKLE_DEPTH): MerkleTree {
    const tree = new MerkleTree(depth);
    for (const entry of entries) tree.set(entry.key, entry.digest);
    return tree;
  }

  static leafOf(key: string, depth: number): number {
    return Math.floor(hash32(key) / 2 ** (32 - depth));
  }

  static tokenRange(leaf: number, depth: number): TokenRange {
    const width = 2 ** (32 - depth);
    return { fromToken: leaf * width, toToken: (leaf + 1) * width };
  }

  get size(): number {
    return this.entryCount;
  }

  leafOf(key: string): number {
    return MerkleTree.leafOf(key, this.depth);
  }

  get(key: string): number | undefined {
    return this.leaves[this.leafOf(key)]?.get(key);
  }

  /** Records `key` with the digest of its versions (replacing the previous one). */
  set(key: string, digest: number): void {
    const leaf = this.leafOf(key);
    let entries = this.leaves[leaf];
    if (entries === undefined) {
      entries = new Map();
      this.leaves[leaf] = entries;
    }
    const previous = entries.get(key);
    if (previous === digest) return;
    let hash = this.hashes[this.leafCount + leaf]!;
    if (previous !== undefined) hash = subtractHashes(hash, entryHash(key, previous));
    else this.entryCount++;
    entries.set(key, digest);
    this.setLeafHash(leaf, addHashes(hash, entryHash(key, digest)));
  }

  delete(key: string): boolean {
    const leaf = this.leafOf(key);
    const entries = this.leaves[leaf];
    const previous = entries?.get(key);
    if (entries === undefined || previous === undefined) return false;
    entries.delete(key);
    this.entryCount--;
    this.setLeafHash(leaf, subtractHashes(this.hashes[this.leafCount + leaf]!, entryHash(key, previous)));
    return true;
  }

  root(): number {
    return this.hashOf(1);
  }

  /** Hashes of the nodes at `level` (0 = root, `depth` = leaves) with the given in-level indexes. */
  hashesAt(level: number, indexes: readonly number[]): number[] {
    assert(
      Number.isInteger(level) && level >= 0 && level <= this.depth,
      `level ${level} of a depth-${this.depth} tree`,
    );
    const width = 2 ** level;
    return indexes.map((index) => {
      assert(Number.isInteger(index) && index >= 0 && index < width, `index ${index} at level ${level}`);
      return this.hashOf(width + index);
    });
  }

  /** The keys of one leaf with their digests, sorted by key. */
  leafEntries(leaf: number): LeafEntry[] {
    assert(Number.isInteger(leaf) && leaf >= 0 && leaf < this.leafCount, `leaf ${leaf}`);
    const entries = this.leaves[leaf];
    if (entries === undefined) return [];
    return [...entries].map(([key, digest]) => ({ key, digest })).sort(byKey);
  }

  /** Leaves whose hashes differ from `other`'s (same depth), found by descending from the root. */
  diff(other: MerkleTree): number[] {
    assert(other.depth === this.depth, `comparing trees of depth ${this.depth} and ${other.depth}`);
    const leaves: number[] = [];
    const stack = [1];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (this.hashOf(node) === other.hashOf(node)) continue;
      if (node >= this.leafCount) leaves.push(node - this.leafCount);
      else stack.push(2 * node + 1, 2 * node);
    }
    return leaves.sort((a, b) => a - b);
  }

  clear(): void {
    this.hashes.fill(0);
    this.dirty.fill(0);
    this.leaves.fill(undefined);
    this.entryCount = 0;
  }

  private setLeafHash(leaf: number, hash: number): void {
    this.hashes[this.leafCount + leaf] = hash;
    let node = (this.leafCount + leaf) >> 1;
    while (node >= 1 && this.dirty[node] === 0) {
      this.dirty[node] = 1;
      node >>= 1;
    }
  }

  private hashOf(node: number): number {
    if (node >= this.leafCount || this.dirty[node] === 0) return this.hashes[node]!;
    const left = this.hashOf(2 * node);
    const right = this.hashOf(2 * node + 1);
    const hash = left === 0 && right === 0 ? 0 : combineHashes(left, right);
    this.hashes[node] = hash;
    this.dirty[node] = 0;
    return hash;
  }
}

/** Which keys differ between two lists of leaf entries (each sorted or not). */
export function diffLeafEntries(local: readonly LeafEntry[], remote: readonly LeafEntry[]): KeyDiff {
  const remoteDigests = new Map(remote.map((entry) => [entry.key, entry.digest]));
  const diff: KeyDiff = { onlyLocal: [], onlyRemote: [], different: [] };
  const localKeys = new Set<string>();
  for (const entry of local) {
    localKeys.add(entry.key);
    const digest = remoteDigests.get(entry.key);
    if (digest === undefined) diff.onlyLocal.push(entry.key);
    else if (digest !== entry.digest) diff.different.push(entry.key);
  }
  for (const entry of remote) if (!localKeys.has(entry.key)) diff.onlyRemote.push(entry.key);
  return diff;
}

function entryHash(key: string, digest: number): number {
  return hash52(`${key}\u0000${digest}`);
}

function byKey(a: LeafEntry, b: LeafEntry): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
