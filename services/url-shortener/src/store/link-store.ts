import { createHash } from 'node:crypto';
import type { Sql, SqlQueryable } from '@sysdesign/platform';
import { type CodeKind, isPlain, type Link, type NewLink } from '../domain/link.js';

/**
 * Where links live. The port names what the design needs: find a code, find the plain link of a
 * URL (dedupe), insert without overwriting, tombstone, admit a redirect against a click limit,
 * and list codes (to rebuild the bloom filter). Two adapters pass one contract suite:
 * Postgres/PGlite (the service) and memory (fast unit tests of the domain).
 */

export type InsertOutcome =
  | { kind: 'inserted'; link: Link }
  /** A plain link of the same URL and owner exists (the new link was plain too). */
  | { kind: 'duplicate'; link: Link }
  /** The code is in use, by a live link or a tombstone. */
  | { kind: 'code-taken' };

export interface LinkStore {
  find(code: string): Promise<Link | undefined>;
  /** The live plain link (no alias, expiry or limit) of `url` created by `owner`. */
  findPlain(url: string, owner: string | undefined): Promise<Link | undefined>;
  /** Inserts unless the code is taken or, for a plain link, the URL already has one. */
  insert(link: NewLink): Promise<InsertOutcome>;
  /** Tombstones a live link and drops its click counters; false if there was none. */
  delete(code: string): Promise<boolean>;
  /** Counts one redirect of a limited link if it is under its limit; false once it is not. */
  admitRedirect(code: string): Promise<boolean>;
  /** Disables a live link with a reason (again: the reason is replaced), or enables it (`undefined`). */
  setDisabled(code: string, reason: string | undefined, atMs: number): Promise<Link | undefined>;
  /** Up to `limit` codes greater than `after`, in order (tombstones included). */
  codesAfter(after: string, limit: number): Promise<string[]>;
}

/** The dedupe key of a plain link: who made it and where it points, hashed to a fixed size. */
export function plainKeyOf(url: string, owner: string | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify([owner ?? null, url]))
    .digest('hex');
}

function plainKey(url: string, owner: string | undefined): string {
  return `${owner ?? ''}\u0000${url}`;
}

/**
 * Aliases are unique ignoring case (`DevLink` and `devlink` would be look-alikes); generated
 * codes are base62, where case is part of the code, and are compared exactly.
 */
export function foldedAliasOf(link: Pick<NewLink, 'code' | 'kind'>): string | null {
  return link.kind === 'alias' ? link.code.toLowerCase() : null;
}

/** The in-memory adapter; `onDelete` lets the memory click store drop a deleted link's counters. */
export class MemoryLinkStore implements LinkStore {
  private readonly links = new Map<string, Link>();
  private readonly plain = new Map<string, string>();
  private readonly foldedAliases = new Set<string>();
  onDelete: (code: string) => void = () => undefined;

  async find(code: string) {
    const link = this.links.get(code);
    return link ? { ...link } : undefined;
  }

  async findPlain(url: string, owner: string | undefined) {
    const code = this.plain.get(plainKey(url, owner));
    return code === undefined ? undefined : this.find(code);
  }

  async insert(link: NewLink): Promise<InsertOutcome> {
    // Check and set without an await between them, as a unique index would.
    const plain = isPlain(link);
    const existingCode = plain ? this.plain.get(plainKey(link.url, link.owner)) : undefined;
    if (existingCode !== undefined) return { kind: 'duplicate', link: { ...this.links.get(existingCode)! } };
    if (this.links.has(link.code)) return { kind: 'code-taken' };
    const folded = foldedAliasOf(link);
    if (folded !== null && this.foldedAliases.has(folded)) return { kind: 'code-taken' };
    const stored: Link = {
      ...link,
      redirectsUsed: 0,
      deletedAt: undefined,
      disabledAt: undefined,
      disabledReason: undefined,
    };
    this.links.set(link.code, stored);
    if (folded !== null) this.foldedAliases.add(folded);
    if (plain) this.plain.set(plainKey(link.url, link.owner), link.code);
    return { kind: 'inserted', link: { ...stored } };
  }

  async delete(code: string) {
    const link = this.links.get(code);
    if (!link || link.deletedAt || link.url === undefined) return false;
    if (this.plain.get(plainKey(link.url, link.owner)) === code)
      this.plain.delete(plainKey(link.url, link.owner));
    link.url = undefined;
    link.deletedAt = new Date();
    this.onDelete(code);
    return true;
  }

  async admitRedirect(code: string) {
    const link = this.links.get(code);
    if (!link || link.deletedAt || link.maxClicks === undefined || link.redirectsUsed >= link.maxClicks)
      return false;
    link.redirectsUsed++;
    return true;
  }

  async setDisabled(code: string, reason: string | undefined, atMs: number) {
    const link = this.links.get(code);
    if (!link || link.deletedAt) return undefined;
    link.disabledAt = reason === undefined ? undefined : new Date(atMs);
    link.disabledReason = reason;
    return { ...link };
  }

  async codesAfter(after: string, limit: number) {
    return [...this.links.keys()]
      .filter((code) => code > after)
      .sort()
      .slice(0, limit);
  }

  /** Whether `code` names a live link (for the memory click store). */
  isLive(code: string): boolean {
    const link = this.links.get(code);
    return link !== undefined && link.deletedAt === undefined;
  }
}

interface LinkRow {
  code: string;
  url: string | null;
  kind: CodeKind;
  owner: string | null;
  created_at: Date;
  expires_at: Date | null;
  max_clicks: number | null;
  redirects_used: number;
  deleted_at: Date | null;
  disabled_at: Date | null;
  disabled_reason: string | null;
}

const LINK_COLUMNS =
  'code, url, kind, owner, created_at, expires_at, max_clicks, redirects_used, deleted_at, disabled_at, disabled_reason';

function linkOf(row: LinkRow): Link {
  return {
    code: row.code,
    url: row.url ?? undefined,
    kind: row.kind,
    owner: row.owner ?? undefined,
    createdAt: row.created_at,
    expiresAt: row.expires_at ?? undefined,
    maxClicks: row.max_clicks ?? undefined,
    redirectsUsed: Number(row.redirects_used),
    deletedAt: row.deleted_at ?? undefined,
    disabledAt: row.disabled_at ?? undefined,
    disabledReason: row.disabled_reason ?? undefined,
  };
}

/** Postgres or PGlite: the same SQL on both. */
export class PostgresLinkStore implements LinkStore {
  constructor(private readonly sql: Sql) {}

  async find(code: string) {
    const { rows } = await this.sql.query<LinkRow>(`SELECT ${LINK_COLUMNS} FROM links WHERE code = $1`, [
      code,
    ]);
    return rows[0] ? linkOf(rows[0]) : undefined;
  }

  async findPlain(url: string, owner: string | undefined) {
    return findPlainIn(this.sql, url, owner);
  }

  async insert(link: NewLink): Promise<InsertOutcome> {
    const { rows } = await this.sql.query<LinkRow>(
      `INSERT INTO links (code, url, plain_key, kind, owner, created_at, expires_at, max_clicks, alias_folded)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT DO NOTHING
       RETURNING ${LINK_COLUMNS}`,
      [
        link.code,
        link.url,
        isPlain(link) ? plainKeyOf(link.url, link.owner) : null,
        link.kind,
        link.owner ?? null,
        link.createdAt,
        link.expiresAt ?? null,
        link.maxClicks ?? null,
        foldedAliasOf(link),
      ],
    );
    if (rows[0]) return { kind: 'inserted', link: linkOf(rows[0]) };
    // Which constraint refused it: the plain-URL index (dedupe) or the code.
    if (isPlain(link)) {
      const existing = await this.findPlain(link.url, link.owner);
      if (existing) return { kind: 'duplicate', link: existing };
    }
    return { kind: 'code-taken' };
  }

  async delete(code: string) {
    return this.sql.tx(async (tx) => {
      const { rowCount } = await tx.query(
        `UPDATE links SET url = NULL, plain_key = NULL, deleted_at = now()
         WHERE code = $1 AND deleted_at IS NULL RETURNING code`,
        [code],
      );
      if (rowCount === 0) return false;
      for (const table of ['click_totals', 'click_minutes', 'click_referrer_days', 'click_devices']) {
        await tx.query(`DELETE FROM ${table} WHERE code = $1`, [code]);
      }
      return true;
    });
  }

  async admitRedirect(code: string) {
    // One statement: concurrent redirects on any number of instances admit exactly max_clicks.
    const { rowCount } = await this.sql.query(
      `UPDATE links SET redirects_used = redirects_used + 1
       WHERE code = $1 AND deleted_at IS NULL AND max_clicks IS NOT NULL AND redirects_used < max_clicks
       RETURNING redirects_used`,
      [code],
    );
    return rowCount > 0;
  }

  async setDisabled(code: string, reason: string | undefined, atMs: number) {
    const { rows } = await this.sql.query<LinkRow>(
      `UPDATE links SET disabled_at = $2, disabled_reason = $3
       WHERE code = $1 AND deleted_at IS NULL RETURNING ${LINK_COLUMNS}`,
      [code, reason === undefined ? null : new Date(atMs), reason ?? null],
    );
    return rows[0] ? linkOf(rows[0]) : undefined;
  }

  async codesAfter(after: string, limit: number) {
    // COLLATE "C": byte order, the same on every server whatever its locale.
    const { rows } = await this.sql.query<{ code: string }>(
      'SELECT code FROM links WHERE code COLLATE "C" > $1 ORDER BY code COLLATE "C" LIMIT $2',
      [after, limit],
    );
    return rows.map((row) => row.code);
  }
}

async function findPlainIn(
  sql: SqlQueryable,
  url: string,
  owner: string | undefined,
): Promise<Link | undefined> {
  // One unique-index probe; the URL is compared too, which costs nothing and owes nothing to luck.
  const { rows } = await sql.query<LinkRow>(
    `SELECT ${LINK_COLUMNS} FROM links WHERE plain_key = $1 AND url = $2`,
    [plainKeyOf(url, owner), url],
  );
  return rows[0] ? linkOf(rows[0]) : undefined;
}
