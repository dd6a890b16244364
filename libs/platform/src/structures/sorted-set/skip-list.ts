import { compareMembers } from './strings.js';

/**
 * Redis's zskiplist: a skip list ordered by (score, member bytes) whose links carry spans, the
 * number of level-0 steps each link jumps, so that the rank of an element and the element at a
 * rank are both found in O(log n) by summing spans on the way down. A node's height is drawn with
 * p = 1/4 up to 32 levels, as in Redis (`ZSKIPLIST_P`, `ZSKIPLIST_MAXLEVEL`), which gives 1.33
 * links per node on average. Level 0 is doubly linked (`backward`) for reverse walks.
 *
 * Ranks here are 1-based, as in Redis's t_zset.c; the sorted set turns them into 0-based ranks.
 * The list trusts its caller (the sorted set) to insert a member only when absent.
 */

export const MAX_LEVEL = 32;
const LEVEL_PROBABILITY = 0.25;

export class SkipNode {
  backward: SkipNode | null = null;
  readonly next: (SkipNode | null)[];
  readonly span: number[];

  constructor(
    readonly member: string,
    public score: number,
    level: number,
  ) {
    // Sized exactly: arrays grown by push reserve 17 slots, which costs memory and cache misses.
    this.next = new Array<SkipNode | null>(level).fill(null);
    this.span = new Array<number>(level).fill(0);
  }
}

/** A score interval; an exclusive end is Redis's `(` prefix. */
export interface ScoreRange {
  min: number;
  minExclusive: boolean;
  max: number;
  maxExclusive: boolean;
}

function aboveMin(score: number, range: ScoreRange): boolean {
  return range.minExclusive ? score > range.min : score >= range.min;
}

function belowMax(score: number, range: ScoreRange): boolean {
  return range.maxExclusive ? score < range.max : score <= range.max;
}

/** False when no score can be in the range, so searches can stop at once. */
export function rangeIsSatisfiable(range: ScoreRange): boolean {
  if (range.min > range.max) return false;
  return !(range.min === range.max && (range.minExclusive || range.maxExclusive));
}

/** True when (score, member) sorts strictly before the node. */
function before(node: SkipNode, score: number, member: string): boolean {
  return node.score < score || (node.score === score && compareMembers(node.member, member) < 0);
}

/**
 * Scratch for the searches that remember, per level, the last node before a position and its
 * rank. Shared by every list: the calls are synchronous and never re-enter a list while they use
 * it, and one allocation per call was a measurable share of an insert.
 */
const scratchNodes: SkipNode[] = [];
const scratchRanks: number[] = [];
for (let level = 0; level < MAX_LEVEL; level++) {
  scratchNodes.push(new SkipNode('', 0, 0));
  scratchRanks.push(0);
}

export class SkipList {
  /** Grows its levels as the list's height grows: a key holding a few members stays small. */
  private readonly header = new SkipNode('', Number.NEGATIVE_INFINITY, 1);
  private level = 1;
  length = 0;

  /** `random` draws node heights: inject a seeded one to replay a shape. */
  constructor(private readonly random: () => number = Math.random) {}

  randomLevel(): number {
    let level = 1;
    while (level < MAX_LEVEL && this.random() < LEVEL_PROBABILITY) level++;
    return level;
  }

  insert(score: number, member: string): SkipNode {
    const update = scratchNodes;
    const rank = scratchRanks;
    let node = this.header;
    for (let level = this.level - 1; level >= 0; level--) {
      rank[level] = level === this.level - 1 ? 0 : rank[level + 1]!;
      let next = node.next[level];
      while (next && before(next, score, member)) {
        rank[level]! += node.span[level]!;
        node = next;
        next = node.next[level];
      }
      update[level] = node;
    }
    const height = this.randomLevel();
    if (height > this.level) {
      while (this.header.next.length < height) {
        this.header.next.push(null);
        this.header.span.push(0);
      }
      for (let level = this.level; level < height; level++) {
        rank[level] = 0;
        update[level] = this.header;
        this.header.span[level] = this.length;
      }
      this.level = height;
    }
    const created = new SkipNode(member, score, height);
    const rankBefore = rank[0]!;
    for (let level = 0; level < height; level++) {
      const previous = update[level]!;
      created.next[level] = previous.next[level] ?? null;
      previous.next[level] = created;
      // The new link jumps what the old one did past the insertion point; the old one now stops here.
      created.span[level] = previous.span[level]! - (rankBefore - rank[level]!);
      previous.span[level] = rankBefore - rank[level]! + 1;
    }
    for (let level = height; level < this.level; level++) update[level]!.span[level]! += 1;
    created.backward = update[0] === this.header ? null : update[0]!;
    const following = created.next[0];
    if (following) following.backward = created;
    this.length++;
    return created;
  }

  /** Removes the node holding (score, member); false when there is none. */
  delete(score: number, member: string): boolean {
    const update = this.predecessors(score, member);
    const node = update[0]!.next[0];
    if (!node || node.score !== score || node.member !== member) return false;
    this.unlink(node, update);
    return true;
  }

  /**
   * Moves `node` to `score`. In place when its neighbours still bracket the new score (the common
   * case for a small increment), else by removing and inserting it again.
   */
  updateScore(node: SkipNode, score: number): SkipNode {
    const previous = node.backward;
    const following = node.next[0] ?? null;
    const staysAfter = previous === null || before(previous, score, node.member);
    const staysBefore = following === null || !before(following, score, node.member);
    if (staysAfter && staysBefore) {
      node.score = score;
      return node;
    }
    this.delete(node.score, node.member);
    return this.insert(score, node.member);
  }

  /** The 1-based rank of (score, member), or 0 when absent. */
  rankOf(score: number, member: string): number {
    let rank = 0;
    let node = this.header;
    for (let level = this.level - 1; level >= 0; level--) {
      let next = node.next[level];
      while (
        next &&
        (next.score < score || (next.score === score && compareMembers(next.member, member) <= 0))
      ) {
        rank += node.span[level]!;
        node = next;
        next = node.next[level];
      }
      if (node !== this.header && node.member === member) return rank;
    }
    return 0;
  }

  /** The node at a 1-based rank, or null outside 1..length. */
  byRank(rank: number): SkipNode | null {
    if (rank < 1 || rank > this.length) return null;
    let traversed = 0;
    let node = this.header;
    for (let level = this.level - 1; level >= 0; level--) {
      while (node.next[level] && traversed + node.span[level]! <= rank) {
        traversed += node.span[level]!;
        node = node.next[level]!;
      }
      if (traversed === rank) return node;
    }
    return null;
  }

  /** The count of nodes below the range's minimum: the first in range, if any, has rank this + 1. */
  countBelow(range: ScoreRange): number {
    let rank = 0;
    let node = this.header;
    for (let level = this.level - 1; level >= 0; level--) {
      let next = node.next[level];
      while (next && !aboveMin(next.score, range)) {
        rank += node.span[level]!;
        node = next;
        next = node.next[level];
      }
    }
    return rank;
  }

  /** The count of nodes at or below the range's maximum: the last in range, if any, has this rank. */
  countUpToMax(range: ScoreRange): number {
    let rank = 0;
    let node = this.header;
    for (let level = this.level - 1; level >= 0; level--) {
      let next = node.next[level];
      while (next && belowMax(next.score, range)) {
        rank += node.span[level]!;
        node = next;
        next = node.next[level];
      }
    }
    return rank;
  }

  /** The 1-based ranks of the first and last nodes in the range; first > last when it is empty. */
  rankBounds(range: ScoreRange): { first: number; last: number } {
    if (!rangeIsSatisfiable(range)) return { first: 1, last: 0 };
    return { first: this.countBelow(range) + 1, last: this.countUpToMax(range) };
  }

  /** Removes every node in the score range, calling `removed` for each; returns how many. */
  deleteRangeByScore(range: ScoreRange, removed: (node: SkipNode) => void): number {
    if (!rangeIsSatisfiable(range)) return 0;
    const update = scratchNodes;
    let node = this.header;
    for (let level = this.level - 1; level >= 0; level--) {
      while (node.next[level] && !aboveMin(node.next[level]!.score, range)) node = node.next[level]!;
      update[level] = node;
    }
    let count = 0;
    let current = node.next[0] ?? null;
    while (current && belowMax(current.score, range)) {
      const following = current.next[0] ?? null;
      this.unlink(current, update);
      removed(current);
      count++;
      current = following;
    }
    return count;
  }

  /** Removes the nodes of 1-based ranks start..end (inclusive, within 1..length); returns how many. */
  deleteRangeByRank(start: number, end: number, removed: (node: SkipNode) => void): number {
    const update = scratchNodes;
    let traversed = 0;
    let node = this.header;
    for (let level = this.level - 1; level >= 0; level--) {
      while (node.next[level] && traversed + node.span[level]! < start) {
        traversed += node.span[level]!;
        node = node.next[level]!;
      }
      update[level] = node;
    }
    traversed++;
    let count = 0;
    let current = node.next[0] ?? null;
    while (current && traversed <= end) {
      const following = current.next[0] ?? null;
      this.unlink(current, update);
      removed(current);
      count++;
      traversed++;
      current = following;
    }
    return count;
  }

  /** Checks every span and back link against a level-0 walk (tests call it; O(n * levels)). */
  assertConsistent(): void {
    const rankOfNode = new Map<SkipNode, number>();
    let rank = 0;
    let previous: SkipNode | null = null;
    let node = this.header.next[0] ?? null;
    while (node) {
      rank++;
      rankOfNode.set(node, rank);
      if (node.backward !== previous) throw new Error(`backward link broken at rank ${rank}`);
      if (previous && !before(previous, node.score, node.member)) throw new Error(`order broken at ${rank}`);
      previous = node;
      node = node.next[0] ?? null;
    }
    if (rank !== this.length) throw new Error(`length ${this.length} but ${rank} nodes`);
    for (const [from, fromRank] of [[this.header, 0] as const, ...rankOfNode]) {
      for (let level = 0; level < Math.min(from.next.length, this.level); level++) {
        const to = from.next[level];
        const toRank = to ? rankOfNode.get(to)! : this.length + 1;
        if (to && from.span[level] !== toRank - fromRank) throw new Error(`span broken at rank ${fromRank}`);
      }
    }
  }

  /** The heights of all nodes, in order (for the level distribution test). */
  heights(): number[] {
    const heights: number[] = [];
    for (let node = this.header.next[0]; node; node = node.next[0] ?? null) heights.push(node.next.length);
    return heights;
  }

  private predecessors(score: number, member: string): SkipNode[] {
    const update = scratchNodes;
    let node = this.header;
    for (let level = this.level - 1; level >= 0; level--) {
      let next = node.next[level];
      while (next && before(next, score, member)) {
        node = next;
        next = node.next[level];
      }
      update[level] = node;
    }
    return update;
  }

  private unlink(node: SkipNode, update: SkipNode[]): void {
    for (let level = 0; level < this.level; level++) {
      const previous = update[level]!;
      if (previous.next[level] === node) {
        previous.span[level]! += node.span[level]! - 1;
        previous.next[level] = node.next[level] ?? null;
      } else {
        previous.span[level]! -= 1;
      }
    }
    const following = node.next[0];
    if (following) following.backward = node.backward;
    while (this.level > 1 && !this.header.next[this.level - 1]) this.level--;
    this.length--;
  }
}
