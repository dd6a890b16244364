import type { LinkCache } from '../store/link-cache.js';
import type { LinkStore } from '../store/link-store.js';
import type { CodeFilter } from './code-filter.js';
import { type CodeHash, type CodeStrategyName, hashCandidate, sha256Prefix, snowflakeCode } from './codes.js';
import { type CachedLink, type CodeKind, isPlain, type Link, type NewLink, toCached } from './link.js';

/**
 * The shortener's use cases over its ports: create (both code strategies, aliases, dedupe),
 * look up for a redirect (cache-aside with a negative cache and one database read per code at a
 * time), and delete (tombstone, then invalidate the cache).
 */

/** A snowflake code collides only with an alias of the same text: a few retries are plenty. */
export const SNOWFLAKE_MAX_ATTEMPTS = 3;
/** After a delete, the cache entry is removed again this much later, in case a redirect that read
 * the store just before the delete filled it just after (the cache-aside race). */
export const SECOND_INVALIDATION_DELAY_MS = 1_000;

export class AliasTakenError extends Error {
  override name = 'AliasTakenError';
}
export class NoFreeCodeError extends Error {
  override name = 'NoFreeCodeError';
}
export class LinkNotFoundError extends Error {
  override name = 'LinkNotFoundError';
}
export class NotOwnerError extends Error {
  override name = 'NotOwnerError';
}
export class LinkDeletedError extends Error {
  override name = 'LinkDeletedError';
}

export interface CreateLinkRequest {
  /** Already validated and normalised. */
  url: string;
  alias?: string | undefined;
  expiresAt?: Date | undefined;
  maxClicks?: number | undefined;
  owner?: string | undefined;
}

export interface CreateLinkResult {
  /** False when an existing link was returned (same plain URL, or a retried alias creation). */
  created: boolean;
  link: Link;
}

export type CacheLookupResult = 'hit' | 'negative-hit' | 'miss';

/** What the service reports, for metrics. Observers must be quick and must not throw. */
export interface LinksObserver {
  onCreated?(kind: CodeKind, created: boolean): void;
  onCacheLookup?(result: CacheLookupResult): void;
  onHashCollision?(): void;
  onBloomCheck?(maybeTaken: boolean): void;
  onBloomFalsePositive?(): void;
}

export interface LinksOptions {
  store: LinkStore;
  cache: LinkCache;
  strategy: CodeStrategyName;
  /** The snowflake strategy's id source (throws when it may not issue ids). */
  nextId?: () => bigint;
  /** The hash strategy's filter of codes in use. */
  filter?: CodeFilter;
  hash?: CodeHash;
  hashMaxAttempts: number;
  cacheTtlMs: number;
  negativeCacheTtlMs: number;
  nowMs?: () => number;
  observer?: LinksObserver;
}

function sameOwner(link: Link, owner: string | undefined): boolean {
  return (link.owner ?? '') === (owner ?? '');
}

/** A retried alias creation: the same alias for the same URL, owner and terms. */
function sameAliasRequest(link: Link, request: CreateLinkRequest): boolean {
  return (
    link.deletedAt === undefined &&
    link.url === request.url &&
    sameOwner(link, request.owner) &&
    link.expiresAt?.getTime() === request.expiresAt?.getTime() &&
    link.maxClicks === request.maxClicks
  );
}

export class Links {
  private readonly inflight = new Map<string, Promise<CachedLink | undefined>>();
  private readonly nowMs: () => number;
  private readonly observer: LinksObserver;
  private readonly hash: CodeHash;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: LinksOptions) {
    if (options.strategy === 'snowflake' && !options.nextId)
      throw new Error('the snowflake strategy needs nextId');
    if (options.strategy === 'hash' && !options.filter)
      throw new Error('the hash strategy needs a code filter');
    this.nowMs = options.nowMs ?? Date.now;
    this.observer = options.observer ?? {};
    this.hash = options.hash ?? sha256Prefix;
  }

  async create(request: CreateLinkRequest): Promise<CreateLinkResult> {
    const result =
      request.alias !== undefined
        ? await this.createAlias(request, request.alias)
        : this.options.strategy === 'hash'
          ? await this.createHashed(request)
          : await this.createSnowflake(request);
    this.observer.onCreated?.(result.link.kind, result.created);
    if (result.created) {
      // A negative entry for this code (someone tried it before it existed) must not outlive it.
      await this.options.cache.delete(result.link.code);
    }
    return result;
  }

  private newLink(request: CreateLinkRequest, code: string, kind: CodeKind): NewLink {
    return {
      code,
      kind,
      url: request.url,
      owner: request.owner,
      createdAt: new Date(this.nowMs()),
      expiresAt: request.expiresAt,
      maxClicks: request.maxClicks,
    };
  }

  private async createAlias(request: CreateLinkRequest, alias: string): Promise<CreateLinkResult> {
    const outcome = await this.options.store.insert(this.newLink(request, alias, 'alias'));
    if (outcome.kind === 'inserted') {
      this.options.filter?.add(alias);
      return { created: true, link: outcome.link };
    }
    const existing = await this.options.store.find(alias);
    if (existing && sameAliasRequest(existing, request)) return { created: false, link: existing };
    this.options.filter?.add(alias);
    throw new AliasTakenError(`alias "${alias}" is already taken (aliases are compared ignoring case)`);
  }

  /**
   * A new code for each request; the insert itself finds an existing plain link of the same URL
   * (the store's unique key), so a new URL costs one write and no read.
   */
  private async createSnowflake(request: CreateLinkRequest): Promise<CreateLinkResult> {
    for (let attempt = 0; attempt < SNOWFLAKE_MAX_ATTEMPTS; attempt++) {
      const code = snowflakeCode(this.options.nextId!());
      const outcome = await this.options.store.insert(this.newLink(request, code, 'snowflake'));
      if (outcome.kind === 'inserted') {
        this.options.filter?.add(code);
        return { created: true, link: outcome.link };
      }
      if (outcome.kind === 'duplicate') return { created: false, link: outcome.link };
    }
    throw new NoFreeCodeError(`${SNOWFLAKE_MAX_ATTEMPTS} snowflake codes in a row were taken by aliases`);
  }

  /**
   * Candidates hash(url), hash(url + salt 1), ...: the first that is free, or the one already
   * holding this URL as a plain link of this owner (dedupe). The filter skips the read for
   * candidates it has never seen; the insert is the authority either way.
   */
  private async createHashed(request: CreateLinkRequest): Promise<CreateLinkResult> {
    const filter = this.options.filter!;
    const plain = isPlain({ kind: 'hash', expiresAt: request.expiresAt, maxClicks: request.maxClicks });
    let rereadOnce = false;
    for (let attempt = 0; attempt < this.options.hashMaxAttempts; attempt++) {
      const code = hashCandidate(request.url, attempt, this.hash);
      const maybeTaken = filter.mightContain(code);
      this.observer.onBloomCheck?.(maybeTaken);
      if (maybeTaken) {
        const existing = await this.options.store.find(code);
        if (existing) {
          rereadOnce = false;
          if (
            plain &&
            isPlain(existing) &&
            existing.deletedAt === undefined &&
            existing.url === request.url &&
            sameOwner(existing, request.owner)
          ) {
            return { created: false, link: existing };
          }
          this.observer.onHashCollision?.();
          continue;
        }
        this.observer.onBloomFalsePositive?.();
      }
      const outcome = await this.options.store.insert(this.newLink(request, code, 'hash'));
      if (outcome.kind === 'inserted') {
        filter.add(code);
        return { created: true, link: outcome.link };
      }
      if (outcome.kind === 'duplicate') {
        filter.add(outcome.link.code);
        return { created: false, link: outcome.link };
      }
      // Taken by another instance since our filter last heard of it: learn it, then retry this
      // same candidate once through the read path, which may find this very URL there.
      filter.add(code);
      if (!maybeTaken && !rereadOnce) {
        rereadOnce = true;
        attempt--;
        continue;
      }
      rereadOnce = false;
      this.observer.onHashCollision?.();
    }
    throw new NoFreeCodeError(
      `no free code for this URL after ${this.options.hashMaxAttempts} salted hashes`,
    );
  }

  /**
   * The link a redirect needs, cache first. A miss reads the store once per code however many
   * requests wait on it, then fills the cache (or a short negative entry for an unknown code).
   */
  async lookup(code: string): Promise<CachedLink | undefined> {
    const entry = await this.options.cache.get(code);
    if (entry !== undefined) {
      this.observer.onCacheLookup?.(entry.kind === 'link' ? 'hit' : 'negative-hit');
      return entry.kind === 'link' ? entry.link : undefined;
    }
    this.observer.onCacheLookup?.('miss');
    let load = this.inflight.get(code);
    if (!load) {
      load = this.load(code).finally(() => this.inflight.delete(code));
      this.inflight.set(code, load);
    }
    return load;
  }

  private async load(code: string): Promise<CachedLink | undefined> {
    const link = await this.options.store.find(code);
    if (!link) {
      await this.options.cache.setAbsent(code, this.options.negativeCacheTtlMs);
      return undefined;
    }
    const cached = toCached(link);
    await this.options.cache.set(code, cached, this.options.cacheTtlMs);
    return cached;
  }

  /** Counts one redirect of a limited link; false once its limit is reached. */
  admitRedirect(code: string): Promise<boolean> {
    return this.options.store.admitRedirect(code);
  }

  find(code: string): Promise<Link | undefined> {
    return this.options.store.find(code);
  }

  /**
   * Deletes a link for its creator. Deleting an already deleted link again succeeds (a retried
   * DELETE), and invalidates the cache again, which is what a retry after a cache outage needs.
   */
  async delete(code: string, requester: string): Promise<void> {
    const link = await this.options.store.find(code);
    if (!link) throw new LinkNotFoundError(`no link ${code}`);
    if (link.owner === undefined || link.owner !== requester) {
      throw new NotOwnerError(
        link.owner === undefined
          ? 'this link was created anonymously and cannot be deleted'
          : 'you did not create this link',
      );
    }
    if (link.deletedAt === undefined) await this.options.store.delete(code);
    await this.options.cache.delete(code);
    this.scheduleSecondInvalidation(code);
  }

  /**
   * Disables a link (an operator acting on an abuse report), with the reason kept for operators;
   * `reason` undefined enables it again. Both invalidate the cache as a delete does, so every
   * instance answers 410 (or redirects again) within the second invalidation.
   */
  async setDisabled(code: string, reason: string | undefined): Promise<Link> {
    const link = await this.options.store.setDisabled(code, reason, this.nowMs());
    if (!link) {
      const existing = await this.options.store.find(code);
      throw existing ? new LinkDeletedError(`${code} was deleted`) : new LinkNotFoundError(`no link ${code}`);
    }
    await this.options.cache.delete(code);
    this.scheduleSecondInvalidation(code);
    return link;
  }

  private scheduleSecondInvalidation(code: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.options.cache.delete(code).catch(() => undefined);
    }, SECOND_INVALIDATION_DELAY_MS);
    timer.unref();
    this.timers.add(timer);
  }

  /** Cancels pending second invalidations (on close). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
