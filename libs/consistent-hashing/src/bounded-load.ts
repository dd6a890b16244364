/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2016; used by Vimeo's
 * HAProxy `hash-balance-factor` and Google Cloud Pub/Sub): a ring where no node takes more than
 * ceil((1 + epsilon) × average) of the keys currently assigned. A key goes to its owner on the ring,
 * unless that node is full, in which case it goes to the next node clockwise that is not.
 *
 * It needs to know the load, so it is used differently from the others: call `assign(key)` when a unit
 * of load starts (a request, a connection, a session, a cached object) and `release(key)` when it ends.
 * `assign` is idempotent for a key already assigned. The cap for each assignment counts that key:
 * node load <= ceil((1 + epsilon) × (assigned keys) × weight / total weight).
 */
import { ConsistentHashingErrorCode, fail } from './errors.js';
import type { Key } from './hash.js';
import {
  assertInteger,
  type NodeOptions,
  type NodeSpec,
  normalizeNodes,
  type Placement,
} from './placement.js';
import { DEFAULT_VNODES, HashRing } from './ring.js';

/** 25% above the average. Smaller caps tighter but displaces more keys (the movement bound grows as 1/e²). */
export const DEFAULT_EPSILON = 0.25;
export const MAX_EPSILON = 1_000;
/** Tracked keys take memory (a map entry each): this is the default bound, configurable. */
export const DEFAULT_MAX_ASSIGNED_KEYS = 10_000_000;

export interface BoundedLoadOptions {
  /** How far above the average a node may go: cap = ceil((1 + epsilon) × average). Default 0.25. */
  epsilon?: number;
  /** Virtual nodes per unit of weight on the underlying ring. Default 256. */
  vnodes?: number;
  /** The most keys tracked at once; `assign` beyond it throws `CH_ERR_LIMIT_EXCEEDED`. Default 10 M. */
  maxAssignedKeys?: number;
  nodes?: Iterable<string | NodeSpec>;
}

/** A key that changed node: on `remove` (its node left) or `rebalance`. */
export interface KeyMove {
  key: string;
  from: string;
  to: string;
}

interface NodeLoad {
  weight: number;
  load: number;
}

export class BoundedLoadRing implements Placement {
  readonly algorithm = 'bounded-load';
  readonly epsilon: number;
  readonly maxAssignedKeys: number;
  private readonly ring: HashRing;
  private readonly nodeLoads = new Map<string, NodeLoad>();
  /** key → node, in assignment order (rebalance replays this order). */
  private readonly assignments = new Map<string, string>();
  private totalWeight = 0;

  constructor(options: BoundedLoadOptions = {}) {
    const epsilon = options.epsilon ?? DEFAULT_EPSILON;
    if (typeof epsilon !== 'number' || !(epsilon > 0 && epsilon <= MAX_EPSILON)) {
      fail(
        ConsistentHashingErrorCode.INVALID_ARGUMENT,
        `epsilon must be a number in (0, ${MAX_EPSILON}], got ${String(epsilon)}`,
      );
    }
    const maxAssignedKeys = options.maxAssignedKeys ?? DEFAULT_MAX_ASSIGNED_KEYS;
    assertInteger('maxAssignedKeys', maxAssignedKeys, 1, Number.MAX_SAFE_INTEGER);
    this.epsilon = epsilon;
    this.maxAssignedKeys = maxAssignedKeys;
    this.ring = new HashRing({ vnodes: options.vnodes ?? DEFAULT_VNODES });
    for (const node of normalizeNodes(options.nodes)) this.add(node.id, { weight: node.weight });
  }

  get size(): number {
    return this.ring.size;
  }

  /** The number of keys currently assigned. */
  get assignedCount(): number {
    return this.assignments.size;
  }

  nodes(): string[] {
    return this.ring.nodes();
  }

  has(node: string): boolean {
    return this.ring.has(node);
  }

  weightOf(node: string): number {
    return this.ring.weightOf(node);
  }

  /**
   * Adds a node. Keys already assigned stay where they are (a bounded-load placement depends on the
   * order keys arrived in, so nothing moves by itself): new keys start landing on the node at once,
   * and `rebalance()` moves existing ones.
   */
  add(node: string, options: NodeOptions = {}): void {
    this.ring.add(node, options);
    const weight = this.ring.weightOf(node);
    this.nodeLoads.set(node, { weight, load: 0 });
    this.totalWeight += weight;
  }

  /** Removes a node and reassigns its keys, in the order they were assigned; returns those moves. */
  remove(node: string): KeyMove[] {
    this.ring.remove(node);
    this.totalWeight -= this.nodeLoads.get(node)!.weight;
    this.nodeLoads.delete(node);
    const moves: KeyMove[] = [];
    if (this.ring.size === 0) {
      this.assignments.clear();
      return moves;
    }
    const total = this.assignments.size;
    for (const [key, owner] of this.assignments) {
      if (owner !== node) continue;
      const target = this.place(key, total);
      this.nodeLoads.get(target)!.load++;
      this.assignments.set(key, target);
      moves.push({ key, from: node, to: target });
    }
    return moves;
  }

  /** The node holding an assigned key, else the node `assign` would pick now (without assigning). */
  lookup(key: Key): string {
    if (typeof key === 'string') {
      const assigned = this.assignments.get(key);
      if (assigned !== undefined) return assigned;
    }
    return this.place(key, this.assignments.size + 1);
  }

  /** Assigns the key to the first node clockwise below its cap, and counts it there. Idempotent. */
  assign(key: string): string {
    if (typeof key !== 'string') fail(ConsistentHashingErrorCode.INVALID_KEY, 'assign() takes a string key');
    const assigned = this.assignments.get(key);
    if (assigned !== undefined) return assigned;
    if (this.assignments.size >= this.maxAssignedKeys) {
      fail(
        ConsistentHashingErrorCode.LIMIT_EXCEEDED,
        `already ${this.maxAssignedKeys} keys assigned (maxAssignedKeys)`,
      );
    }
    const node = this.place(key, this.assignments.size + 1);
    this.nodeLoads.get(node)!.load++;
    this.assignments.set(key, node);
    return node;
  }

  /**
   * Ends a key's assignment. Returns false if it was not assigned. Releasing lowers the average, so a
   * node can sit above the new cap until keys are released from it or `rebalance()` runs.
   */
  release(key: string): boolean {
    const node = this.assignments.get(key);
    if (node === undefined) return false;
    this.assignments.delete(key);
    this.nodeLoads.get(node)!.load--;
    return true;
  }

  /**
   * Places every assigned key again, in assignment order, as if assigned afresh to the current nodes:
   * afterwards every node is within the cap. Returns the keys that changed node.
   */
  rebalance(): KeyMove[] {
    for (const state of this.nodeLoads.values()) state.load = 0;
    const moves: KeyMove[] = [];
    let placed = 0;
    for (const [key, owner] of this.assignments) {
      placed++;
      const target = this.place(key, placed);
      this.nodeLoads.get(target)!.load++;
      if (target !== owner) {
        this.assignments.set(key, target);
        moves.push({ key, from: owner, to: target });
      }
    }
    return moves;
  }

  loadOf(node: string): number {
    const state = this.nodeLoads.get(node);
    if (state === undefined)
      fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not on the ring`);
    return state.load;
  }

  /** Keys assigned per node. */
  loads(): Map<string, number> {
    const loads = new Map<string, number>();
    for (const node of this.nodes()) loads.set(node, this.nodeLoads.get(node)!.load);
    return loads;
  }

  /** The most keys `node` may hold once `assignedKeys` keys are assigned (default: one more than now). */
  capacity(node: string, assignedKeys = this.assignments.size + 1): number {
    const state = this.nodeLoads.get(node);
    if (state === undefined)
      fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not on the ring`);
    return this.cap(state.weight, assignedKeys);
  }

  /** The underlying ring's shares, before load bounding. */
  ownership(): Map<string, number> {
    return this.ring.ownership();
  }

  private cap(weight: number, assignedKeys: number): number {
    return Math.ceil(((1 + this.epsilon) * assignedKeys * weight) / this.totalWeight);
  }

  private place(key: Key, assignedKeys: number): string {
    const [node] = this.ring.preferenceList(key, 1, {
      skip: (candidate) => {
        const state = this.nodeLoads.get(candidate)!;
        return state.load >= this.cap(state.weight, assignedKeys);
      },
    });
    // The caps sum to at least (1 + epsilon) × assignedKeys > the keys already placed, so some node is
    // below its cap: reaching here means the loads are corrupt.
    if (node === undefined) throw new Error('bounded-load invariant broken: every node is at its cap');
    return node;
  }
}
