import { LruCache } from './lru.js';

/**
 * The "unique" click figure: a client's first click on a code within `windowMs` is unique, its
 * repeats are not (the total still counts them). Kept per instance in a bounded LRU: behind a
 * load balancer without affinity, one client on two instances counts once on each, and past
 * `maxEntries` clients the least recent are forgotten, so the figure can only run high, never
 * cost memory without bound or a round trip on the redirect path.
 */
export class UniqueClicks {
  private readonly seen: LruCache<true>;

  constructor(
    private readonly windowMs: number,
    maxEntries: number,
    nowMs: () => number = Date.now,
  ) {
    this.seen = new LruCache(maxEntries, nowMs);
  }

  /** True for the first click of `client` on `code` in the window; it starts the window. */
  isFirst(code: string, client: string): boolean {
    const key = `${code} ${client}`;
    if (this.seen.get(key)) return false;
    this.seen.set(key, true, this.windowMs);
    return true;
  }
}
