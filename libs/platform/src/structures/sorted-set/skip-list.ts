import { compareMembers } from './strings.js';

/**
 * Redis's zskiplist: a skip list ordered by (score, member bytes) whose links carry spans, the
 * number of level-0 steps each link jumps, so that the rank of an element and the element at a
 * rank are both found in O(log n) by summing spans on the way down. A node's height is drawn with
 * p = 1/4 up to 32 levels, as in Redis (`ZSKIPLIST_P`, `ZSKIPLIST_MAXLEVEL`), which gives 1.33
 * links per node on average. Level 0 is doubly linked (`backward`) for reverse walks.
 *
 * The layout is flat, not one object per node: a node is an index into typed arrays. Per node,
 * four int32 (level-0 next, level-0 back, offset of its upper levels, height) in one array, the
 * score in a Float64Array and the member in a plain array; the links of levels 1 and up live in a
 * shared Int32Array pool as (next, span) pairs, only for the quarter of nodes that have them. A
 * level-0 link always jumps one node, so its span is not stored. Against three heap objects per
 * node (node, next array, span array, plus a boxed double score) this cuts the heap per member by
 * about three and the cache misses of a search step to the link pool and the score array.
 * Freed nodes and link chunks go on free lists (chunks one list per height) and are reused.
 *
 * Ranks here are 1-based, as in Redis's t_zset.c; the sorted set turns them into 0-based ranks.
 * The list trusts its caller (the sorted set) to insert a member only when absent.
 */

export const MAX_LEVEL = 32;
const LEVEL_PROBABILITY = 0.25;
/** The node index meaning "none": index 0 is the header, which no link points to. */
export const NIL = 0;

/** The int32 fields of a node, at `node * STRIDE + field`. */
const NEXT = 0;
const BACK = 1;
const UPPER = 2;
const HEIGHT = 3;
const STRIDE = 4;
const INITIAL_NODES = 8;
const INITIAL_POOL = 16;

/** A score interval; an exclusive end is Redis's `(` prefix. */
export interface ScoreRange {
  min: number;
  minExclusive: boolean;
  max: number;
  maxExclusive: boolean;
}

export function aboveMin(score: number, range: ScoreRange): boolean {
  return range.minExclusive ? score > range.min : score >= range.min;
}

export function belowMax(score: number, range: ScoreRange): boolean {
  return range.maxExclusive ? score < range.max : score <= range.max;
}

/** False when no score can be in the range, so searches can stop at once. */
export function rangeIsSatisfiable(range: ScoreRange): boolean {
  if (range.min > range.max) return false;
  return !(range.min === range.max && (range.minExclusive || range.maxExclusive));
}

/**
 * Scratch for the searches that remember, per level, the last node before a position and its
 * rank. Shared by every list: the calls are synchronous and never re-enter a list while they use
 * it, and one allocation per call was a measurable share of an insert.
 */
const update = new Int32Array(MAX_LEVEL);
const rankAt = new Float64Array(MAX_LEVEL);

export class SkipList {
  private ints = new Int32Array(INITIAL_NODES * STRIDE);
  private scores = new Float64Array(INITIAL_NODES);
  private readonly members: (string | undefined)[] = [''];
  private pool = new Int32Array(INITIAL_POOL);
  private poolUsed = 0;
  /** Per height, the first free chunk's offset in the pool (-1: none); a free chunk holds the next. */
  private readonly freeChunks = new Int32Array(MAX_LEVEL + 1).fill(-1);
  /** The first freed node (NIL: none); a freed node's NEXT holds the next. */
  private firstFreeNode = NIL;
  private nodesUsed = 1;
  private level = 1;
  length = 0;

  /** `random` draws node heights: inject a seeded one to replay a shape. */
  constructor(private readonly random: () => number = Math.random) {
    this.scores[0] = Number.NEGATIVE_INFINITY;
    this.ints[HEIGHT] = 1;
  }

  randomLevel(): number {
    let level = 1;
    while (level < MAX_LEVEL && this.random() < LEVEL_PROBABILITY) level++;
    return level;
  }

  scoreOf(node: number): number {
    return this.scores[node]!;
  }

  memberOf(node: number): string {
    return this.members[node]!;
  }

  /** The node after `node` in order, or NIL. */
  nextOf(node: number): number {
    return this.ints[node * STRIDE + NEXT]!;
  }

  /** The node before `node` in order, or NIL. */
  previousOf(node: number): number {
    return this.ints[node * STRIDE + BACK]!;
  }

  /** Inserts (score, member), absent until now, and returns its node. */
  insert(score: number, member: string): number {
    this.search(score, member);
    const height = this.randomLevel();
    const node = this.allocateNode(height);
    this.scores[node] = score;
    this.members[node] = member;
    this.link(node, height);
    return node;
  }

  /** Removes the node holding (score, member); false when there is none. */
  delete(score: number, member: string): boolean {
    this.search(score, member);
    const node = this.ints[update[0]! * STRIDE + NEXT]!;
    if (node === NIL || this.scores[node] !== score || this.members[node] !== member) return false;
    this.unlink(node);
    this.release(node);
    return true;
  }

  /**
   * Moves `node` to `score`, keeping the node (the same index) and its height. In place when its
   * neighbours still bracket the new score (the common case for a small increment), else by
   * unlinking it and linking it again where it now belongs.
   */
  updateScore(node: number, score: number): number {
    const member = this.members[node]!;
    const previous = this.ints[node * STRIDE + BACK]!;
    const following = this.ints[node * STRIDE + NEXT]!;
    const staysAfter = previous === NIL || this.before(previous, score, member);
    const staysBefore = following === NIL || !this.before(following, score, member);
    if (staysAfter && staysBefore) {
      this.scores[node] = score;
      return node;
    }
    this.search(this.scores[node]!, member);
    this.unlink(node);
    this.search(score, member);
    this.scores[node] = score;
    this.link(node, this.ints[node * STRIDE + HEIGHT]!);
    return node;
  }

  /** The 1-based rank of (score, member), or 0 when absent. */
  rankOf(score: number, member: string): number {
    const { ints, pool, scores, members } = this;
    let rank = 0;
    let node = NIL;
    for (let level = this.level - 1; level >= 1; level--) {
      let at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      let next = pool[at]!;
      while (
        next !== NIL &&
        (scores[next]! < score || (scores[next] === score && compareMembers(members[next]!, member) <= 0))
      ) {
        rank += pool[at + 1]!;
        node = next;
        at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
        next = pool[at]!;
      }
      if (node !== NIL && members[node] === member) return rank;
    }
    let next = ints[node * STRIDE + NEXT]!;
    while (
      next !== NIL &&
      (scores[next]! < score || (scores[next] === score && compareMembers(members[next]!, member) <= 0))
    ) {
      rank++;
      node = next;
      next = ints[node * STRIDE + NEXT]!;
    }
    return node !== NIL && members[node] === member ? rank : 0;
  }

  /** The node at a 1-based rank, or NIL outside 1..length. */
  byRank(rank: number): number {
    if (rank < 1 || rank > this.length) return NIL;
    const { ints, pool } = this;
    let traversed = 0;
    let node = NIL;
    for (let level = this.level - 1; level >= 1; level--) {
      let at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      while (pool[at] !== NIL && traversed + pool[at + 1]! <= rank) {
        traversed += pool[at + 1]!;
        node = pool[at]!;
        at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      }
      if (traversed === rank) return node;
    }
    // The rest is at most a few level-0 steps: a node with a higher link would have been taken.
    while (traversed < rank) {
      node = ints[node * STRIDE + NEXT]!;
      traversed++;
    }
    return node;
  }

  /** The count of nodes below the range's minimum: the first in range, if any, has rank this + 1. */
  countBelow(range: ScoreRange): number {
    return this.countWhile((score) => !aboveMin(score, range));
  }

  /** The count of nodes at or below the range's maximum: the last in range, if any, has this rank. */
  countUpToMax(range: ScoreRange): number {
    return this.countWhile((score) => belowMax(score, range));
  }

  /** The 1-based ranks of the first and last nodes in the range; first > last when it is empty. */
  rankBounds(range: ScoreRange): { first: number; last: number } {
    if (!rangeIsSatisfiable(range)) return { first: 1, last: 0 };
    return { first: this.countBelow(range) + 1, last: this.countUpToMax(range) };
  }

  /** The first node in the range, or NIL: one descent, where the ranks of both ends take two. */
  firstInRange(range: ScoreRange): number {
    if (!rangeIsSatisfiable(range)) return NIL;
    this.fillUpdateWhile((score) => !aboveMin(score, range));
    const node = this.nextOf(update[0]!);
    return node !== NIL && belowMax(this.scores[node]!, range) ? node : NIL;
  }

  /** The last node in the range, or NIL. */
  lastInRange(range: ScoreRange): number {
    if (!rangeIsSatisfiable(range)) return NIL;
    this.fillUpdateWhile((score) => belowMax(score, range));
    const node = update[0]!;
    return node !== NIL && aboveMin(this.scores[node]!, range) ? node : NIL;
  }

  /** Removes every node in the score range, calling `removed` for each member; returns how many. */
  deleteRangeByScore(range: ScoreRange, removed: (member: string) => void): number {
    if (!rangeIsSatisfiable(range)) return 0;
    this.fillUpdateWhile((score) => !aboveMin(score, range));
    let count = 0;
    let current = this.ints[update[0]! * STRIDE + NEXT]!;
    while (current !== NIL && belowMax(this.scores[current]!, range)) {
      const following = this.ints[current * STRIDE + NEXT]!;
      count += this.removeAfterSearch(current, removed);
      current = following;
    }
    return count;
  }

  /** Removes the nodes of 1-based ranks start..end (inclusive, within 1..length); returns how many. */
  deleteRangeByRank(start: number, end: number, removed: (member: string) => void): number {
    let rank = this.fillUpdateBeforeRank(start) + 1;
    let count = 0;
    let current = this.ints[update[0]! * STRIDE + NEXT]!;
    while (current !== NIL && rank <= end) {
      const following = this.ints[current * STRIDE + NEXT]!;
      count += this.removeAfterSearch(current, removed);
      rank++;
      current = following;
    }
    return count;
  }

  /** Checks every span and back link against a level-0 walk (tests call it; O(n * levels)). */
  assertConsistent(): void {
    const rankOfNode = new Map<number, number>([[NIL, 0]]);
    let rank = 0;
    let previous = NIL;
    for (let node = this.nextOf(NIL); node !== NIL; node = this.nextOf(node)) {
      rank++;
      rankOfNode.set(node, rank);
      if (this.previousOf(node) !== previous) throw new Error(`backward link broken at rank ${rank}`);
      if (previous !== NIL && !this.before(previous, this.scores[node]!, this.members[node]!))
        throw new Error(`order broken at ${rank}`);
      previous = node;
    }
    if (rank !== this.length) throw new Error(`length ${this.length} but ${rank} nodes`);
    for (const [from, fromRank] of rankOfNode) {
      const height = Math.min(this.ints[from * STRIDE + HEIGHT]!, this.level);
      for (let level = 1; level < height; level++) {
        const at = this.ints[from * STRIDE + UPPER]! + 2 * level - 2;
        const to = this.pool[at]!;
        if (to === NIL) continue;
        const toRank = rankOfNode.get(to);
        if (toRank === undefined) throw new Error(`link to a removed node at rank ${fromRank}`);
        if (this.pool[at + 1] !== toRank - fromRank) throw new Error(`span broken at rank ${fromRank}`);
      }
    }
  }

  /** The heights of all nodes, in order (for the level distribution test). */
  heights(): number[] {
    const heights: number[] = [];
    for (let node = this.nextOf(NIL); node !== NIL; node = this.nextOf(node))
      heights.push(this.ints[node * STRIDE + HEIGHT]!);
    return heights;
  }

  /** True when node sorts strictly before (score, member). */
  private before(node: number, score: number, member: string): boolean {
    const nodeScore = this.scores[node]!;
    return nodeScore < score || (nodeScore === score && compareMembers(this.members[node]!, member) < 0);
  }

  /** Fills `update` and `rankAt` with the last node before (score, member) at each level, and its rank. */
  private search(score: number, member: string): void {
    const { ints, pool, scores, members } = this;
    let rank = 0;
    let node = NIL;
    for (let level = this.level - 1; level >= 1; level--) {
      let at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      let next = pool[at]!;
      while (
        next !== NIL &&
        (scores[next]! < score || (scores[next] === score && compareMembers(members[next]!, member) < 0))
      ) {
        rank += pool[at + 1]!;
        node = next;
        at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
        next = pool[at]!;
      }
      update[level] = node;
      rankAt[level] = rank;
    }
    let next = ints[node * STRIDE + NEXT]!;
    while (
      next !== NIL &&
      (scores[next]! < score || (scores[next] === score && compareMembers(members[next]!, member) < 0))
    ) {
      rank++;
      node = next;
      next = ints[node * STRIDE + NEXT]!;
    }
    update[0] = node;
    rankAt[0] = rank;
  }

  /** Fills `update` with the last node at each level whose score passes `goOn`. */
  private fillUpdateWhile(goOn: (score: number) => boolean): void {
    const { ints, pool, scores } = this;
    let node = NIL;
    for (let level = this.level - 1; level >= 1; level--) {
      let at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      while (pool[at] !== NIL && goOn(scores[pool[at]!]!)) {
        node = pool[at]!;
        at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      }
      update[level] = node;
    }
    while (ints[node * STRIDE + NEXT] !== NIL && goOn(scores[ints[node * STRIDE + NEXT]!]!))
      node = ints[node * STRIDE + NEXT]!;
    update[0] = node;
  }

  /** Counts the nodes from the start whose scores pass `goOn` (they must be a prefix). */
  private countWhile(goOn: (score: number) => boolean): number {
    const { ints, pool, scores } = this;
    let rank = 0;
    let node = NIL;
    for (let level = this.level - 1; level >= 1; level--) {
      let at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      while (pool[at] !== NIL && goOn(scores[pool[at]!]!)) {
        rank += pool[at + 1]!;
        node = pool[at]!;
        at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      }
    }
    while (ints[node * STRIDE + NEXT] !== NIL && goOn(scores[ints[node * STRIDE + NEXT]!]!)) {
      rank++;
      node = ints[node * STRIDE + NEXT]!;
    }
    return rank;
  }

  /** Fills `update` with the last node before rank `start` at each level; returns that node's rank. */
  private fillUpdateBeforeRank(start: number): number {
    const { ints, pool } = this;
    let traversed = 0;
    let node = NIL;
    for (let level = this.level - 1; level >= 1; level--) {
      let at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      while (pool[at] !== NIL && traversed + pool[at + 1]! < start) {
        traversed += pool[at + 1]!;
        node = pool[at]!;
        at = ints[node * STRIDE + UPPER]! + 2 * level - 2;
      }
      update[level] = node;
    }
    while (ints[node * STRIDE + NEXT] !== NIL && traversed + 1 < start) {
      traversed++;
      node = ints[node * STRIDE + NEXT]!;
    }
    update[0] = node;
    return traversed;
  }

  /** Unlinks and frees `node`, whose predecessors `update` holds; 1 for the count. */
  private removeAfterSearch(node: number, removed: (member: string) => void): number {
    const member = this.members[node]!;
    this.unlink(node);
    this.release(node);
    removed(member);
    return 1;
  }

  /** Links `node` of `height` after the predecessors a `search` for its place left in `update`. */
  private link(node: number, height: number): void {
    if (height > this.level) {
      this.growHeader(height);
      const headerUpper = this.ints[UPPER]!;
      for (let level = this.level; level < height; level++) {
        update[level] = NIL;
        rankAt[level] = 0;
        this.pool[headerUpper + 2 * level - 1] = this.length;
      }
      this.level = height;
    }
    const { ints, pool } = this;
    const rankBefore = rankAt[0]!;
    const previous = update[0]!;
    const following = ints[previous * STRIDE + NEXT]!;
    ints[node * STRIDE + NEXT] = following;
    ints[previous * STRIDE + NEXT] = node;
    ints[node * STRIDE + BACK] = previous;
    if (following !== NIL) ints[following * STRIDE + BACK] = node;
    const nodeUpper = ints[node * STRIDE + UPPER]!;
    for (let level = 1; level < height; level++) {
      const at = ints[update[level]! * STRIDE + UPPER]! + 2 * level - 2;
      const own = nodeUpper + 2 * level - 2;
      const skipped = rankBefore - rankAt[level]!;
      // The new link jumps what the old one did past the insertion point; the old one now stops here.
      pool[own] = pool[at]!;
      pool[at] = node;
      pool[own + 1] = pool[at + 1]! - skipped;
      pool[at + 1] = skipped + 1;
    }
    for (let level = height; level < this.level; level++)
      pool[ints[update[level]! * STRIDE + UPPER]! + 2 * level - 1]! += 1;
    this.length++;
  }

  /** Takes `node` out of every level; `update` holds its predecessors. The node stays allocated. */
  private unlink(node: number): void {
    const { ints, pool } = this;
    const nodeUpper = ints[node * STRIDE + UPPER]!;
    const nodeHeight = ints[node * STRIDE + HEIGHT]!;
    for (let level = 1; level < this.level; level++) {
      const at = ints[update[level]! * STRIDE + UPPER]! + 2 * level - 2;
      if (level < nodeHeight && pool[at] === node) {
        const own = nodeUpper + 2 * level - 2;
        pool[at + 1]! += pool[own + 1]! - 1;
        pool[at] = pool[own]!;
      } else {
        pool[at + 1]! -= 1;
      }
    }
    const previous = ints[node * STRIDE + BACK]!;
    const following = ints[node * STRIDE + NEXT]!;
    ints[previous * STRIDE + NEXT] = following;
    if (following !== NIL) ints[following * STRIDE + BACK] = previous;
    const headerUpper = ints[UPPER]!;
    while (this.level > 1 && pool[headerUpper + 2 * (this.level - 1) - 2] === NIL) this.level--;
    this.length--;
  }

  private allocateNode(height: number): number {
    let node = this.firstFreeNode;
    if (node !== NIL) this.firstFreeNode = this.ints[node * STRIDE + NEXT]!;
    else {
      node = this.nodesUsed++;
      if (node >= this.scores.length) this.growNodes();
      this.members.push(undefined);
    }
    this.ints[node * STRIDE + HEIGHT] = height;
    this.ints[node * STRIDE + UPPER] = height > 1 ? this.allocateChunk(height) : 0;
    return node;
  }

  private release(node: number): void {
    const height = this.ints[node * STRIDE + HEIGHT]!;
    if (height > 1) this.freeChunk(this.ints[node * STRIDE + UPPER]!, height);
    this.members[node] = undefined;
    this.ints[node * STRIDE + NEXT] = this.firstFreeNode;
    this.firstFreeNode = node;
  }

  private growNodes(): void {
    const ints = new Int32Array(this.ints.length * 2);
    ints.set(this.ints);
    this.ints = ints;
    const scores = new Float64Array(this.scores.length * 2);
    scores.set(this.scores);
    this.scores = scores;
  }

  /** An offset in the pool for the links of levels 1..height-1. */
  private allocateChunk(height: number): number {
    const free = this.freeChunks[height]!;
    if (free !== -1) {
      this.freeChunks[height] = this.pool[free]!;
      return free;
    }
    const size = 2 * (height - 1);
    if (this.poolUsed + size > this.pool.length) {
      const pool = new Int32Array(Math.max(this.pool.length * 2, this.poolUsed + size));
      pool.set(this.pool);
      this.pool = pool;
    }
    const offset = this.poolUsed;
    this.poolUsed += size;
    return offset;
  }

  private freeChunk(offset: number, height: number): void {
    this.pool[offset] = this.freeChunks[height]!;
    this.freeChunks[height] = offset;
  }

  /** Gives the header links up to `height`, new ones empty; the header keeps its tallest chunk. */
  private growHeader(height: number): void {
    const oldHeight = this.ints[HEIGHT]!;
    if (height <= oldHeight) return;
    const oldUpper = this.ints[UPPER]!;
    const upper = this.allocateChunk(height);
    const pool = this.pool;
    for (let index = 0; index < 2 * (height - 1); index++) pool[upper + index] = 0;
    if (oldHeight > 1) {
      pool.copyWithin(upper, oldUpper, oldUpper + 2 * (oldHeight - 1));
      this.freeChunk(oldUpper, oldHeight);
    }
    this.ints[UPPER] = upper;
    this.ints[HEIGHT] = height;
  }
}
