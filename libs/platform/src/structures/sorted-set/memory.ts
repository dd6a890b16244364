import { SortedSetKeyspace, type SortedSetKeyspaceOptions } from './keyspace.js';
import type { SortedSetStore } from './port.js';
import type {
  KeepOrder,
  RankWithScore,
  ScoreBound,
  ScoredMember,
  ScoreRangeOptions,
  ZAddOptions,
} from './types.js';

/**
 * The embedded adapter: the synchronous twin behind the async port. Each call runs to completion
 * before it returns, so every command is atomic, as a Redis command is.
 */
export class MemorySortedSetStore implements SortedSetStore {
  readonly keyspace: SortedSetKeyspace;

  constructor(options: SortedSetKeyspaceOptions | SortedSetKeyspace = {}) {
    this.keyspace = options instanceof SortedSetKeyspace ? options : new SortedSetKeyspace(options);
  }

  async zadd(key: string, entries: readonly ScoredMember[], options?: ZAddOptions): Promise<number> {
    return this.keyspace.zadd(key, entries, options);
  }

  async zaddIncr(
    key: string,
    member: string,
    increment: number,
    options?: ZAddOptions,
  ): Promise<number | null> {
    return this.keyspace.zaddIncr(key, member, increment, options);
  }

  async zincrby(key: string, increment: number, member: string): Promise<number> {
    return this.keyspace.zincrby(key, increment, member);
  }

  async zrem(key: string, members: readonly string[]): Promise<number> {
    return this.keyspace.zrem(key, members);
  }

  async zscore(key: string, member: string): Promise<number | null> {
    return this.keyspace.zscore(key, member);
  }

  async zmscore(key: string, members: readonly string[]): Promise<(number | null)[]> {
    return this.keyspace.zmscore(key, members);
  }

  async zrank(key: string, member: string, rev?: boolean): Promise<number | null> {
    return this.keyspace.zrank(key, member, rev);
  }

  async zrankWithScore(key: string, member: string, rev?: boolean): Promise<RankWithScore | null> {
    return this.keyspace.zrankWithScore(key, member, rev);
  }

  async zrange(
    key: string,
    start: number,
    stop: number,
    options?: { rev?: boolean },
  ): Promise<ScoredMember[]> {
    return this.keyspace.zrange(key, start, stop, options);
  }

  async zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ScoreRangeOptions,
  ): Promise<ScoredMember[]> {
    return this.keyspace.zrangeByScore(key, min, max, options);
  }

  async zremRangeByRank(key: string, start: number, stop: number): Promise<number> {
    return this.keyspace.zremRangeByRank(key, start, stop);
  }

  async zremRangeByScore(key: string, min: ScoreBound, max: ScoreBound): Promise<number> {
    return this.keyspace.zremRangeByScore(key, min, max);
  }

  async zcard(key: string): Promise<number> {
    return this.keyspace.zcard(key);
  }

  async zcount(key: string, min: ScoreBound, max: ScoreBound): Promise<number> {
    return this.keyspace.zcount(key, min, max);
  }

  async del(key: string): Promise<boolean> {
    return this.keyspace.del(key);
  }

  async keepTop(key: string, count: number, order: KeepOrder): Promise<number> {
    return this.keyspace.keepTop(key, count, order);
  }
}
