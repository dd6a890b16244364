import {
  type KeepOrder,
  MemorySortedSetStore,
  type RankWithScore,
  type Redis,
  RedisSortedSetStore,
  type ScoreBound,
  type ScoredMember,
  type ScoreRangeOptions,
  type SortedSetKeyspace,
  type SortedSetStore,
  type ZAddOptions,
} from '@sysdesign/platform';

/**
 * What a board needs of one backend (a Redis server or the twin) besides its sorted sets: entry
 * metadata in a hash beside the index (so a read touches no SQL), the per-score counts a dense
 * rank is computed from, and an atomic swap of a rebuilt board for the live one. Both adapters
 * make each call atomic: Redis through one Lua script or command, the twin by running
 * synchronously.
 */
export interface ShardStore {
  readonly sets: SortedSetStore;
  setFields(key: string, fields: ReadonlyMap<string, string>): Promise<void>;
  getFields(key: string, fields: readonly string[]): Promise<(string | null)[]>;
  removeFields(key: string, fields: readonly string[]): Promise<void>;
  /**
   * Moves one player from the distinct score `from` to `to` (null: none): per-score counts in the
   * hash `countsKey`, and the scores with a nonzero count in the sorted set `distinctKey`.
   */
  moveDistinct(distinctKey: string, countsKey: string, from: number | null, to: number | null): Promise<void>;
  /** Adds `count` players at each score (a rebuild's bulk load). */
  addDistinct(distinctKey: string, countsKey: string, counts: ReadonlyMap<number, number>): Promise<void>;
  /** Atomically, for each pair: `to` becomes what `from` held (absent `from`: `to` is deleted). */
  swap(renames: readonly { from: string; to: string }[]): Promise<void>;
  del(keys: readonly string[]): Promise<void>;
}

/**
 * The twin's sorted sets behind a key indirection, so a rebuilt key replaces a live one in one
 * synchronous step (the pointer swap Redis does with RENAME). Every call resolves its key.
 */
class SwappableSortedSets implements SortedSetStore {
  private readonly inner: MemorySortedSetStore;
  /** Logical key -> the physical key that holds it, for keys that were swapped in. */
  private readonly aliases = new Map<string, string>();
  private generation = 0;

  constructor(inner: MemorySortedSetStore) {
    this.inner = inner;
  }

  get keyspace(): SortedSetKeyspace {
    return this.inner.keyspace;
  }

  physical(key: string): string {
    return this.aliases.get(key) ?? key;
  }

  /**
   * Synchronous: `to` serves `from`'s set from the next call on (no copy), `to`'s old set is freed,
   * and `from` points at a fresh, empty name, so the next rebuild into it starts empty. The alias
   * map holds at most two entries per key ever swapped (a rebuilt board's keys and their temps).
   */
  rename(from: string, to: string): void {
    const source = this.physical(from);
    const old = this.physical(to);
    if (old !== source) this.keyspace.del(old);
    this.aliases.set(to, source);
    this.generation += 1;
    this.aliases.set(from, `${from}\u0000${this.generation}`);
  }

  zadd(key: string, entries: readonly ScoredMember[], options?: ZAddOptions): Promise<number> {
    return this.inner.zadd(this.physical(key), entries, options);
  }
  zaddIncr(key: string, member: string, increment: number, options?: ZAddOptions): Promise<number | null> {
    return this.inner.zaddIncr(this.physical(key), member, increment, options);
  }
  zincrby(key: string, increment: number, member: string): Promise<number> {
    return this.inner.zincrby(this.physical(key), increment, member);
  }
  zrem(key: string, members: readonly string[]): Promise<number> {
    return this.inner.zrem(this.physical(key), members);
  }
  zscore(key: string, member: string): Promise<number | null> {
    return this.inner.zscore(this.physical(key), member);
  }
  zmscore(key: string, members: readonly string[]): Promise<(number | null)[]> {
    return this.inner.zmscore(this.physical(key), members);
  }
  zrank(key: string, member: string, rev?: boolean): Promise<number | null> {
    return this.inner.zrank(this.physical(key), member, rev);
  }
  zrankWithScore(key: string, member: string, rev?: boolean): Promise<RankWithScore | null> {
    return this.inner.zrankWithScore(this.physical(key), member, rev);
  }
  zrange(key: string, start: number, stop: number, options?: { rev?: boolean }): Promise<ScoredMember[]> {
    return this.inner.zrange(this.physical(key), start, stop, options);
  }
  zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options?: ScoreRangeOptions,
  ): Promise<ScoredMember[]> {
    return this.inner.zrangeByScore(this.physical(key), min, max, options);
  }
  zremRangeByRank(key: string, start: number, stop: number): Promise<number> {
    return this.inner.zremRangeByRank(this.physical(key), start, stop);
  }
  zremRangeByScore(key: string, min: ScoreBound, max: ScoreBound): Promise<number> {
    return this.inner.zremRangeByScore(this.physical(key), min, max);
  }
  zcard(key: string): Promise<number> {
    return this.inner.zcard(this.physical(key));
  }
  zcount(key: string, min: ScoreBound, max: ScoreBound): Promise<number> {
    return this.inner.zcount(this.physical(key), min, max);
  }
  async del(key: string): Promise<boolean> {
    return this.keyspace.del(this.physical(key));
  }
  keepTop(key: string, count: number, order: KeepOrder): Promise<number> {
    return this.inner.keepTop(this.physical(key), count, order);
  }
}

/**
 * The embedded adapter: the skip-list twin plus plain maps for the hashes. Its hashes hold at most
 * one field per member of the twin (metadata) or per distinct score (counts), so the twin's
 * member bound bounds them too.
 */
export class MemoryShardStore implements ShardStore {
  readonly sets: SwappableSortedSets;
  private readonly hashes = new Map<string, Map<string, string>>();

  constructor(twin: MemorySortedSetStore = new MemorySortedSetStore()) {
    this.sets = new SwappableSortedSets(twin);
  }

  async setFields(key: string, fields: ReadonlyMap<string, string>): Promise<void> {
    let hash = this.hashes.get(key);
    if (!hash) {
      hash = new Map();
      this.hashes.set(key, hash);
    }
    for (const [field, value] of fields) hash.set(field, value);
  }

  async getFields(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    const hash = this.hashes.get(key);
    return fields.map((field) => hash?.get(field) ?? null);
  }

  /** One field, without a promise: the maps answer at once. */
  getFieldNow(key: string, field: string): string | null {
    return this.hashes.get(key)?.get(field) ?? null;
  }

  async removeFields(key: string, fields: readonly string[]): Promise<void> {
    const hash = this.hashes.get(key);
    if (!hash) return;
    for (const field of fields) hash.delete(field);
    if (hash.size === 0) this.hashes.delete(key);
  }

  async moveDistinct(
    distinctKey: string,
    countsKey: string,
    from: number | null,
    to: number | null,
  ): Promise<void> {
    if (from !== null) this.adjust(distinctKey, countsKey, from, -1);
    if (to !== null) this.adjust(distinctKey, countsKey, to, 1);
  }

  async addDistinct(
    distinctKey: string,
    countsKey: string,
    counts: ReadonlyMap<number, number>,
  ): Promise<void> {
    for (const [offset, count] of counts) this.adjust(distinctKey, countsKey, offset, count);
  }

  private adjust(distinctKey: string, countsKey: string, offset: number, delta: number): void {
    const field = String(offset);
    let counts = this.hashes.get(countsKey);
    if (!counts) {
      counts = new Map();
      this.hashes.set(countsKey, counts);
    }
    const count = Number(counts.get(field) ?? 0) + delta;
    const distinct = this.sets.physical(distinctKey);
    if (count <= 0) {
      counts.delete(field);
      if (counts.size === 0) this.hashes.delete(countsKey);
      this.sets.keyspace.zrem(distinct, [field]);
    } else {
      counts.set(field, String(count));
      this.sets.keyspace.zadd(distinct, [{ member: field, score: offset }]);
    }
  }

  async swap(renames: readonly { from: string; to: string }[]): Promise<void> {
    // Synchronous from here to the end: no reader runs between two renames.
    for (const { from, to } of renames) {
      const hash = this.hashes.get(from);
      this.hashes.delete(from);
      if (hash) this.hashes.set(to, hash);
      else this.hashes.delete(to);
      this.sets.rename(from, to);
    }
  }

  async del(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      this.hashes.delete(key);
      this.sets.keyspace.del(this.sets.physical(key));
    }
  }
}

/**
 * Moves one player between distinct scores.
 *   KEYS[1] the sorted set of distinct scores (member = score offset, score = the same number)
 *   KEYS[2] the hash of players per score
 *   ARGV[1] the score left ('' for none), ARGV[2] the score reached ('' for none)
 * Atomic: a score is in KEYS[1] exactly when its count in KEYS[2] is positive.
 */
const MOVE_DISTINCT_LUA = `
local rcall = redis.call
if ARGV[1] ~= '' then
  if rcall('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then
    rcall('HDEL', KEYS[2], ARGV[1])
    rcall('ZREM', KEYS[1], ARGV[1])
  end
end
if ARGV[2] ~= '' then
  if rcall('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then rcall('ZADD', KEYS[1], ARGV[2], ARGV[2]) end
end
return 1
`;

/**
 * Swaps rebuilt keys in: KEYS are pairs (from, to). For each, RENAME from to, or DEL to when
 * from does not exist (an empty rebuilt set is no key at all). One script: no command of another
 * client runs between two renames.
 */
const SWAP_LUA = `
local rcall = redis.call
for i = 1, #KEYS, 2 do
  if rcall('EXISTS', KEYS[i]) == 1 then rcall('RENAME', KEYS[i], KEYS[i + 1]) else rcall('DEL', KEYS[i + 1]) end
end
return 1
`;

/** Fields written per HSET call during a bulk load. */
const FIELDS_PER_CALL = 1_000;

/** The Redis adapter: keys under `prefix`, as `RedisSortedSetStore` writes them. */
export class RedisShardStore implements ShardStore {
  readonly sets: RedisSortedSetStore;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.sets = new RedisSortedSetStore(redis, { prefix });
  }

  async setFields(key: string, fields: ReadonlyMap<string, string>): Promise<void> {
    const entries = [...fields];
    for (let start = 0; start < entries.length; start += FIELDS_PER_CALL) {
      await this.redis.hset(
        this.prefix + key,
        Object.fromEntries(entries.slice(start, start + FIELDS_PER_CALL)),
      );
    }
  }

  async getFields(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    if (fields.length === 0) return [];
    return this.redis.hmget(this.prefix + key, ...fields);
  }

  async removeFields(key: string, fields: readonly string[]): Promise<void> {
    if (fields.length > 0) await this.redis.hdel(this.prefix + key, ...fields);
  }

  async moveDistinct(
    distinctKey: string,
    countsKey: string,
    from: number | null,
    to: number | null,
  ): Promise<void> {
    await this.redis.eval(
      MOVE_DISTINCT_LUA,
      2,
      this.prefix + distinctKey,
      this.prefix + countsKey,
      from === null ? '' : String(from),
      to === null ? '' : String(to),
    );
  }

  async addDistinct(
    distinctKey: string,
    countsKey: string,
    counts: ReadonlyMap<number, number>,
  ): Promise<void> {
    const entries = [...counts];
    for (let start = 0; start < entries.length; start += FIELDS_PER_CALL) {
      const transaction = this.redis.multi();
      const chunk = entries.slice(start, start + FIELDS_PER_CALL);
      for (const [offset, count] of chunk)
        transaction.hincrby(this.prefix + countsKey, String(offset), count);
      transaction.zadd(
        this.prefix + distinctKey,
        ...chunk.flatMap(([offset]) => [String(offset), String(offset)]),
      );
      for (const [error] of (await transaction.exec()) ?? []) if (error) throw error;
    }
  }

  async swap(renames: readonly { from: string; to: string }[]): Promise<void> {
    if (renames.length === 0) return;
    const keys = renames.flatMap(({ from, to }) => [this.prefix + from, this.prefix + to]);
    await this.redis.eval(SWAP_LUA, keys.length, ...keys);
  }

  async del(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.redis.del(...keys.map((key) => this.prefix + key));
  }
}
