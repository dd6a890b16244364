import { BackendUnavailableError, type Redis } from '@sysdesign/platform';
import type { CachedLink } from '../domain/link.js';
import { LruCache } from '../domain/lru.js';

/**
 * The redirect path's cache-aside: read the cache, on a miss read the store and fill the cache.
 * Unknown codes are cached too, briefly (a negative entry), so a scan of random codes does not
 * reach the database once per request. Two adapters pass one contract suite: a bounded LRU in
 * the process (embedded mode, one instance) and Redis with a TTL per key (shared by every
 * instance, so an invalidation reaches all of them).
 */

export type CacheEntry = { kind: 'link'; link: CachedLink } | { kind: 'absent' };

export interface LinkCache {
  readonly kind: 'memory' | 'redis';
  /** The entry, or undefined on a miss. A cache that cannot answer reports a miss. */
  get(code: string): Promise<CacheEntry | undefined>;
  set(code: string, link: CachedLink, ttlMs: number): Promise<void>;
  setAbsent(code: string, ttlMs: number): Promise<void>;
  /** Removes the entry; throws BackendUnavailableError if that could not be made sure of. */
  delete(code: string): Promise<void>;
  /** Entries held, where the adapter knows it cheaply. */
  size(): number | undefined;
}

const ABSENT: CacheEntry = { kind: 'absent' };

export class MemoryLinkCache implements LinkCache {
  readonly kind = 'memory';
  private readonly lru: LruCache<CacheEntry>;

  constructor(maxEntries: number, nowMs: () => number = Date.now) {
    this.lru = new LruCache(maxEntries, nowMs);
  }

  async get(code: string) {
    return this.lru.get(code);
  }

  async set(code: string, link: CachedLink, ttlMs: number) {
    this.lru.set(code, { kind: 'link', link }, ttlMs);
  }

  async setAbsent(code: string, ttlMs: number) {
    this.lru.set(code, ABSENT, ttlMs);
  }

  async delete(code: string) {
    this.lru.delete(code);
  }

  size() {
    return this.lru.size;
  }
}

/** The value stored for a negative entry: never valid JSON of a link. */
const ABSENT_VALUE = '!';

export interface RedisLinkCacheOptions {
  /** Prepended to every key, e.g. `url-shortener:`; keys are `<prefix>link:<code>`. */
  keyPrefix: string;
  /** Told about reads and writes that failed (they count as misses / are skipped). */
  onError?: (operation: 'get' | 'set', error: unknown) => void;
}

export class RedisLinkCache implements LinkCache {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisLinkCacheOptions,
  ) {}

  private key(code: string): string {
    return `${this.options.keyPrefix}link:${code}`;
  }

  async get(code: string): Promise<CacheEntry | undefined> {
    let value: string | null;
    try {
      value = await this.redis.get(this.key(code));
    } catch (error) {
      // The database still answers: a cache outage costs latency, never a failed redirect.
      this.options.onError?.('get', error);
      return undefined;
    }
    if (value === null) return undefined;
    if (value === ABSENT_VALUE) return ABSENT;
    try {
      return { kind: 'link', link: JSON.parse(value) as CachedLink };
    } catch (error) {
      this.options.onError?.('get', error);
      return undefined;
    }
  }

  async set(code: string, link: CachedLink, ttlMs: number) {
    await this.write(code, JSON.stringify(link), ttlMs);
  }

  async setAbsent(code: string, ttlMs: number) {
    await this.write(code, ABSENT_VALUE, ttlMs);
  }

  private async write(code: string, value: string, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    try {
      await this.redis.set(this.key(code), value, 'PX', Math.ceil(ttlMs));
    } catch (error) {
      this.options.onError?.('set', error);
    }
  }

  async delete(code: string) {
    try {
      await this.redis.del(this.key(code));
    } catch (error) {
      throw new BackendUnavailableError('redis', { cause: error });
    }
  }

  size() {
    return undefined;
  }
}
