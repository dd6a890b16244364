/**
 * A short link: the record the service keeps per code, and what a redirect may do with it.
 */

export type CodeKind = 'snowflake' | 'hash' | 'alias';

export interface Link {
  code: string;
  /** Absent once deleted: a tombstone keeps the code from ever being issued again. */
  url: string | undefined;
  kind: CodeKind;
  /** The `sub` of the bearer token that created it; undefined for anonymous links. */
  owner: string | undefined;
  createdAt: Date;
  expiresAt: Date | undefined;
  /** Redirects allowed in all; undefined for unlimited. */
  maxClicks: number | undefined;
  /** Redirects admitted so far against `maxClicks` (only counted for limited links). */
  redirectsUsed: number;
  deletedAt: Date | undefined;
  /** Set while the link is disabled (an operator's takedown; the owner's with #18): answer 410. */
  disabledAt: Date | undefined;
  /** Why it was disabled: for operators, never shown to visitors. */
  disabledReason: string | undefined;
}

export type NewLink = Pick<
  Link,
  'code' | 'url' | 'kind' | 'owner' | 'createdAt' | 'expiresAt' | 'maxClicks'
> & {
  url: string;
};

/** A link takes part in dedupe only without alias, expiry or click limit: same URL, same link. */
export function isPlain(link: Pick<Link, 'kind' | 'expiresAt' | 'maxClicks'>): boolean {
  return link.kind !== 'alias' && link.expiresAt === undefined && link.maxClicks === undefined;
}

/** What the redirect path keeps per code in its cache: enough to answer without the database. */
export interface CachedLink {
  url: string;
  /** ms since the epoch; undefined for no expiry. */
  expiresAtMs: number | undefined;
  /** Each redirect must be admitted by the store (atomic count against maxClicks). */
  limited: boolean;
  /** Deleted: answer 410. */
  gone: boolean;
  /** Disabled: answer 410. Absent in entries cached before the flag existed. */
  disabled?: boolean;
}

export function toCached(link: Link): CachedLink {
  return {
    url: link.url ?? '',
    expiresAtMs: link.expiresAt?.getTime(),
    limited: link.maxClicks !== undefined,
    gone: link.deletedAt !== undefined,
    disabled: link.disabledAt !== undefined,
  };
}

export type LinkState = 'active' | 'expired' | 'deleted' | 'disabled';

export function stateOf(link: CachedLink, nowMs: number): LinkState {
  if (link.gone) return 'deleted';
  if (link.disabled) return 'disabled';
  if (link.expiresAtMs !== undefined && nowMs >= link.expiresAtMs) return 'expired';
  return 'active';
}
