import type { ScoredMember, SortedSetStore } from '@sysdesign/platform';

/**
 * The serving index: one sorted set per board and period, members are player ids, scores are the
 * tie-break encoding (a higher index score ranks higher, on every board). Redis or the twin,
 * behind the platform's sorted-set port.
 */
export class ScoreIndex {
  constructor(readonly store: SortedSetStore) {}

  keyOf(boardId: string, periodStartMs: number): string {
    return `b:${boardId}:${periodStartMs}`;
  }

  async put(key: string, player: string, indexScore: number): Promise<void> {
    await this.store.zadd(key, [{ member: player, score: indexScore }]);
  }

  async putMany(key: string, entries: readonly ScoredMember[]): Promise<void> {
    if (entries.length > 0) await this.store.zadd(key, entries);
  }

  /** Best first, ranks 0-based inclusive. */
  async range(key: string, start: number, stop: number): Promise<ScoredMember[]> {
    return this.store.zrange(key, start, stop, { rev: true });
  }

  /** 0-based rank (best first) and index score, or null for a player without one. */
  async rankOf(key: string, player: string): Promise<{ rank: number; score: number } | null> {
    return this.store.zrankWithScore(key, player, true);
  }

  /** Players whose index score is at least `min`. */
  async countAtLeast(key: string, min: number): Promise<number> {
    return this.store.zcount(key, min, Number.POSITIVE_INFINITY);
  }

  async countBetween(key: string, min: number, max: number): Promise<number> {
    return this.store.zcount(key, min, max);
  }

  async size(key: string): Promise<number> {
    return this.store.zcard(key);
  }

  async remove(key: string, players: readonly string[]): Promise<number> {
    return this.store.zrem(key, players);
  }

  async drop(key: string): Promise<void> {
    await this.store.del(key);
  }
}
