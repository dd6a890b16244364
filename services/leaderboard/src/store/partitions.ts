import type { ScoredMember, SortedSetStore } from '@sysdesign/platform';

/**
 * A board's index, on one sorted set or split past one Redis in the chapter's two ways. A shard
 * is a (store, key) pair: several Redis URLs, or several key prefixes on one Redis. Index scores
 * are the tie-break encoding (higher is better), so ranks are reverse ranks, 0-based.
 */

export interface Shard {
  store: SortedSetStore;
  key: string;
}

export interface BoardIndex {
  /** Stores the player's index score; `previous` is their last one (a range board moves them). */
  put(player: string, indexScore: number, previous: number | null): Promise<void>;
  putMany(entries: readonly ScoredMember[]): Promise<void>;
  /** Best first, positions `start`..`stop` inclusive. */
  range(start: number, stop: number): Promise<ScoredMember[]>;
  rankOf(player: string): Promise<{ rank: number; score: number } | null>;
  countAtLeast(min: number): Promise<number>;
  countBetween(min: number, max: number): Promise<number>;
  size(): Promise<number>;
  remove(players: readonly string[]): Promise<void>;
  drop(): Promise<void>;
}

const sum = (counts: readonly number[]) => counts.reduce((total, count) => total + count, 0);

/** Every shard's answer to one call, in shard order. */
function each<T>(shards: readonly Shard[], call: (shard: Shard) => Promise<T>): Promise<T[]> {
  return Promise.all(shards.map(call));
}

/** The whole board on one sorted set. */
export class SingleIndex implements BoardIndex {
  constructor(private readonly shard: Shard) {}

  async put(player: string, indexScore: number): Promise<void> {
    await this.shard.store.zadd(this.shard.key, [{ member: player, score: indexScore }]);
  }

  async putMany(entries: readonly ScoredMember[]): Promise<void> {
    if (entries.length > 0) await this.shard.store.zadd(this.shard.key, entries);
  }

  range(start: number, stop: number): Promise<ScoredMember[]> {
    return this.shard.store.zrange(this.shard.key, start, stop, { rev: true });
  }

  rankOf(player: string): Promise<{ rank: number; score: number } | null> {
    return this.shard.store.zrankWithScore(this.shard.key, player, true);
  }

  countAtLeast(min: number): Promise<number> {
    return this.shard.store.zcount(this.shard.key, min, Number.POSITIVE_INFINITY);
  }

  countBetween(min: number, max: number): Promise<number> {
    return this.shard.store.zcount(this.shard.key, min, max);
  }

  size(): Promise<number> {
    return this.shard.store.zcard(this.shard.key);
  }

  async remove(players: readonly string[]): Promise<void> {
    await this.shard.store.zrem(this.shard.key, players);
  }

  async drop(): Promise<void> {
    await this.shard.store.del(this.shard.key);
  }
}

/** Counts and removals are the same on both kinds of partitions: every shard, summed. */
abstract class PartitionedIndex implements BoardIndex {
  constructor(protected readonly shards: readonly Shard[]) {}

  abstract put(player: string, indexScore: number, previous: number | null): Promise<void>;
  abstract range(start: number, stop: number): Promise<ScoredMember[]>;
  abstract rankOf(player: string): Promise<{ rank: number; score: number } | null>;
  protected abstract shardIndexOf(member: ScoredMember): number;

  async putMany(entries: readonly ScoredMember[]): Promise<void> {
    const grouped = this.shards.map((): ScoredMember[] => []);
    for (const entry of entries) grouped[this.shardIndexOf(entry)]!.push(entry);
    await Promise.all(
      this.shards.map(async ({ store, key }, index) => {
        const group = grouped[index]!;
        if (group.length > 0) await store.zadd(key, group);
      }),
    );
  }

  async countAtLeast(min: number): Promise<number> {
    return sum(await each(this.shards, ({ store, key }) => store.zcount(key, min, Number.POSITIVE_INFINITY)));
  }

  async countBetween(min: number, max: number): Promise<number> {
    return sum(await each(this.shards, ({ store, key }) => store.zcount(key, min, max)));
  }

  async size(): Promise<number> {
    return sum(await each(this.shards, ({ store, key }) => store.zcard(key)));
  }

  async remove(players: readonly string[]): Promise<void> {
    await each(this.shards, ({ store, key }) => store.zrem(key, players));
  }

  async drop(): Promise<void> {
    await each(this.shards, ({ store, key }) => store.del(key));
  }
}

/**
 * Fixed partitions by score range. Shard i holds index scores in [lower[i], lower[i-1]), the first
 * shard the best. A player's global rank is the players in every better range plus their rank
 * within their own: exact, with one ZCARD per better shard.
 */
export class RangePartitionedIndex extends PartitionedIndex {
  /** `lowerBounds` descending, one between each two shards; the last shard has no lower bound. */
  constructor(
    shards: readonly Shard[],
    private readonly lowerBounds: readonly number[],
  ) {
    super(shards);
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

  protected shardIndexOf(member: ScoredMember): number {
    return this.shardOf(member.score);
  }

  async put(player: string, indexScore: number, previous: number | null): Promise<void> {
    const target = this.shardOf(indexScore);
    if (previous !== null) {
      const source = this.shardOf(previous);
      if (source !== target) await this.shards[source]!.store.zrem(this.shards[source]!.key, [player]);
    }
    const shard = this.shards[target]!;
    await shard.store.zadd(shard.key, [{ member: player, score: indexScore }]);
  }

  async rankOf(player: string): Promise<{ rank: number; score: number } | null> {
    const found = await each(this.shards, ({ store, key }) => store.zrankWithScore(key, player, true));
    const target = found.findIndex((entry) => entry !== null);
    if (target === -1) return null;
    const above = await each(this.shards.slice(0, target), ({ store, key }) => store.zcard(key));
    return { rank: sum(above) + found[target]!.rank, score: found[target]!.score };
  }

  /** Walks the ranges from the best, skipping whole ranges before `start`. */
  async range(start: number, stop: number): Promise<ScoredMember[]> {
    const found: ScoredMember[] = [];
    let skipped = 0;
    for (const { store, key } of this.shards) {
      if (found.length > stop - start) break;
      const count = await store.zcard(key);
      const from = Math.max(0, start - skipped);
      if (from < count)
        found.push(...(await store.zrange(key, from, from + (stop - start) - found.length, { rev: true })));
      skipped += count;
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

/** The deepest position a hash-partitioned board serves: a page gathers every shard's top that deep. */
export const HASH_DEPTH_MAX = 10_000;

export class PageTooDeepError extends Error {
  constructor(readonly depthMax: number) {
    super(`a hash-partitioned board serves positions below ${depthMax} only`);
  }
}

/** Per shard, how many index scores fall in each of `buckets` equal slices of [min, max). */
export interface ScoreHistogram {
  min: number;
  max: number;
  /** counts[shard][bucket], bucket 0 the lowest scores. */
  counts: number[][];
}

/**
 * Hash partitions: a player lives on hash(player) mod shards, so writes spread evenly whatever the
 * scores. A page is a scatter-gather (each shard's top, merged): exact, at a cost that grows with
 * depth. An exact rank asks every shard; `histogram` + `approximateRank` estimate one with no
 * shard call at read time.
 */
export class HashPartitionedIndex extends PartitionedIndex {
  private shardFor(player: string): Shard {
    return this.shards[hashShard(player, this.shards.length)]!;
  }

  protected shardIndexOf(member: ScoredMember): number {
    return hashShard(member.member, this.shards.length);
  }

  async put(player: string, indexScore: number): Promise<void> {
    const shard = this.shardFor(player);
    await shard.store.zadd(shard.key, [{ member: player, score: indexScore }]);
  }

  async range(start: number, stop: number): Promise<ScoredMember[]> {
    if (stop >= HASH_DEPTH_MAX) throw new PageTooDeepError(HASH_DEPTH_MAX);
    const pages = await each(this.shards, ({ store, key }) => store.zrange(key, 0, stop, { rev: true }));
    return pages
      .flat()
      .sort(better)
      .slice(start, stop + 1);
  }

  /**
   * Exact: on every shard, the players with a higher index score, and those with the same one
   * whose id sorts after (a reverse range's order of equals).
   */
  async rankOf(player: string): Promise<{ rank: number; score: number } | null> {
    const own = this.shardFor(player);
    const score = await own.store.zscore(own.key, player);
    if (score === null) return null;
    const self = Buffer.from(player);
    const perShard = await each(this.shards, async ({ store, key }) => {
      const higher = await store.zcount(key, { value: score, exclusive: true }, Number.POSITIVE_INFINITY);
      const equal = await store.zrangeByScore(key, score, score);
      return higher + equal.filter(({ member }) => Buffer.compare(Buffer.from(member), self) > 0).length;
    });
    return { rank: sum(perShard), score };
  }

  /** One ZCOUNT per bucket per shard. */
  async histogram(min: number, max: number, buckets: number): Promise<ScoreHistogram> {
    const width = (max - min) / buckets;
    const counts = await each(this.shards, ({ store, key }) =>
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
