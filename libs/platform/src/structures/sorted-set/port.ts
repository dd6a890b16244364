import type {
  KeepOrder,
  RankWithScore,
  ScoreBound,
  ScoredMember,
  ScoreRangeOptions,
  ZAddOptions,
} from './types.js';

/**
 * A keyspace of sorted sets with Redis's ZSET semantics, as the leaderboard and the news feed
 * use it. Two adapters pass one contract suite: `MemorySortedSetStore` (the embedded twin, in this
 * process) and `RedisSortedSetStore` (ioredis, the same commands under a key prefix). Ranks are
 * 0-based; scores are doubles (exact integers only up to 2^53); members order by score, then by
 * their UTF-8 bytes. Refusals are `SortedSetError`s with the same codes from both adapters.
 */
export interface SortedSetStore {
  /** ZADD key [NX|XX] [GT|LT] [CH] score member ...: members added (plus changed with `ch`). */
  zadd(key: string, entries: readonly ScoredMember[], options?: ZAddOptions): Promise<number>;
  /** ZADD ... INCR: the new score, or null when NX/XX/GT/LT stopped it. */
  zaddIncr(key: string, member: string, increment: number, options?: ZAddOptions): Promise<number | null>;
  /** ZINCRBY: the new score. */
  zincrby(key: string, increment: number, member: string): Promise<number>;
  /** ZREM: how many of `members` were removed. */
  zrem(key: string, members: readonly string[]): Promise<number>;
  zscore(key: string, member: string): Promise<number | null>;
  zmscore(key: string, members: readonly string[]): Promise<(number | null)[]>;
  /** ZRANK, or ZREVRANK with `rev`. */
  zrank(key: string, member: string, rev?: boolean): Promise<number | null>;
  /** ZRANK ... WITHSCORE (or ZREVRANK ... WITHSCORE). */
  zrankWithScore(key: string, member: string, rev?: boolean): Promise<RankWithScore | null>;
  /** ZRANGE key start stop [REV] WITHSCORES: inclusive ranks, negative from the end. */
  zrange(key: string, start: number, stop: number, options?: { rev?: boolean }): Promise<ScoredMember[]>;
  /** ZRANGE key min max BYSCORE [REV] [LIMIT offset count] WITHSCORES (`min` <= `max` even with REV). */
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ScoreRangeOptions,
  ): Promise<ScoredMember[]>;
  zremRangeByRank(key: string, start: number, stop: number): Promise<number>;
  zremRangeByScore(key: string, min: ScoreBound, max: ScoreBound): Promise<number>;
  zcard(key: string): Promise<number>;
  zcount(key: string, min: ScoreBound, max: ScoreBound): Promise<number>;
  /** DEL key: true when the key existed. */
  del(key: string): Promise<boolean>;
  /** Keeps the `count` highest- (or lowest-) scored members of a key, removing the rest; returns how many went. */
  keepTop(key: string, count: number, order: KeepOrder): Promise<number>;
}
