import type { Redis } from '@sysdesign/platform';

/**
 * The content cache's tiers (post content with its hot tier, social graph, actions, counters)
 * behind one narrow port: values are strings (JSON), misses are undefined. Redis when REDIS_URL
 * is set, so replicas share them; bounded memory otherwise. The feed-ids tier is the sorted sets.
 */
export interface CacheTier {
  readonly name: string;
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  setMany(entries: readonly (readonly [string, string])[]): Promise<void>;
  deleteMany(keys: readonly string[]): Promise<void>;
}

/** Told about every lookup, for the hit-ratio metrics. */
export type TierObserver = (tier: string, hits: number, misses: number) => void;

/** A least-recently-used map with a bound on entries and an optional time to live. */
export class MemoryTier implements CacheTier {
  private readonly entries = new Map<string, { value: string; expiresAtMs: number }>();

  constructor(
    readonly name: string,
    private readonly entriesMax: number,
    private readonly ttlMs: number = Number.POSITIVE_INFINITY,
    private readonly nowMs: () => number = Date.now,
  ) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1) throw new RangeError('entriesMax must be >= 1');
  }

  get size(): number {
    return this.entries.size;
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return keys.map((key) => this.get(key));
  }

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= this.nowMs()) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-inserting moves the key to the young end of the map's insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  async setMany(entries: readonly (readonly [string, string])[]): Promise<void> {
    for (const [key, value] of entries) this.set(key, value);
  }

  set(key: string, value: string): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs: this.nowMs() + this.ttlMs });
    while (this.entries.size > this.entriesMax) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }
}

/** A tier in Redis: MGET, SET with PX, DEL, under the service's prefix and the tier's name. */
export class RedisTier implements CacheTier {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    readonly name: string,
    keyPrefix: string,
    private readonly ttlMs: number,
  ) {
    this.prefix = `${keyPrefix}cache:${name}:`;
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    const values = await this.redis.mget(keys.map((key) => this.prefix + key));
    return values.map((value) => value ?? undefined);
  }

  async setMany(entries: readonly (readonly [string, string])[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [key, value] of entries) pipeline.set(this.prefix + key, value, 'PX', this.ttlMs);
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.redis.del(...keys.map((key) => this.prefix + key));
  }
}

/**
 * Read-through over a chain of tiers (fastest first) and a loader for what none holds. Values a
 * slower tier or the loader found are written to the faster tiers. Loaded values that are
 * `undefined` (no such row) are not cached.
 */
export async function readThrough<Value>(
  tiers: readonly CacheTier[],
  keys: readonly string[],
  codec: { encode(value: Value): string; decode(text: string): Value },
  load: (missing: readonly string[]) => Promise<Map<string, Value>>,
  observe: TierObserver,
): Promise<Map<string, Value>> {
  const found = new Map<string, Value>();
  let missing = [...new Set(keys)];
  const fillers: CacheTier[] = [];
  for (const tier of tiers) {
    if (missing.length === 0) break;
    const values = await tier.getMany(missing);
    const stillMissing: string[] = [];
    const hits: [string, string][] = [];
    for (let index = 0; index < missing.length; index += 1) {
      const value = values[index];
      if (value === undefined) stillMissing.push(missing[index]!);
      else {
        found.set(missing[index]!, codec.decode(value));
        hits.push([missing[index]!, value]);
      }
    }
    observe(tier.name, hits.length, stillMissing.length);
    for (const filler of fillers) await filler.setMany(hits);
    fillers.push(tier);
    missing = stillMissing;
  }
  if (missing.length === 0) return found;
  const loaded = await load(missing);
  const entries: [string, string][] = [];
  for (const [key, value] of loaded) {
    found.set(key, value);
    entries.push([key, codec.encode(value)]);
  }
  for (const tier of tiers) await tier.setMany(entries);
  return found;
}
