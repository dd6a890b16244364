/**
 * The consistent hash ring of Karger et al., with virtual nodes (Dynamo, Cassandra) and weights.
 *
 * Each node owns `round(weight × vnodes)` tokens: positions `hashPosition("<id>#<i>")` on a 53-bit ring.
 * A key belongs to the first token at or after its own position, wrapping at the top, so the token at
 * position t owns the range (previous token, t]. Lookup is a binary search over the sorted tokens:
 * O(log T). Tokens depend only on a node's id and weight, and ties are broken by node id, so two rings
 * with the same members give the same answers whatever order the nodes were added in.
 *
 * The arrays behind the ring are replaced, never changed in place, which is what makes `clone()` cheap
 * and lets `add` / `remove` report exactly which ranges changed owner.
 */
import { ConsistentHashingErrorCode, fail } from './errors.js';
import { hashPosition, type Key, RING_SIZE } from './hash.js';
import {
  assertInteger,
  assertNodeId,
  type NodeOptions,
  type NodeSpec,
  normalizeNodes,
  normalizeWeight,
  type Placement,
} from './placement.js';
import { RangeCollector, type TokenRange } from './ranges.js';

/** Virtual nodes per unit of weight when none is given: about 6% standard deviation of shares. */
export const DEFAULT_VNODES = 256;
/** Tokens one node may hold (its weight × vnodes, rounded). */
export const MAX_TOKENS_PER_NODE = 100_000;
/** Tokens on one ring: 4 million tokens take 48 MB (a float64 position and an int32 owner each). */
export const MAX_RING_TOKENS = 4_000_000;

/** A range whose primary owner changed: keys hashing into (start, end] moved `from` → `to`. */
export interface RangeMove extends TokenRange {
  from: string;
  to: string;
}

/** A range and its preference list (the first `replicas` distinct nodes clockwise). */
export interface ReplicaRange extends TokenRange {
  replicas: string[];
}

/** A range whose preference list changed between two rings. */
export interface ReplicaChange extends TokenRange {
  before: string[];
  after: string[];
  /** In `after` but not in `before`: these nodes must receive the range's data. */
  added: string[];
  /** In `before` but not in `after`: these nodes may drop the range's data once the others have it. */
  removed: string[];
}

/** A replica chosen by `sloppyPreferenceList`: `hintedFor` names the unavailable node it stands in for. */
export interface HintedReplica {
  node: string;
  hintedFor?: string;
}

export interface PreferenceListOptions {
  /** Nodes for which this returns true are passed over (e.g. nodes known to be down). */
  skip?: (node: string) => boolean;
}

export interface HashRingOptions {
  /** Virtual nodes per unit of weight. Default `DEFAULT_VNODES` (256). */
  vnodes?: number;
  nodes?: Iterable<string | NodeSpec>;
}

interface Member {
  id: string;
  weight: number;
  slot: number;
  /** This member's token positions, sorted. */
  tokens: Float64Array;
}

/** An immutable view of the ring: sorted positions, their owners' slots, and slot → node id. */
interface RingState {
  positions: Float64Array;
  owners: Int32Array;
  ids: readonly (string | undefined)[];
  size: number;
}

const EMPTY_STATE: RingState = {
  positions: new Float64Array(0),
  owners: new Int32Array(0),
  ids: [],
  size: 0,
};

/** Marks which node slots a walk has met, without allocating per walk. */
class SeenSlots {
  private stamps = new Uint32Array(0);
  private stamp = 0;
  busy = false;

  begin(slotCount: number): void {
    if (this.stamps.length < slotCount)
      this.stamps = new Uint32Array(Math.max(slotCount, this.stamps.length * 2));
    this.stamp++;
    if (this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
  }

  /** True the first time a slot is met in this walk. */
  firstVisit(slot: number): boolean {
    if (this.stamps[slot] === this.stamp) return false;
    this.stamps[slot] = this.stamp;
    return true;
  }
}

/** The first index whose position is >= `position`, or `positions.length` if none. */
function lowerBound(positions: Float64Array, position: number): number {
  let low = 0;
  let high = positions.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (positions[middle]! < position) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Visits the distinct nodes of `state` in ring order from token `start`, until `visit` returns false
 * or every node has been met (at most one lap).
 */
function visitDistinct(
  state: RingState,
  start: number,
  seen: SeenSlots,
  visit: (node: string) => boolean,
): void {
  const tokenCount = state.positions.length;
  seen.begin(state.ids.length);
  let distinct = 0;
  for (let step = 0; step < tokenCount && distinct < state.size; step++) {
    let index = start + step;
    if (index >= tokenCount) index -= tokenCount;
    const slot = state.owners[index]!;
    if (!seen.firstVisit(slot)) continue;
    distinct++;
    if (!visit(state.ids[slot]!)) return;
  }
}

function firstNodes(state: RingState, start: number, count: number, seen: SeenSlots): string[] {
  const nodes: string[] = [];
  visitDistinct(state, start, seen, (node) => {
    nodes.push(node);
    return nodes.length < count;
  });
  return nodes;
}

/**
 * Calls `visit(start, end, indexA, indexB)` for each elementary range between consecutive token positions
 * of the union of two rings, with the index of the token owning that range in each ring. Both non-empty.
 */
function forEachUnionRange(
  a: RingState,
  b: RingState,
  visit: (start: number, end: number, indexA: number, indexB: number) => void,
): void {
  const countA = a.positions.length;
  const countB = b.positions.length;
  let previous = Math.max(a.positions[countA - 1]!, b.positions[countB - 1]!);
  let indexA = 0;
  let indexB = 0;
  while (indexA < countA || indexB < countB) {
    const nextA = indexA < countA ? a.positions[indexA]! : Number.POSITIVE_INFINITY;
    const nextB = indexB < countB ? b.positions[indexB]! : Number.POSITIVE_INFINITY;
    const end = Math.min(nextA, nextB);
    visit(previous, end, indexA === countA ? 0 : indexA, indexB === countB ? 0 : indexB);
    while (indexA < countA && a.positions[indexA] === end) indexA++;
    while (indexB < countB && b.positions[indexB] === end) indexB++;
    previous = end;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/** Which ranges changed primary owner from `before` to `after`: exact, merged, in ring order. */
function ownerMoves(before: RingState, after: RingState): RangeMove[] {
  if (before.size === 0 || after.size === 0) return [];
  const collector = new RangeCollector<string, RangeMove>(
    (a, b) => a === b,
    (start, end, pair) => {
      const separator = pair.indexOf('\u0000');
      return { start, end, from: pair.slice(0, separator), to: pair.slice(separator + 1) };
    },
  );
  forEachUnionRange(before, after, (start, end, indexBefore, indexAfter) => {
    const from = before.ids[before.owners[indexBefore]!]!;
    const to = after.ids[after.owners[indexAfter]!]!;
    if (from !== to) collector.push(start, end, `${from}\u0000${to}`);
  });
  return collector.finish();
}

/**
 * The state's tokens plus `tokens` (sorted) of the node `id` in `slot`: a merge of two sorted lists, equal
 * positions ordered by node id so that the owner of a tie never depends on insertion order. `state.ids`
 * must name every slot in `state.owners`. Exported for tests.
 */
export function mergeTokens(
  state: Pick<RingState, 'positions' | 'owners' | 'ids'>,
  tokens: Float64Array,
  slot: number,
  id: string,
): { positions: Float64Array; owners: Int32Array } {
  const { positions, owners, ids } = state;
  const total = positions.length + tokens.length;
  const mergedPositions = new Float64Array(total);
  const mergedOwners = new Int32Array(total);
  let old = 0;
  let added = 0;
  for (let index = 0; index < total; index++) {
    const takeOld =
      added === tokens.length ||
      (old < positions.length &&
        (positions[old]! < tokens[added]! || (positions[old] === tokens[added] && ids[owners[old]!]! < id)));
    if (takeOld) {
      mergedPositions[index] = positions[old]!;
      mergedOwners[index] = owners[old]!;
      old++;
    } else {
      mergedPositions[index] = tokens[added]!;
      mergedOwners[index] = slot;
      added++;
    }
  }
  return { positions: mergedPositions, owners: mergedOwners };
}

export class HashRing implements Placement {
  readonly algorithm = 'ring';
  readonly vnodes: number;
  private members = new Map<string, Member>();
  private slotIds: (string | undefined)[] = [];
  private freeSlots: number[] = [];
  private state: RingState = EMPTY_STATE;
  private version = 0;
  private readonly seen = new SeenSlots();

  constructor(options: HashRingOptions = {}) {
    const vnodes = options.vnodes ?? DEFAULT_VNODES;
    assertInteger('vnodes', vnodes, 1, MAX_TOKENS_PER_NODE);
    this.vnodes = vnodes;
    for (const node of normalizeNodes(options.nodes)) this.add(node.id, { weight: node.weight });
  }

  get size(): number {
    return this.members.size;
  }

  /** The number of tokens (virtual nodes) on the ring. */
  get tokenCount(): number {
    return this.state.positions.length;
  }

  /** Node ids, sorted. */
  nodes(): string[] {
    return [...this.members.keys()].sort();
  }

  has(node: string): boolean {
    return this.members.has(node);
  }

  weightOf(node: string): number {
    return this.member(node).weight;
  }

  /** A node's token positions, sorted. */
  tokensOf(node: string): number[] {
    return [...this.member(node).tokens];
  }

  /**
   * Adds a node with `round(weight × vnodes)` tokens and returns the ranges it took over, each with the
   * node that owned it before. Adding the first node returns [] (no key had an owner).
   */
  add(node: string, options: NodeOptions = {}): RangeMove[] {
    assertNodeId(node);
    if (this.members.has(node))
      fail(ConsistentHashingErrorCode.DUPLICATE_NODE, `node "${node}" is already on the ring`);
    const weight = normalizeWeight(node, options.weight);
    const tokens = this.tokensFor(node, weight, this.state.positions.length);
    const slot = this.freeSlots.pop() ?? this.slotIds.length;
    const member: Member = { id: node, weight, slot, tokens };
    const before = this.state;
    this.slotIds[slot] = node;
    this.members.set(node, member);
    this.commit(this.withTokens(before, member));
    return ownerMoves(before, this.state);
  }

  /** Removes a node and returns the ranges it owned, each with the node that owns it now. */
  remove(node: string): RangeMove[] {
    const member = this.member(node);
    const before = this.state;
    this.members.delete(node);
    this.slotIds[member.slot] = undefined;
    this.freeSlots.push(member.slot);
    this.commit(this.withoutSlot(before, member.slot));
    return ownerMoves(before, this.state);
  }

  /**
   * Changes a node's weight. Token i of a node is the same whatever its weight, so growing a node only
   * adds tokens and shrinking it only drops some: the moves returned are the minimum.
   */
  setWeight(node: string, weight: number): RangeMove[] {
    const member = this.member(node);
    const normalized = normalizeWeight(node, weight);
    const before = this.state;
    const tokens = this.tokensFor(node, normalized, before.positions.length - member.tokens.length);
    const replacement: Member = { id: node, weight: normalized, slot: member.slot, tokens };
    this.members.set(node, replacement);
    this.commit(this.withTokens(this.withoutSlot(before, member.slot), replacement));
    return ownerMoves(before, this.state);
  }

  /** The key's position on the ring, in [0, RING_SIZE). */
  position(key: Key): number {
    return hashPosition(key);
  }

  lookup(key: Key): string {
    const state = this.nonEmptyState();
    const positions = state.positions;
    let index = lowerBound(positions, hashPosition(key));
    if (index === positions.length) index = 0;
    return state.ids[state.owners[index]!]!;
  }

  /** The node owning a ring position (e.g. the end of a range). */
  lookupPosition(position: number): string {
    const state = this.nonEmptyState();
    let index = lowerBound(state.positions, position);
    if (index === state.positions.length) index = 0;
    return state.ids[state.owners[index]!]!;
  }

  /**
   * The first `count` distinct nodes clockwise from the key (the key's owner first): the N replicas of
   * Dynamo. With `skip`, nodes it rejects are passed over and the walk goes on, so
   * `preferenceList(key, n, { skip: isDown })` is "the first n healthy nodes", the targets of a sloppy
   * quorum. Fewer than `count` come back only when `skip` rejects too many nodes.
   * Throws `CH_ERR_NOT_ENOUGH_NODES` when count > size: a cluster too small for its replication factor.
   */
  preferenceList(key: Key, count: number, options: PreferenceListOptions = {}): string[] {
    const state = this.nonEmptyState();
    this.assertCount(count);
    const skip = options.skip;
    if (skip !== undefined && typeof skip !== 'function') {
      fail(ConsistentHashingErrorCode.INVALID_ARGUMENT, 'skip must be a function (node) => boolean');
    }
    const start = this.startIndex(state, key);
    const nodes: string[] = [];
    this.visit(state, start, (node) => {
      if (skip === undefined || !skip(node)) nodes.push(node);
      return nodes.length < count;
    });
    return nodes;
  }

  /**
   * Sloppy quorum targets: the key's `count` home replicas, with each unavailable one replaced by the
   * next available node further clockwise, which holds the data with a hint naming the home node it
   * stands in for (and hands it back when that node returns). In ring order. Fewer than `count` come back
   * when not enough nodes are available.
   */
  sloppyPreferenceList(key: Key, count: number, isAvailable: (node: string) => boolean): HintedReplica[] {
    const state = this.nonEmptyState();
    this.assertCount(count);
    if (typeof isAvailable !== 'function') {
      fail(ConsistentHashingErrorCode.INVALID_ARGUMENT, 'isAvailable must be a function (node) => boolean');
    }
    const start = this.startIndex(state, key);
    const replicas: HintedReplica[] = [];
    const unavailableHomes: string[] = [];
    let met = 0;
    this.visit(state, start, (node) => {
      met++;
      const available = isAvailable(node);
      if (met <= count) {
        if (available) replicas.push({ node });
        else unavailableHomes.push(node);
        // Past the last home node, walk on only if some home node needs a stand-in.
        return met < count || unavailableHomes.length > 0;
      }
      if (!available) return true;
      const homesAvailable = count - unavailableHomes.length;
      replicas.push({ node, hintedFor: unavailableHomes[replicas.length - homesAvailable]! });
      return replicas.length < count;
    });
    return replicas;
  }

  /**
   * The distinct nodes clockwise from the key, lazily: the owner first, then each next replica. Stop
   * whenever you have enough. Throws `CH_ERR_CONCURRENT_MODIFICATION` if the ring changes meanwhile.
   */
  walk(key: Key): IterableIterator<string> {
    const state = this.state;
    if (state.size === 0) return [][Symbol.iterator]();
    return this.walkFrom(state, this.startIndex(state, key), this.version);
  }

  /** Each node's share of the ring (fractions summing to 1), from the exact widths of its ranges. */
  ownership(): Map<string, number> {
    const shares = new Map<string, number>();
    for (const node of this.nodes()) shares.set(node, 0);
    const { positions, owners, ids } = this.state;
    const count = positions.length;
    for (let index = 0; index < count; index++) {
      const previous = index === 0 ? positions[count - 1]! - RING_SIZE : positions[index - 1]!;
      const width = count === 1 ? RING_SIZE : positions[index]! - previous;
      const node = ids[owners[index]!]!;
      shares.set(node, shares.get(node)! + width / RING_SIZE);
    }
    return shares;
  }

  /**
   * Every range of the ring with its preference list of `replicas` distinct nodes, in ring order,
   * adjacent ranges with equal lists merged. `replicas` = 1 gives each range's primary owner.
   */
  replicaRanges(replicas = 1): ReplicaRange[] {
    const state = this.state;
    if (state.size === 0) return [];
    this.assertCount(replicas);
    const collector = new RangeCollector<string[], ReplicaRange>(sameList, (start, end, list) => ({
      start,
      end,
      replicas: list,
    }));
    const seen = new SeenSlots();
    forEachUnionRange(state, state, (start, end, index) => {
      collector.push(start, end, firstNodes(state, index, replicas, seen));
    });
    return collector.finish();
  }

  /** The ranges `node` holds a replica of, with `replicas` copies per key (1: the ranges it owns). */
  rangesOf(node: string, replicas = 1): ReplicaRange[] {
    this.member(node);
    return this.replicaRanges(replicas).filter((range) => range.replicas.includes(node));
  }

  /** An independent copy: changes to either do not affect the other. */
  clone(): HashRing {
    const copy = new HashRing({ vnodes: this.vnodes });
    copy.members = new Map(this.members);
    copy.slotIds = [...this.slotIds];
    copy.freeSlots = [...this.freeSlots];
    copy.state = this.state;
    return copy;
  }

  /**
   * The ranges whose preference list of `replicas` nodes differs between two rings (e.g. a clone taken
   * before a change, and the ring after it): what a store must copy (`added`) and may later drop
   * (`removed`) to rebalance N replicas. Exact, in ring order.
   */
  static diff(before: HashRing, after: HashRing, options: { replicas?: number } = {}): ReplicaChange[] {
    const replicas = options.replicas ?? 1;
    assertInteger('replicas', replicas, 1, Number.MAX_SAFE_INTEGER);
    const a = before.state;
    const b = after.state;
    if (a.size === 0 || b.size === 0) return [];
    const seenA = new SeenSlots();
    const seenB = new SeenSlots();
    const collector = new RangeCollector<[string[], string[]], ReplicaChange>(
      (x, y) => sameList(x[0], y[0]) && sameList(x[1], y[1]),
      (start, end, [beforeList, afterList]) => ({
        start,
        end,
        before: beforeList,
        after: afterList,
        added: afterList.filter((node) => !beforeList.includes(node)),
        removed: beforeList.filter((node) => !afterList.includes(node)),
      }),
    );
    forEachUnionRange(a, b, (start, end, indexA, indexB) => {
      const listA = firstNodes(a, indexA, replicas, seenA);
      const listB = firstNodes(b, indexB, replicas, seenB);
      if (!sameList(listA, listB)) collector.push(start, end, [listA, listB]);
    });
    return collector.finish();
  }

  private *walkFrom(state: RingState, start: number, version: number): IterableIterator<string> {
    const tokenCount = state.positions.length;
    const seen = new Uint8Array(state.ids.length);
    let distinct = 0;
    for (let step = 0; step < tokenCount && distinct < state.size; step++) {
      let index = start + step;
      if (index >= tokenCount) index -= tokenCount;
      const slot = state.owners[index]!;
      if (seen[slot] === 1) continue;
      seen[slot] = 1;
      distinct++;
      yield state.ids[slot]!;
      if (this.version !== version) {
        fail(
          ConsistentHashingErrorCode.CONCURRENT_MODIFICATION,
          'the ring changed while walk() was being iterated',
        );
      }
    }
  }

  /** Runs a walk with the shared marks, or fresh ones if a callback re-enters the ring mid-walk. */
  private visit(state: RingState, start: number, visit: (node: string) => boolean): void {
    const seen = this.seen.busy ? new SeenSlots() : this.seen;
    seen.busy = true;
    try {
      visitDistinct(state, start, seen, visit);
    } finally {
      seen.busy = false;
    }
  }

  private startIndex(state: RingState, key: Key): number {
    const index = lowerBound(state.positions, hashPosition(key));
    return index === state.positions.length ? 0 : index;
  }

  private nonEmptyState(): RingState {
    if (this.state.size === 0) fail(ConsistentHashingErrorCode.EMPTY, 'the ring has no nodes');
    return this.state;
  }

  private assertCount(count: number): void {
    assertInteger('count', count, 1, Number.MAX_SAFE_INTEGER);
    if (count > this.state.size) {
      fail(
        ConsistentHashingErrorCode.NOT_ENOUGH_NODES,
        `asked for ${count} distinct nodes, the ring has ${this.state.size}`,
      );
    }
  }

  private member(node: string): Member {
    const member = this.members.get(node);
    if (member === undefined)
      fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not on the ring`);
    return member;
  }

  private tokensFor(node: string, weight: number, otherTokens: number): Float64Array {
    const count = Math.round(weight * this.vnodes);
    if (count < 1 || count > MAX_TOKENS_PER_NODE) {
      fail(
        ConsistentHashingErrorCode.INVALID_WEIGHT,
        `node "${node}" would get ${count} tokens (weight ${weight} × ${this.vnodes} vnodes): ` +
          `it must be in [1, ${MAX_TOKENS_PER_NODE}]`,
      );
    }
    if (otherTokens + count > MAX_RING_TOKENS) {
      fail(
        ConsistentHashingErrorCode.LIMIT_EXCEEDED,
        `the ring would hold more than ${MAX_RING_TOKENS} tokens`,
      );
    }
    const tokens = new Float64Array(count);
    for (let index = 0; index < count; index++) tokens[index] = hashPosition(`${node}#${index}`);
    return tokens.sort();
  }

  private withTokens(state: RingState, member: Member): RingState {
    const merged = mergeTokens(state, member.tokens, member.slot, member.id);
    return { ...merged, ids: this.slotIds, size: this.members.size };
  }

  private withoutSlot(state: RingState, slot: number): RingState {
    const { positions, owners } = state;
    let kept = 0;
    for (let index = 0; index < owners.length; index++) if (owners[index] !== slot) kept++;
    const keptPositions = new Float64Array(kept);
    const keptOwners = new Int32Array(kept);
    let next = 0;
    for (let index = 0; index < owners.length; index++) {
      if (owners[index] === slot) continue;
      keptPositions[next] = positions[index]!;
      keptOwners[next] = owners[index]!;
      next++;
    }
    return { positions: keptPositions, owners: keptOwners, ids: this.slotIds, size: this.members.size };
  }

  /** Installs a new state with a frozen copy of slot → id, so older states keep their own names. */
  private commit(state: RingState): void {
    this.state = { ...state, ids: [...this.slotIds], size: this.members.size };
    this.version++;
  }
}
