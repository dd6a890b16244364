import type { ScoredMember, SortedSetStore } from '@sysdesign/platform';

/**
 * Past one Redis: the chapter's two ways to split a board across shards, over the sorted-set
 * port. A shard is a (store, key) pair: several Redis URLs, or several key prefixes on one Redis.
 * Index scores are the tie-break encoding (higher is better), so ranks are reverse ranks.
 */

export interface Shard {
  store: SortedSetStore;
  key: string;
}

/**
 * Fixed partitions by score range. Shard i holds index scores in [lower[i], lower[i-1]), the
 * first shard the best scores. A player's global rank is the players in every better range plus
 * their rank within their own: exact, with one ZCARD per better shard and one ZREVRANK.
 */
export class RangePartitionedIndex {
  /** `lowerBounds` descending, one per shard; the last shard's lower bound is -infinity. */
  constructor(
    private readonly shards: readonly Shard[],
    private readonly lowerBounds: readonly number[],
  ) {
    if (shards.length !== lowerBounds.length + 1)
      throw new RangeError('one lower bound between each two shards');
    for (let index = 1; index < lowerBounds.length; index += 1) {
      if (!(lowerBounds[index]! < lowerBounds[index - 1]!)) throw new RangeError('lower bounds must descend');
    }
  }

  shardOf(indexScore: number): number {
    const position = this.lowerBounds.findIndex((lower) => indexScore >= lower);
    return position === -1 ? this.shards.length - 1 : position;
  }

  /** Stores the player's score, moving them out of the range that held their previous one. */
  async put(player: string, indexScore: number, previousIndexScore: number | null): Promise<void> {
    const target = this.shardOf(indexScore);
    if (previousIndexScore !== null) {
      const source = this.shardOf(previousIndexScore);
      if (source !== target) await this.shards[source]!.store.zrem(this.shards[source]!.key, [player]);
    }
    const shard = this.shards[target]!;
    await shard.store.zadd(shard.key, [{ member: player, score: indexScore }]);
  }

  /** 0-based global rank, best first; null for a player without a score at `indexScore`'s range. */
  async rank(player: string, indexScore: number): Promise<number | null> {
    const target = this.shardOf(indexScore);
    const shard = this.shards[target]!;
    const within = await shard.store.zrank(shard.key, player, true);
    if (within === null) return null;
    const above = await Promise.all(this.shards.slice(0, target).map(({ store, key }) => store.zcard(key)));
    return above.reduce((sum, count) => sum + count, within);
  }

  /** The best `count` players, walking the ranges from the best. */
  async top(count: number): Promise<ScoredMember[]> {
    const found: ScoredMember[] = [];
    for (const { store, key } of this.shards) {
      if (found.length >= count) break;
      found.push(...(await store.zrange(key, 0, count - found.length - 1, { rev: true })));
    }
    return found;
  }
}

/** Compares as a reverse range does: higher score first, then member bytes descending. */
function better(a: ScoredMember, b: ScoredMember): number {
  if (a.score !== b.score) return b.score - a.score;
  return Buffer.compare(Buffer.from(b.member), Buffer.from(a.member));
}

/** FNV-1a over the member's UTF-8: the shard a player lives on, the same on every instance. */
export function hashShard(player: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(player)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/** Per shard, how many index scores fall in each of `buckets` equal slices of [min, max). */
export interface ScoreHistogram {
  min: number;
  max: number;
  /** counts[shard][bucket], bucket 0 the lowest scores. */
  counts: number[][];
}

/**
 * Hash partitions: a player lives on hash(player) mod shards, so writes spread evenly whatever
 * the scores. The top N is a scatter-gather (each shard's top N, merged): exact. A global rank
 * would ask every shard; instead it is estimated from per-shard histograms refreshed now and then
 * (`histogram`), with no shard call at read time; `exactRank` asks every shard, to measure it.
 */
export class HashPartitionedIndex {
  constructor(private readonly shards: readonly Shard[]) {}

  private shardFor(player: string): Shard {
    return this.shards[hashShard(player, this.shards.length)]!;
  }

  async put(player: string, indexScore: number): Promise<void> {
    const shard = this.shardFor(player);
    await shard.store.zadd(shard.key, [{ member: player, score: indexScore }]);
  }

  async top(count: number): Promise<ScoredMember[]> {
    const pages = await Promise.all(
      this.shards.map(({ store, key }) => store.zrange(key, 0, count - 1, { rev: true })),
    );
    return pages.flat().sort(better).slice(0, count);
  }

  /**
   * 0-based, exact: on every shard, the players with a higher index score, and those with the
   * same one whose id sorts after (a reverse range's order of equals). One or two calls per shard.
   */
  async exactRank(player: string): Promise<number | null> {
    const own = this.shardFor(player);
    const score = await own.store.zscore(own.key, player);
    if (score === null) return null;
    const self = Buffer.from(player);
    const perShard = await Promise.all(
      this.shards.map(async ({ store, key }) => {
        const higher = await store.zcount(key, { value: score, exclusive: true }, Number.POSITIVE_INFINITY);
        const equal = await store.zrangeByScore(key, score, score);
        return higher + equal.filter(({ member }) => Buffer.compare(Buffer.from(member), self) > 0).length;
      }),
    );
    return perShard.reduce((sum, count) => sum + count, 0);
  }

  /** One ZCOUNT per bucket per shard. */
  async histogram(min: number, max: number, buckets: number): Promise<ScoreHistogram> {
    const width = (max - min) / buckets;
    const counts = await Promise.all(
      this.shards.map(({ store, key }) =>
        Promise.all(
          Array.from({ length: buckets }, (_, bucket) =>
            store.zcount(
              key,
              min + bucket * width,
              bucket === buckets - 1
                ? Number.POSITIVE_INFINITY
                : { value: min + (bucket + 1) * width, exclusive: true },
            ),
          ),
        ),
      ),
    );
    return { min, max, counts };
  }
}

/**
 * The estimated 0-based global rank of an index score: every player in a higher bucket, plus the
 * part of its own bucket above it, assuming scores spread evenly within a bucket.
 */
export function approximateRank(histogram: ScoreHistogram, indexScore: number): number {
  const buckets = histogram.counts[0]?.length ?? 0;
  const width = (histogram.max - histogram.min) / buckets;
  const position = Math.min(buckets - 1, Math.max(0, Math.floor((indexScore - histogram.min) / width)));
  const fractionAbove = 1 - (indexScore - (histogram.min + position * width)) / width;
  let rank = 0;
  for (const shard of histogram.counts) {
    for (let bucket = position + 1; bucket < buckets; bucket += 1) rank += shard[bucket]!;
    rank += shard[position]! * Math.min(1, Math.max(0, fractionAbove));
  }
  return rank;
}
