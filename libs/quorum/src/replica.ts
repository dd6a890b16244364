import { type Clock, systemClock } from './clock.js';
import {
  assert,
  InvalidContextError,
  InvalidMessageError,
  InvalidOptionError,
  QuorumError,
  QuorumErrorCode,
} from './errors.js';
import type { HintStore } from './hints.js';
import { DEFAULT_MERKLE_DEPTH, MerkleTree } from './merkle.js';
import type { ReplicaStore } from './store.js';
import type { KeyVersions, LeafEntry, NodeId, PeerRequest, PeerResponse } from './transport.js';
import { type ClockEntry, DEFAULT_MAX_CLOCK_ENTRIES, pruneClock, type VectorClock } from './vector-clock.js';
import {
  digestVersions,
  onlyTombstonesBefore,
  reconcile,
  sameDot,
  type Version,
  versionsBytes,
} from './version.js';

/**
 * One node's replica: serves the peer protocol over its local store. It mints versions for the
 * writes it coordinates, merges versions others send (replication, read repair, hinted handoff,
 * anti-entropy), keeps hinted writes apart, and maintains one Merkle tree per key range,
 * incrementally, as writes land.
 */

/** Cassandra's gc_grace_seconds default (10 days): how long a tombstone must outlive its delete. */
export const DEFAULT_TOMBSTONE_GRACE_MS = 10 * 24 * 60 * 60 * 1000;
/** Riak's default sibling limit for writes; replication still merges past it, so replicas converge. */
export const DEFAULT_MAX_SIBLINGS = 64;
/** Bytes of a key's siblings a write may leave (values, clocks, dots: `versionsBytes`). */
export const DEFAULT_MAX_SIBLINGS_BYTES = 8 * 1024 * 1024;
/** Write ids remembered to answer a duplicated mint with the version minted the first time. */
export const DEFAULT_MAX_RECENT_WRITES = 10_000;
export const SINGLE_RANGE = 'all';

export interface ReplicaOptions {
  self: NodeId;
  /**
   * Distinguishes this run of the node from earlier ones (a persisted generation counter, or the
   * start time in ms). It names the node's actor in vector clocks, `${self}#${incarnation}`, so
   * counters kept in memory are never reused after a restart.
   */
  incarnation: number;
  store: ReplicaStore;
  hints?: HintStore;
  clock?: Clock;
  /** The key range (Merkle tree) a key belongs to; every replica must agree. Default: one range. */
  rangeOf?: (key: string) => string;
  merkleDepth?: number;
  maxSiblings?: number;
  /**
   * Bound on the bytes of a key's siblings after a write (`versionsBytes`); a write past it is
   * refused, as past `maxSiblings`. A write that leaves one version, or fewer bytes than the key
   * had, is always accepted, so the write that resolves the siblings never is refused.
   */
  maxSiblingsBytes?: number;
  maxClockEntries?: number;
  tombstoneGraceMs?: number;
  maxRecentWrites?: number;
}

export interface MintResult {
  version: Version;
  /** The key's sibling set at this replica after the write: what the coordinator replicates. */
  siblings: Version[];
}

export interface ReplicaStats {
  reads: number;
  mints: number;
  duplicateMints: number;
  stores: number;
  hintedStores: number;
  refusedTooManySiblings: number;
  refusedSiblingsTooLarge: number;
  /** Versions refused by `store` because they claim counters of this replica's actor it never issued. */
  refusedForgedVersions: number;
}

export class Replica {
  readonly self: NodeId;
  readonly actor: string;
  private readonly versionStore: ReplicaStore;
  private readonly hints: HintStore | undefined;
  private readonly clock: Clock;
  private readonly rangeOf: (key: string) => string;
  readonly merkleDepth: number;
  private readonly maxSiblings: number;
  private readonly maxSiblingsBytes: number;
  private readonly maxClockEntries: number;
  readonly tombstoneGraceMs: number;
  private readonly maxRecentWrites: number;
  private readonly trees = new Map<string, MerkleTree>();
  private readonly recentWrites = new Map<string, { key: string; version: Version }>();
  private readonly incarnation: number;
  /** The last counter this replica's actor issued; no genuine clock claims more. */
  private lastCounter = 0;
  private readonly counters: ReplicaStats = {
    reads: 0,
    mints: 0,
    duplicateMints: 0,
    stores: 0,
    hintedStores: 0,
    refusedTooManySiblings: 0,
    refusedSiblingsTooLarge: 0,
    refusedForgedVersions: 0,
  };

  constructor(options: ReplicaOptions) {
    if (!Number.isSafeInteger(options.incarnation) || options.incarnation < 0) {
      throw new InvalidOptionError(
        'incarnation',
        `must be a non-negative integer, got ${options.incarnation}`,
      );
    }
    this.self = options.self;
    this.incarnation = options.incarnation;
    this.actor = `${options.self}#${options.incarnation}`;
    this.versionStore = options.store;
    this.hints = options.hints;
    this.clock = options.clock ?? systemClock;
    this.rangeOf = options.rangeOf ?? (() => SINGLE_RANGE);
    this.merkleDepth = options.merkleDepth ?? DEFAULT_MERKLE_DEPTH;
    this.maxSiblings = positive('maxSiblings', options.maxSiblings ?? DEFAULT_MAX_SIBLINGS);
    this.maxSiblingsBytes = positive(
      'maxSiblingsBytes',
      options.maxSiblingsBytes ?? DEFAULT_MAX_SIBLINGS_BYTES,
    );
    this.maxClockEntries = positive('maxClockEntries', options.maxClockEntries ?? DEFAULT_MAX_CLOCK_ENTRIES);
    this.tombstoneGraceMs = positive(
      'tombstoneGraceMs',
      options.tombstoneGraceMs ?? DEFAULT_TOMBSTONE_GRACE_MS,
    );
    this.maxRecentWrites = positive('maxRecentWrites', options.maxRecentWrites ?? DEFAULT_MAX_RECENT_WRITES);
    new MerkleTree(this.merkleDepth); // validates the depth now rather than on the first write
  }

  stats(): ReplicaStats {
    return { ...this.counters };
  }

  /** Serves one peer request (every type but `gossip`, which `Gossip.handle` serves). */
  async handle(request: PeerRequest): Promise<PeerResponse> {
    switch (request.type) {
      case 'read':
        return { type: 'versions', versions: await this.read(request.key) };
      case 'mint': {
        const minted = await this.mint(
          request.key,
          request.value,
          request.context,
          request.writeId,
          request.hintFor,
        );
        return { type: 'minted', ...minted };
      }
      case 'store':
        return { type: 'stored', count: await this.store(request.items, request.hintFor) };
      case 'merkle-hashes':
        return {
          type: 'hashes',
          hashes: this.merkleHashes(request.range, request.depth, request.level, request.indexes),
        };
      case 'merkle-leaves':
        return {
          type: 'leaf-entries',
          ...this.merkleLeaves(request.range, request.depth, request.leaves, request.maxKeys),
        };
      case 'fetch':
        return { type: 'fetched', ...(await this.fetch(request.keys, request.maxBytes)) };
      case 'gossip':
        throw new QuorumError(QuorumErrorCode.REMOTE, 'this node does not run gossip');
    }
  }

  /** The key's versions here, hinted ones included. */
  async read(key: string): Promise<Version[]> {
    this.counters.reads++;
    const own = await this.versionStore.read(key);
    if (this.hints === undefined) return [...own];
    const hinted = await this.hints.read(key);
    return hinted.length === 0 ? [...own] : reconcile(own, hinted);
  }

  /**
   * Coordinates one write: stamps a new version with this replica's next dot and the writer's
   * context, and stores it (in the hint store when `hintFor` names the replica it stands in for).
   *
   * The counter is one above the last this actor issued, so no existing version can supersede the
   * new one, while the new one supersedes exactly what the context covers. A context that claims
   * a counter of this actor above the last it issued, or names a later run of this node, was
   * forged (no read returns one): it is refused, since believing it would carry this actor's
   * counter to the claim and every later write past 2^53.
   */
  async mint(
    key: string,
    value: Uint8Array | null,
    context: VectorClock,
    writeId: string,
    hintFor?: NodeId,
  ): Promise<MintResult> {
    const recent = this.recentWrites.get(writeId);
    if (recent !== undefined && recent.key === key) {
      this.counters.duplicateMints++;
      return { version: recent.version, siblings: await this.read(key) };
    }
    const forgery = this.forgeryIn(context);
    if (forgery !== undefined) throw new InvalidContextError(forgery);
    let minted: Version | undefined;
    const apply = (current: readonly Version[]): Version[] => {
      const version: Version = {
        dot: {
          actor: this.actor,
          counter: this.nextCounter(key, current),
          timeMs: Math.floor(this.clock.now()),
        },
        clock: pruneClock(context, this.maxClockEntries),
        value,
      };
      const siblings = reconcile(current, [version]);
      assert(
        siblings.some((sibling) => sameDot(sibling.dot, version.dot)),
        'a fresh dot cannot be superseded',
      );
      this.checkSiblingBounds(key, current, siblings);
      minted = version;
      return siblings;
    };
    const siblings =
      hintFor === undefined
        ? await this.versionStore.update(key, apply)
        : await this.hintsOrThrow().update(hintFor, key, apply, this.clock.now());
    assert(minted !== undefined, 'update ran the mint');
    if (hintFor === undefined) this.track(key, siblings);
    this.counters.mints++;
    this.remember(writeId, key, minted);
    return { version: minted, siblings };
  }

  /**
   * Merges each item's versions into the store (or the hint store). A version that claims a
   * counter of this replica's actor it never issued is left out and counted: a coordinator
   * elsewhere cannot tell a forged claim about this replica, so this replica refuses it here.
   * Returns the number of items merged whole; a coordinator does not count a replica that left
   * out the version it replicates.
   */
  async store(items: readonly KeyVersions[], hintFor?: NodeId): Promise<number> {
    let whole = 0;
    for (const item of items) {
      const versions = item.versions.filter((version) => this.forgeryIn(claimsOf(version)) === undefined);
      this.counters.refusedForgedVersions += item.versions.length - versions.length;
      if (versions.length === item.versions.length) whole++;
      if (versions.length === 0) continue;
      const merge = (current: readonly Version[]) => reconcile(current, versions);
      if (hintFor === undefined) {
        this.track(item.key, await this.versionStore.update(item.key, merge));
        this.counters.stores++;
      } else {
        await this.hintsOrThrow().update(hintFor, item.key, merge, this.clock.now());
        this.counters.hintedStores++;
      }
    }
    return whole;
  }

  /** The Merkle tree of `range` (an empty one if this replica holds nothing there yet). */
  merkle(range: string): MerkleTree {
    let tree = this.trees.get(range);
    if (tree === undefined) {
      tree = new MerkleTree(this.merkleDepth);
      this.trees.set(range, tree);
    }
    return tree;
  }

  merkleHashes(range: string, depth: number, level: number, indexes: readonly number[]): number[] {
    this.checkDepth(depth);
    if (level > depth) throw new InvalidMessageError('level', `must be <= depth ${depth}`);
    const width = 2 ** level;
    const bad = indexes.findIndex((index) => index >= width);
    if (bad >= 0) throw new InvalidMessageError(`indexes[${bad}]`, `must be < ${width} at level ${level}`);
    return this.merkle(range).hashesAt(level, indexes);
  }

  merkleLeaves(
    range: string,
    depth: number,
    leaves: readonly number[],
    maxKeys: number,
  ): { entries: LeafEntry[]; truncated: boolean } {
    this.checkDepth(depth);
    const tree = this.merkle(range);
    const entries: LeafEntry[] = [];
    for (const [position, leaf] of leaves.entries()) {
      if (leaf >= tree.leafCount)
        throw new InvalidMessageError(`leaves[${position}]`, `must be < ${tree.leafCount}`);
      const leafEntries = tree.leafEntries(leaf);
      if (entries.length + leafEntries.length > maxKeys && entries.length > 0)
        return { entries, truncated: true };
      entries.push(...leafEntries);
    }
    return { entries, truncated: false };
  }

  /**
   * Versions of `keys` from the store (not hints), stopping once about `maxBytes` are collected.
   * Keys whose versions are all tombstones past the grace period are left out: the other replica
   * either has them or has already forgotten them, and sending them back would only resurrect work.
   */
  async fetch(
    keys: readonly string[],
    maxBytes: number,
  ): Promise<{ items: KeyVersions[]; skippedTombstones: number; truncated: boolean }> {
    const items: KeyVersions[] = [];
    let bytes = 0;
    let skippedTombstones = 0;
    const graceEndMs = this.clock.now() - this.tombstoneGraceMs;
    for (const key of keys) {
      if (bytes >= maxBytes) return { items, skippedTombstones, truncated: true };
      const versions = await this.versionStore.read(key);
      if (versions.length === 0) continue;
      if (onlyTombstonesBefore(versions, graceEndMs)) {
        skippedTombstones++;
        continue;
      }
      items.push({ key, versions: [...versions] });
      bytes += versionsBytes(versions);
    }
    return { items, skippedTombstones, truncated: false };
  }

  /** Rebuilds every Merkle tree from a full store scan: at start, or after the ranges change. */
  async rebuildMerkle(): Promise<void> {
    for (const tree of this.trees.values()) tree.clear();
    for await (const { key, versions } of this.versionStore.entries()) this.track(key, versions);
  }

  /** Re-reads `keys` and updates their Merkle entries: call after the store changed them itself. */
  async refresh(keys: Iterable<string>): Promise<void> {
    for (const key of keys) this.track(key, await this.versionStore.read(key));
  }

  private track(key: string, versions: readonly Version[]): void {
    const tree = this.merkle(this.rangeOf(key));
    if (versions.length === 0) tree.delete(key);
    else tree.set(key, digestVersions(versions));
  }

  /** The next counter of this actor; refuses a key whose stored versions claim one it never issued. */
  private nextCounter(key: string, current: readonly Version[]): number {
    for (const version of current) {
      const forgery = this.forgeryIn(claimsOf(version));
      if (forgery !== undefined) throw new InvalidContextError(`a stored version of '${key}' ${forgery}`);
    }
    if (this.lastCounter >= Number.MAX_SAFE_INTEGER) {
      throw new QuorumError(
        QuorumErrorCode.COUNTER_EXHAUSTED,
        `${this.actor} has issued its last counter: a restart makes this node a new actor`,
      );
    }
    this.lastCounter++;
    return this.lastCounter;
  }

  /**
   * Why one of `entries` cannot be genuine, or undefined: a counter of this actor above the last
   * it issued, or an actor of a later run of this node (its incarnations only rise).
   */
  private forgeryIn(entries: Iterable<ClockEntry>): string | undefined {
    const runPrefix = `${this.self}#`;
    for (const entry of entries) {
      if (entry.actor === this.actor) {
        if (entry.counter > this.lastCounter)
          return `claims counter ${entry.counter} of ${this.actor}, which it never issued`;
      } else if (entry.actor.startsWith(runPrefix)) {
        const run = entry.actor.slice(runPrefix.length);
        if (/^\d+$/.test(run) && Number(run) > this.incarnation)
          return `names ${entry.actor}, a run of this node that has not started`;
      }
    }
    return undefined;
  }

  /**
   * Refuses a write that leaves more siblings, or more bytes of them, than the bounds allow and
   * more than the key had: a write that shrinks the set (one resolving some of its siblings) always
   * passes, so a client that could read only part of an oversized set can still resolve it.
   */
  private checkSiblingBounds(key: string, current: readonly Version[], siblings: readonly Version[]): void {
    if (siblings.length > this.maxSiblings && siblings.length > current.length) {
      this.counters.refusedTooManySiblings++;
      throw new QuorumError(
        QuorumErrorCode.TOO_MANY_SIBLINGS,
        `'${key}' would have ${siblings.length} siblings, more than ${this.maxSiblings}: ` +
          'read it and write with the merged context to resolve them',
      );
    }
    if (siblings.length < 2) return;
    const bytes = versionsBytes(siblings);
    if (bytes > this.maxSiblingsBytes && bytes > versionsBytes(current)) {
      this.counters.refusedSiblingsTooLarge++;
      throw new QuorumError(
        QuorumErrorCode.SIBLINGS_TOO_LARGE,
        `'${key}' would have ${siblings.length} siblings of ${bytes} bytes, more than ${this.maxSiblingsBytes}: ` +
          'read it and write with the merged context to resolve them',
      );
    }
  }

  private remember(writeId: string, key: string, version: Version): void {
    this.recentWrites.set(writeId, { key, version });
    if (this.recentWrites.size > this.maxRecentWrites) {
      const oldest = this.recentWrites.keys().next().value;
      if (oldest !== undefined) this.recentWrites.delete(oldest);
    }
  }

  private hintsOrThrow(): HintStore {
    if (this.hints === undefined) {
      throw new QuorumError(QuorumErrorCode.HINTS_FULL, `${this.self} keeps no hints`);
    }
    return this.hints;
  }

  private checkDepth(depth: number): void {
    if (depth !== this.merkleDepth) {
      throw new InvalidMessageError(
        'depth',
        `is ${depth}, but this replica's trees have depth ${this.merkleDepth}`,
      );
    }
  }
}

/** The entries a version claims to have seen: its dot and its clock. */
function claimsOf(version: Version): ClockEntry[] {
  return [version.dot, ...version.clock];
}

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new InvalidOptionError(name, `must be positive, got ${value}`);
  return value;
}
