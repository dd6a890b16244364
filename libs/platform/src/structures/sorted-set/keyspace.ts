import { SortedSetError, SortedSetFullError } from './errors.js';
import { SortedSet } from './sorted-set.js';
import { checkedByteLength, utf8ByteLength } from './strings.js';
import {
  checkInteger,
  checkScore,
  checkZAddOptions,
  type KeepOrder,
  type RankWithScore,
  type ScoreBound,
  type ScoredMember,
  type ScoreRangeOptions,
  scoreRangeOf,
  type ZAddOptions,
} from './types.js';

/**
 * The embedded twin of a Redis keyspace of sorted sets: synchronous, in this process, with Redis's
 * replies for the same commands (a differential test drives it and Redis side by side). A key
 * emptied by a removal is gone, as in Redis. Unlike Redis, it has a bound: total members, and
 * approximate bytes (each member's UTF-8 plus a measured per-member overhead), checked before a
 * command changes anything, so a refused ZADD leaves nothing behind.
 *
 * A score of -0 is stored and answered as 0 (`score + 0`): Redis does so for small sets (its
 * listpack encoding) but not for large ones (its skip list), and the port gives one answer.
 */

/**
 * Heap bytes a member costs beyond its UTF-8: its map entry and its flat skip-list record (node
 * fields, score, member slot, a share of the link pool), 36 to 72 with the arrays' doubling
 * slack, measured on Node 20 with 20 to 1M members per key (47 at 1M; load-tests
 * `bench:sorted-set`), plus a string header.
 */
export const MEMBER_OVERHEAD_BYTES = 64;
/** Heap bytes a key costs beyond its UTF-8 and its members: its map slot, set, member map and skip-list arrays (measured beside the above: 1,420 with one member). */
export const KEY_OVERHEAD_BYTES = 1_400;

export interface SortedSetLimits {
  /** Members across every key. */
  maxMembers: number;
  /** Approximate heap bytes across every key. */
  maxBytes: number;
  /** One member's UTF-8 bytes (both adapters refuse longer members). */
  maxMemberBytes: number;
  /** One key's UTF-8 bytes (both adapters refuse longer keys). */
  maxKeyBytes: number;
}

export const DEFAULT_SORTED_SET_LIMITS: SortedSetLimits = {
  maxMembers: 5_000_000,
  maxBytes: 1024 * 1024 * 1024,
  maxMemberBytes: 4 * 1024,
  maxKeyBytes: 1024,
};

export interface SortedSetKeyspaceOptions extends Partial<SortedSetLimits> {
  /** Draws skip-list node heights: inject a seeded one to replay a shape. */
  random?: () => number;
}

export class SortedSetKeyspace {
  readonly limits: SortedSetLimits;
  private readonly sets = new Map<string, SortedSet>();
  private readonly random: (() => number) | undefined;
  private members = 0;
  private bytes = 0;

  constructor(options: SortedSetKeyspaceOptions = {}) {
    const { random, ...limits } = options;
    this.limits = { ...DEFAULT_SORTED_SET_LIMITS, ...limits };
    for (const [name, value] of Object.entries(this.limits)) {
      if (!(value > 0)) throw new RangeError(`sorted-set limit ${name} must be positive: ${value}`);
    }
    this.random = random;
  }

  /** Members across every key. */
  get memberCount(): number {
    return this.members;
  }

  /** The approximate heap bytes the bound counts. */
  get approximateBytes(): number {
    return this.bytes;
  }

  get keyCount(): number {
    return this.sets.size;
  }

  /** ZADD key [NX|XX] [GT|LT] [CH] score member ...: members added, or added plus changed with CH. */
  zadd(key: string, entries: readonly ScoredMember[], options: ZAddOptions = {}): number {
    checkZAddOptions(options, entries.length);
    const keyBytes = this.checkKey(key);
    for (const entry of entries) {
      checkScore(entry.score);
      this.checkMember(entry.member);
    }
    let set = this.sets.get(key);
    if (set === undefined && options.xx) return 0;
    if (!options.xx) this.reserveFor(set, keyBytes, entries);
    set ??= this.createSet(key, keyBytes);
    let added = 0;
    let changed = 0;
    for (const entry of entries) {
      const member = entry.member;
      const score = entry.score + 0;
      const current = set.score(member);
      if (current === undefined) {
        if (options.xx) continue;
        set.set(member, score);
        this.account(member, 1);
        added++;
        continue;
      }
      if (options.nx) continue;
      if ((options.lt && score >= current) || (options.gt && score <= current)) continue;
      if (score !== current) {
        set.set(member, score);
        changed++;
      }
    }
    return options.ch ? added + changed : added;
  }

  /** ZADD key ... INCR increment member: the new score, or null when a flag stopped the update. */
  zaddIncr(key: string, member: string, increment: number, options: ZAddOptions = {}): number | null {
    checkZAddOptions(options, 1);
    const keyBytes = this.checkKey(key);
    checkScore(increment, 'increment');
    this.checkMember(member);
    const set = this.sets.get(key);
    const current = set?.score(member);
    if (current === undefined) {
      if (options.xx) return null;
      this.reserveFor(set, keyBytes, [{ member, score: increment }]);
      (set ?? this.createSet(key, keyBytes)).set(member, increment + 0);
      this.account(member, 1);
      return increment + 0;
    }
    if (options.nx) return null;
    const score = current + increment;
    if (Number.isNaN(score))
      throw new SortedSetError('ZSET_ERR_NAN_RESULT', 'resulting score is not a number (NaN)');
    if ((options.lt && score >= current) || (options.gt && score <= current)) return null;
    set!.set(member, score);
    return score;
  }

  /** ZINCRBY key increment member: the new score (a missing member starts from 0). */
  zincrby(key: string, increment: number, member: string): number {
    return this.zaddIncr(key, member, increment)!;
  }

  /** ZREM key member ...: how many were removed. */
  zrem(key: string, members: readonly string[]): number {
    this.checkKey(key);
    if (members.length === 0)
      throw new SortedSetError('ZSET_ERR_INVALID_OPTIONS', 'ZREM needs at least one member');
    for (const member of members) this.checkMember(member);
    const set = this.sets.get(key);
    if (set === undefined) return 0;
    let removed = 0;
    for (const member of members) {
      if (set.remove(member)) {
        this.account(member, -1);
        removed++;
      }
    }
    this.dropIfEmpty(key, set);
    return removed;
  }

  zscore(key: string, member: string): number | null {
    this.checkKey(key);
    this.checkMember(member);
    return this.sets.get(key)?.score(member) ?? null;
  }

  zmscore(key: string, members: readonly string[]): (number | null)[] {
    this.checkKey(key);
    if (members.length === 0)
      throw new SortedSetError('ZSET_ERR_INVALID_OPTIONS', 'ZMSCORE needs at least one member');
    for (const member of members) this.checkMember(member);
    const set = this.sets.get(key);
    return members.map((member) => set?.score(member) ?? null);
  }

  /** ZRANK (or ZREVRANK with `rev`): 0-based, or null when the key or member is absent. */
  zrank(key: string, member: string, rev = false): number | null {
    return this.zrankWithScore(key, member, rev)?.rank ?? null;
  }

  /** ZRANK ... WITHSCORE. */
  zrankWithScore(key: string, member: string, rev = false): RankWithScore | null {
    this.checkKey(key);
    this.checkMember(member);
    return this.sets.get(key)?.rank(member, rev) ?? null;
  }

  /** ZRANGE key start stop [REV] WITHSCORES: inclusive ranks, negative from the end. */
  zrange(key: string, start: number, stop: number, options: { rev?: boolean } = {}): ScoredMember[] {
    this.checkKey(key);
    checkInteger(start, 'start');
    checkInteger(stop, 'stop');
    return this.sets.get(key)?.rangeByRank(start, stop, options.rev ?? false) ?? [];
  }

  /** ZRANGE key min max BYSCORE [REV] [LIMIT offset count] WITHSCORES. */
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options: ScoreRangeOptions = {},
  ): ScoredMember[] {
    this.checkKey(key);
    const range = scoreRangeOf(min, max);
    if (options.limit) {
      checkInteger(options.limit.offset, 'offset');
      checkInteger(options.limit.count, 'count');
    }
    return this.sets.get(key)?.rangeByScore(range, options.rev ?? false, options.limit) ?? [];
  }

  zremRangeByRank(key: string, start: number, stop: number): number {
    this.checkKey(key);
    checkInteger(start, 'start');
    checkInteger(stop, 'stop');
    const set = this.sets.get(key);
    if (set === undefined) return 0;
    const removed = set.removeRangeByRank(start, stop, (member) => this.account(member, -1));
    this.dropIfEmpty(key, set);
    return removed;
  }

  zremRangeByScore(key: string, min: ScoreBound, max: ScoreBound): number {
    this.checkKey(key);
    const range = scoreRangeOf(min, max);
    const set = this.sets.get(key);
    if (set === undefined) return 0;
    const removed = set.removeRangeByScore(range, (member) => this.account(member, -1));
    this.dropIfEmpty(key, set);
    return removed;
  }

  zcard(key: string): number {
    this.checkKey(key);
    return this.sets.get(key)?.size ?? 0;
  }

  zcount(key: string, min: ScoreBound, max: ScoreBound): number {
    this.checkKey(key);
    const range = scoreRangeOf(min, max);
    return this.sets.get(key)?.count(range) ?? 0;
  }

  /** DEL key: true when it existed. */
  del(key: string): boolean {
    this.checkKey(key);
    const set = this.sets.get(key);
    if (set === undefined) return false;
    for (const member of set.members()) this.account(member, -1);
    this.sets.delete(key);
    this.bytes -= KEY_OVERHEAD_BYTES + utf8ByteLength(key);
    return true;
  }

  /**
   * Keeps the `count` members with the highest (or lowest) scores and removes the rest: a
   * timeline's cap. ZREMRANGEBYRANK under the hood; returns how many went.
   */
  keepTop(key: string, count: number, order: KeepOrder): number {
    this.checkKey(key);
    checkInteger(count, 'count');
    if (count < 0) throw new SortedSetError('ZSET_ERR_INVALID_OPTIONS', 'keepTop count must not be negative');
    return order === 'highest'
      ? this.zremRangeByRank(key, 0, -count - 1)
      : this.zremRangeByRank(key, count, -1);
  }

  private checkKey(key: string): number {
    return checkedByteLength('key', key, this.limits.maxKeyBytes);
  }

  private checkMember(member: string): number {
    return checkedByteLength('member', member, this.limits.maxMemberBytes);
  }

  /** Refuses, before anything changes, an add whose new members would pass a bound. */
  private reserveFor(set: SortedSet | undefined, keyBytes: number, entries: readonly ScoredMember[]): void {
    let bytes = set === undefined ? KEY_OVERHEAD_BYTES + keyBytes : 0;
    let newcomers = 0;
    // One entry (a score update, the hot path) needs no set of the batch's members.
    const seen = entries.length > 1 ? new Set<string>() : undefined;
    for (const { member } of entries) {
      if (seen?.has(member) || set?.has(member)) continue;
      seen?.add(member);
      newcomers++;
      bytes += MEMBER_OVERHEAD_BYTES + utf8ByteLength(member);
    }
    if (this.members + newcomers > this.limits.maxMembers) {
      throw new SortedSetFullError(
        `adding ${newcomers} members would pass the keyspace's ${this.limits.maxMembers} members`,
        'members',
      );
    }
    if (this.bytes + bytes > this.limits.maxBytes) {
      throw new SortedSetFullError(
        `adding ${bytes} bytes would pass the keyspace's ${this.limits.maxBytes} bytes`,
        'bytes',
      );
    }
  }

  private createSet(key: string, keyBytes: number): SortedSet {
    const set = new SortedSet(this.random);
    this.sets.set(key, set);
    this.bytes += KEY_OVERHEAD_BYTES + keyBytes;
    return set;
  }

  private account(member: string, sign: 1 | -1): void {
    this.members += sign;
    this.bytes += sign * (MEMBER_OVERHEAD_BYTES + utf8ByteLength(member));
  }

  private dropIfEmpty(key: string, set: SortedSet): void {
    if (set.size > 0) return;
    this.sets.delete(key);
    this.bytes -= KEY_OVERHEAD_BYTES + utf8ByteLength(key);
  }
}
