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

/**
 * One shard's equi-depth histogram: the index scores found at evenly spaced reverse ranks (best
 * first), so each bucket holds the same number of players whatever the scores' spread.
 */
export interface ShardSketch {
  size: number;
  /** Reverse ranks sampled, ascending (0 and size - 1 included). */
  ranks: number[];
  /** The index score at each sampled rank, so descending. */
  scores: number[];
}

export interface ApproximateRank {
  /** The estimated 0-based global position. */
  rank: number;
  /** The true position is within [rankMin, rankMax] when the sketches were taken. */
  rankMin: number;
  rankMax: number;
  score: number;
}

/**
 * Players of one shard with an index score above `indexScore`: a bracket from the two samples
 * around it, and an estimate that interpolates between them (scores spread evenly in a bucket).
 */
export function bracketAbove(
  sketch: ShardSketch,
  indexScore: number,
): { low: number; high: number; estimate: number } {
  let low = 0;
  let high = sketch.size;
  let upper: { rank: number; score: number } | null = null;
  let lower: { rank: number; score: number } | null = null;
  for (let position = 0; position < sketch.ranks.length; position += 1) {
    const rank = sketch.ranks[position]!;
    const score = sketch.scores[position]!;
    if (score > indexScore) {
      low = rank + 1;
      upper = { rank, score };
    } else if (score < indexScore) {
      high = rank;
      lower = { rank, score };
      break;
    }
  }
  let estimate = (low + high) / 2;
  if (upper && lower)
    estimate =
      upper.rank + ((lower.rank - upper.rank) * (upper.score - indexScore)) / (upper.score - lower.score);
  return { low, high, estimate: Math.min(high, Math.max(low, estimate)) };
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

  /** Each shard's sketch: `buckets` + 1 single-member ZRANGEs per shard. */
  async sketch(buckets: number): Promise<ShardSketch[]> {
    return each(this.shards, async ({ store, key }) => {
      const size = await store.zcard(key);
      const ranks = [
        ...new Set(
          Array.from({ length: buckets + 1 }, (_, bucket) => Math.floor((bucket * (size - 1)) / buckets)),
        ),
      ].filter((rank) => rank >= 0);
      const found = await Promise.all(ranks.map((rank) => store.zrange(key, rank, rank, { rev: true })));
      const sampled: number[] = [];
      const scores: number[] = [];
      found.forEach((members, position) => {
        // A member removed since the ZCARD leaves a rank without a sample: skip it.
        if (members[0]) {
          sampled.push(ranks[position]!);
          scores.push(members[0].score);
        }
      });
      return { size, ranks: sampled, scores };
    });
  }

  /**
   * The player's position without asking every shard: exact on its own shard (one ZREVRANK),
   * bracketed on the others by their sketches (`sketches[i]` for shard i), with no call to them.
   */
  async approximateRankOf(player: string, sketches: readonly ShardSketch[]): Promise<ApproximateRank | null> {
    const ownIndex = hashShard(player, this.shards.length);
    const own = this.shards[ownIndex]!;
    const found = await own.store.zrankWithScore(own.key, player, true);
    if (found === null) return null;
    let rank = found.rank;
    let rankMin = found.rank;
    let rankMax = found.rank;
    sketches.forEach((sketch, shard) => {
      if (shard === ownIndex) return;
      const { low, high, estimate } = bracketAbove(sketch, found.score);
      rank += estimate;
      rankMin += low;
      rankMax += high;
    });
    return { rank: Math.round(rank), rankMin, rankMax, score: found.score };
  }
}
