import { aboveMin, belowMax, NIL, type ScoreRange, SkipList } from './skip-list.js';
import type { RangeLimit, RankWithScore, ScoredMember } from './types.js';

/**
 * One sorted set, as Redis builds it: a hash map from member to its skip-list node, an index
 * (ZSCORE in O(1)) beside the skip list ordered by (score, member bytes) (ranks and ranges in O(log n)).
 * Ranks are 0-based here, as Redis's replies are. Arguments are already checked by the keyspace.
 */
export class SortedSet {
  private readonly nodes = new Map<string, number>();
  private readonly list: SkipList;

  constructor(random?: () => number) {
    this.list = new SkipList(random);
  }

  get size(): number {
    return this.nodes.size;
  }

  has(member: string): boolean {
    return this.nodes.has(member);
  }

  score(member: string): number | undefined {
    const node = this.nodes.get(member);
    return node === undefined ? undefined : this.list.scoreOf(node);
  }

  /**
   * Sets the score, adding the member if absent. As in Redis, a score equal by `==` is no change:
   * 0 does not replace -0, nor -0 replace 0.
   */
  set(member: string, score: number): void {
    const node = this.nodes.get(member);
    if (node === undefined) this.nodes.set(member, this.list.insert(score, member));
    else if (this.list.scoreOf(node) !== score) this.list.updateScore(node, score);
  }

  remove(member: string): boolean {
    const node = this.nodes.get(member);
    if (node === undefined) return false;
    this.list.delete(this.list.scoreOf(node), member);
    this.nodes.delete(member);
    return true;
  }

  rank(member: string, rev: boolean): RankWithScore | undefined {
    const node = this.nodes.get(member);
    if (node === undefined) return undefined;
    const score = this.list.scoreOf(node);
    const rank = this.list.rankOf(score, member) - 1;
    return { rank: rev ? this.size - 1 - rank : rank, score };
  }

  /** ZRANGE by rank: `start` and `stop` inclusive, negative from the end, clamped as Redis does. */
  rangeByRank(start: number, stop: number, rev: boolean): ScoredMember[] {
    const bounds = this.normaliseRanks(start, stop);
    if (bounds === undefined) return [];
    const count = bounds.stop - bounds.start + 1;
    const firstRank = rev ? this.size - bounds.start : bounds.start + 1;
    return this.walk(this.list.byRank(firstRank), count, rev);
  }

  rangeByScore(range: ScoreRange, rev: boolean, limit: RangeLimit | undefined): ScoredMember[] {
    const offset = limit?.offset ?? 0;
    if (offset < 0) return [];
    if (offset === 0) {
      // The common read (top N above a score): walk from the end found in one descent.
      const wanted = limit === undefined || limit.count < 0 ? this.size : limit.count;
      return this.walkInRange(
        rev ? this.list.lastInRange(range) : this.list.firstInRange(range),
        wanted,
        rev,
        range,
      );
    }
    const { first, last } = this.list.rankBounds(range);
    if (first > last) return [];
    const inRange = last - first + 1;
    if (offset >= inRange) return [];
    const count =
      limit === undefined || limit.count < 0 ? inRange - offset : Math.min(limit.count, inRange - offset);
    const startRank = rev ? last - offset : first + offset;
    return this.walk(this.list.byRank(startRank), count, rev);
  }

  count(range: ScoreRange): number {
    const { first, last } = this.list.rankBounds(range);
    return Math.max(0, last - first + 1);
  }

  /** ZREMRANGEBYRANK, with ranks as `rangeByRank` reads them; `removed` sees each member. */
  removeRangeByRank(start: number, stop: number, removed: (member: string) => void): number {
    const bounds = this.normaliseRanks(start, stop);
    if (bounds === undefined) return 0;
    return this.list.deleteRangeByRank(bounds.start + 1, bounds.stop + 1, (member) => {
      this.nodes.delete(member);
      removed(member);
    });
  }

  removeRangeByScore(range: ScoreRange, removed: (member: string) => void): number {
    return this.list.deleteRangeByScore(range, (member) => {
      this.nodes.delete(member);
      removed(member);
    });
  }

  /** Every member, for memory accounting when a whole key goes. */
  members(): IterableIterator<string> {
    return this.nodes.keys();
  }

  private normaliseRanks(start: number, stop: number): { start: number; stop: number } | undefined {
    const length = this.size;
    let from = start < 0 ? start + length : start;
    let to = stop < 0 ? stop + length : stop;
    if (from < 0) from = 0;
    if (from > to || from >= length) return undefined;
    if (to >= length) to = length - 1;
    return { start: from, stop: to };
  }

  /** Like `walk`, stopping also at the first node past the range's far end. */
  private walkInRange(first: number, count: number, rev: boolean, range: ScoreRange): ScoredMember[] {
    const entries: ScoredMember[] = [];
    const list = this.list;
    let node = first;
    while (node !== NIL && entries.length < count) {
      const score = list.scoreOf(node);
      if (rev ? !aboveMin(score, range) : !belowMax(score, range)) break;
      entries.push({ member: list.memberOf(node), score });
      node = rev ? list.previousOf(node) : list.nextOf(node);
    }
    return entries;
  }

  private walk(first: number, count: number, rev: boolean): ScoredMember[] {
    const entries: ScoredMember[] = [];
    const list = this.list;
    let node = first;
    while (node !== NIL && entries.length < count) {
      entries.push({ member: list.memberOf(node), score: list.scoreOf(node) });
      node = rev ? list.previousOf(node) : list.nextOf(node);
    }
    return entries;
  }
}
