import { type Sql, type SqlQueryable, SqlState, sqlStateOf } from '@sysdesign/platform';
import { type BlockRef, contentIdOf } from '../domain/blocks.js';
import {
  BlockSizeMismatchError,
  FileNotFoundError,
  QuotaExceededError,
  RevisionNotFoundError,
  StaleRevisionError,
  StorageFullError,
  UnknownBlocksError,
} from '../domain/errors.js';
import { conflictCopyPath } from '../domain/paths.js';
import type { Compression, StoredBlock } from './block-store.js';

/**
 * The metadata, in Postgres (PGlite embedded): strongly consistent, so "is this the head?" has one
 * answer. Every change of a user's files runs in one transaction that first locks the user's
 * namespace row: a user's commits are serialised, the journal's sequence has no gaps, and the
 * quota is exact. Locks are always taken namespace -> blocks -> totals (the collector too), so two
 * transactions never wait on each other in a cycle.
 */

/** More conflict copies of one path on one day than this is a client in a loop. */
const MAX_CONFLICT_NAME_ATTEMPTS = 100;

export interface RevisionView {
  id: string;
  parentId: string | null;
  size: number;
  contentId: string;
  blocks: BlockRef[];
  device: string;
  createdAt: Date;
}

export interface FileView {
  path: string;
  deleted: boolean;
  head: RevisionView;
}

export interface CommitInput {
  userId: string;
  path: string;
  /** The revision the client's version is based on; null for a new file. */
  parentRevision: string | null;
  blocks: BlockRef[];
  device: string;
  now: Date;
}

export interface CommitLimits {
  quotaBytes: number;
  keepRevisions: number;
}

export interface CommitResult {
  /** Where the revision went: the path, or its conflicted copy. */
  path: string;
  revision: RevisionView;
  /** Set when the parent was stale: the revision went to a conflicted copy. */
  conflict?: { id: string; path: string; headRevision: string };
  /** True when this was a retry of a commit already applied (nothing changed). */
  replayed: boolean;
}

export interface JournalEntry {
  seq: number;
  path: string;
  kind: 'put' | 'delete';
  revision: string;
  size: number;
  contentId: string;
  at: Date;
}

export interface ConflictView {
  id: string;
  path: string;
  conflictPath: string;
  device: string;
  baseRevision: string | null;
  headRevision: string;
  conflictRevision: string;
  createdAt: Date;
}

interface RevisionRow {
  id: bigint | string;
  parent_id: bigint | string | null;
  size: bigint | string;
  content_id: string;
  blocks: [string, number][];
  device: string;
  created_at: Date;
}

const REVISION_COLUMNS = 'r.id, r.parent_id, r.size, r.content_id, r.blocks, r.device, r.created_at';

function revisionOf(row: RevisionRow): RevisionView {
  return {
    id: String(row.id),
    parentId: row.parent_id === null ? null : String(row.parent_id),
    size: Number(row.size),
    contentId: row.content_id,
    blocks: row.blocks.map(([hash, size]) => ({ hash, size })),
    device: row.device,
    createdAt: row.created_at,
  };
}

function jsonList(values: readonly string[]): string {
  return JSON.stringify(values);
}

/** A transaction Postgres aborted to break a deadlock (or a serialisation failure) is run again. */
const MAX_TRANSACTION_ATTEMPTS = 5;

export async function retryingTx<T>(sql: Sql, work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sql.tx(work);
    } catch (error) {
      const state = sqlStateOf(error);
      const retryable = state === SqlState.deadlockDetected || state === SqlState.serializationFailure;
      if (!retryable || attempt >= MAX_TRANSACTION_ATTEMPTS) throw error;
    }
  }
}

export class MetadataStore {
  constructor(private readonly sql: Sql) {}

  /** The blocks of `hashes` this user may reference: uploaded by them and stored. */
  async heldBlocks(userId: string, hashes: readonly string[]): Promise<Set<string>> {
    const { rows } = await this.sql.query<{ hash: string }>(
      `SELECT b.hash FROM blocks b JOIN user_blocks u ON u.hash = b.hash AND u.user_id = $1
        WHERE b.stored AND b.hash IN (SELECT jsonb_array_elements_text($2::jsonb))`,
      [userId, jsonList(hashes)],
    );
    return new Set(rows.map((row) => row.hash));
  }

  /**
   * Claims a block before its bytes are written: the row's fresh `touched_at` keeps the collector
   * away for the grace period. Answers true when the bytes are already stored (dedupe: the user
   * proved they hold them by sending them, so they may now reference the block).
   */
  async reserveBlock(userId: string, hash: string, size: number, now: Date): Promise<boolean> {
    return retryingTx(this.sql, async (tx) => {
      const { rows } = await tx.query<{ stored: boolean }>(
        `INSERT INTO blocks (hash, size, touched_at) VALUES ($1, $2, $3)
         ON CONFLICT (hash) DO UPDATE SET touched_at = EXCLUDED.touched_at
         RETURNING stored`,
        [hash, size, now],
      );
      const stored = rows[0]!.stored;
      if (stored) await grantBlock(tx, userId, hash);
      return stored;
    });
  }

  /** Refuses a block that would take the store over its disk bound. */
  async checkStorage(incomingBytes: number, maxStoredBytes: number): Promise<void> {
    const { rows } = await this.sql.query<{ stored_bytes: bigint }>(
      'SELECT stored_bytes FROM totals WHERE id = 1',
    );
    if (Number(rows[0]!.stored_bytes) + incomingBytes > maxStoredBytes)
      throw new StorageFullError(maxStoredBytes);
  }

  /**
   * Records that a block's bytes are on disk; counts them once even when two uploads raced. When
   * the collector took the row between the reservation and now (it deleted the blob too), the
   * bytes are written again under the row's lock, which the collector cannot take meanwhile.
   */
  async markStored(
    userId: string,
    hash: string,
    size: number,
    written: StoredBlock,
    now: Date,
    rewrite: () => Promise<StoredBlock>,
  ): Promise<void> {
    await retryingTx(this.sql, async (tx) => {
      const { rows } = await tx.query<{ stored: boolean }>(
        'SELECT stored FROM blocks WHERE hash = $1 FOR UPDATE',
        [hash],
      );
      const found = rows[0];
      if (found?.stored) {
        await tx.query('UPDATE blocks SET touched_at = $2 WHERE hash = $1', [hash, now]);
        await grantBlock(tx, userId, hash);
        return;
      }
      const stored = found === undefined ? await rewrite() : written;
      await tx.query(
        `INSERT INTO blocks (hash, size, stored_size, compression, stored, touched_at)
         VALUES ($1, $2, $3, $4, true, $5)
         ON CONFLICT (hash) DO UPDATE SET stored = true, touched_at = EXCLUDED.touched_at,
           stored_size = EXCLUDED.stored_size, compression = EXCLUDED.compression`,
        [hash, size, stored.storedSize, stored.compression, now],
      );
      await tx.query('UPDATE totals SET stored_bytes = stored_bytes + $1 WHERE id = 1', [stored.storedSize]);
      await grantBlock(tx, userId, hash);
    });
  }

  /** The stored block this user holds, for reading its bytes. */
  async blockOf(
    userId: string,
    hash: string,
  ): Promise<{ size: number; compression: Compression } | undefined> {
    const { rows } = await this.sql.query<{ size: number; compression: Compression }>(
      `SELECT b.size, b.compression FROM blocks b JOIN user_blocks u ON u.hash = b.hash AND u.user_id = $1
        WHERE b.hash = $2 AND b.stored`,
      [userId, hash],
    );
    return rows[0];
  }

  /** Compression of each stored block of a revision the caller already may read. */
  async compressionOf(hashes: readonly string[]): Promise<Map<string, Compression>> {
    const { rows } = await this.sql.query<{ hash: string; compression: Compression }>(
      'SELECT hash, compression FROM blocks WHERE stored AND hash IN (SELECT jsonb_array_elements_text($1::jsonb))',
      [jsonList(hashes)],
    );
    return new Map(rows.map((row) => [row.hash, row.compression]));
  }

  async usage(userId: string): Promise<{ usedBytes: number; seq: number }> {
    const { rows } = await this.sql.query<{ used_bytes: bigint; seq: bigint }>(
      'SELECT used_bytes, seq FROM namespaces WHERE user_id = $1',
      [userId],
    );
    return { usedBytes: Number(rows[0]?.used_bytes ?? 0), seq: Number(rows[0]?.seq ?? 0) };
  }

  async commit(input: CommitInput, limits: CommitLimits): Promise<CommitResult> {
    return retryingTx(this.sql, async (tx) => {
      const namespace = await lockNamespace(tx, input.userId);
      await lockHeldBlocks(tx, input.userId, input.blocks);
      const file = await lockFile(tx, input.userId, input.path);
      const contentId = contentIdOf(input.blocks);
      let path = input.path;
      let conflictHead: RevisionView | undefined;
      if (file !== undefined && !file.deleted && file.head.id !== input.parentRevision) {
        const head = file.head;
        // A retry of the commit that made the head changes nothing.
        if (
          head.parentId === input.parentRevision &&
          head.contentId === contentId &&
          head.device === input.device
        ) {
          return { path, revision: head, replayed: true };
        }
        conflictHead = head;
        path = await freeConflictPath(tx, input);
      }
      const size = input.blocks.reduce((total, block) => total + block.size, 0);
      if (namespace.usedBytes + size > limits.quotaBytes) {
        throw new QuotaExceededError(namespace.usedBytes, limits.quotaBytes);
      }
      const target = conflictHead === undefined ? file : undefined;
      const revision = await insertRevision(tx, { ...input, path }, target?.id, contentId, size);
      await addUsage(tx, input.userId, size);
      await appendJournal(tx, input.userId, { path, kind: 'put', revision, at: input.now });
      if (target !== undefined)
        await pruneRevisions(tx, input.userId, target.id, revision.id, limits, input.now);
      if (conflictHead === undefined) return { path, revision, replayed: false };
      const conflictId = await recordConflict(tx, input, path, conflictHead.id, revision.id);
      return {
        path,
        revision,
        replayed: false,
        conflict: { id: conflictId, path, headRevision: conflictHead.id },
      };
    });
  }

  /** Marks the file deleted (restorable until the collector purges it); refuses a stale parent. */
  async deleteFile(
    userId: string,
    path: string,
    parentRevision: string | undefined,
    now: Date,
  ): Promise<FileView> {
    return retryingTx(this.sql, async (tx) => {
      await lockNamespace(tx, userId);
      const file = await lockFile(tx, userId, path);
      if (file === undefined || file.deleted) throw new FileNotFoundError(path);
      if (parentRevision !== undefined && parentRevision !== file.head.id) {
        throw new StaleRevisionError(path, file.head.id);
      }
      await tx.query('UPDATE files SET deleted = true, deleted_at = $2 WHERE id = $1', [file.id, now]);
      await appendJournal(tx, userId, { path, kind: 'delete', revision: file.head, at: now });
      return { path, deleted: true, head: file.head };
    });
  }

  async file(userId: string, path: string): Promise<FileView | undefined> {
    const found = await fileRow(this.sql, userId, path, false);
    return found === undefined ? undefined : { path, deleted: found.deleted, head: found.head };
  }

  async revision(userId: string, path: string, revisionId: string): Promise<RevisionView> {
    const { rows } = await this.sql.query<RevisionRow>(
      `SELECT ${REVISION_COLUMNS} FROM revisions r JOIN files f ON f.id = r.file_id
        WHERE f.user_id = $1 AND f.path = $2 AND r.id = $3`,
      [userId, path, revisionId],
    );
    if (rows[0] === undefined) throw new RevisionNotFoundError(revisionId);
    return revisionOf(rows[0]);
  }

  async revisions(userId: string, path: string): Promise<RevisionView[]> {
    const { rows } = await this.sql.query<RevisionRow>(
      `SELECT ${REVISION_COLUMNS} FROM revisions r JOIN files f ON f.id = r.file_id
        WHERE f.user_id = $1 AND f.path = $2 ORDER BY r.id DESC`,
      [userId, path],
    );
    if (rows.length === 0) throw new FileNotFoundError(path);
    return rows.map(revisionOf);
  }

  /** Live files in byte order of their paths, after `after`, starting with `prefix`. */
  async listFiles(
    userId: string,
    options: { prefix: string; after: string; limit: number },
  ): Promise<FileView[]> {
    const { rows } = await this.sql.query<RevisionRow & { path: string }>(
      `SELECT f.path, ${REVISION_COLUMNS} FROM files f JOIN revisions r ON r.id = f.head_revision
        WHERE f.user_id = $1 AND NOT f.deleted AND starts_with(f.path, $2) AND f.path COLLATE "C" > $3
        ORDER BY f.path COLLATE "C" LIMIT $4`,
      [userId, options.prefix, options.after, options.limit],
    );
    return rows.map((row) => ({ path: row.path, deleted: false, head: revisionOf(row) }));
  }

  async changes(userId: string, afterSeq: number, limit: number): Promise<JournalEntry[]> {
    const { rows } = await this.sql.query<{
      seq: bigint;
      path: string;
      kind: 'put' | 'delete';
      revision_id: bigint;
      size: bigint;
      content_id: string;
      at: Date;
    }>(
      `SELECT seq, path, kind, revision_id, size, content_id, at FROM journal
        WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [userId, afterSeq, limit],
    );
    return rows.map((row) => ({
      seq: Number(row.seq),
      path: row.path,
      kind: row.kind,
      revision: String(row.revision_id),
      size: Number(row.size),
      contentId: row.content_id,
      at: row.at,
    }));
  }

  async openConflicts(userId: string, afterId: string, limit: number): Promise<ConflictView[]> {
    const { rows } = await this.sql.query<{
      id: bigint;
      path: string;
      conflict_path: string;
      device: string;
      base_revision: bigint | null;
      head_revision: bigint;
      conflict_revision: bigint;
      created_at: Date;
    }>(
      `SELECT id, path, conflict_path, device, base_revision, head_revision, conflict_revision, created_at
         FROM conflicts WHERE user_id = $1 AND resolved_at IS NULL AND id > $2 ORDER BY id LIMIT $3`,
      [userId, afterId, limit],
    );
    return rows.map((row) => ({
      id: String(row.id),
      path: row.path,
      conflictPath: row.conflict_path,
      device: row.device,
      baseRevision: row.base_revision === null ? null : String(row.base_revision),
      headRevision: String(row.head_revision),
      conflictRevision: String(row.conflict_revision),
      createdAt: row.created_at,
    }));
  }

  /** Marks a conflict handled (the user merged or dropped the copy); false when there is none open. */
  async resolveConflict(userId: string, id: string, now: Date): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      'UPDATE conflicts SET resolved_at = $3 WHERE user_id = $1 AND id = $2 AND resolved_at IS NULL',
      [userId, id, now],
    );
    return rowCount === 1;
  }
}

async function grantBlock(tx: SqlQueryable, userId: string, hash: string): Promise<void> {
  await tx.query('INSERT INTO user_blocks (user_id, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    userId,
    hash,
  ]);
}

export async function lockNamespace(tx: SqlQueryable, userId: string): Promise<{ usedBytes: number }> {
  const { rows } = await tx.query<{ used_bytes: bigint }>(
    `INSERT INTO namespaces (user_id) VALUES ($1)
     ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
     RETURNING used_bytes`,
    [userId],
  );
  return { usedBytes: Number(rows[0]!.used_bytes) };
}

/** Locks the rows of the blocks a commit names, so the collector cannot free them under it. */
async function lockHeldBlocks(tx: SqlQueryable, userId: string, blocks: readonly BlockRef[]): Promise<void> {
  const distinct = [...new Set(blocks.map((block) => block.hash))];
  const { rows } = await tx.query<{ hash: string; size: number }>(
    `SELECT b.hash, b.size FROM blocks b JOIN user_blocks u ON u.hash = b.hash AND u.user_id = $1
      WHERE b.stored AND b.hash IN (SELECT jsonb_array_elements_text($2::jsonb))
      ORDER BY b.hash FOR UPDATE OF b`,
    [userId, jsonList(distinct)],
  );
  const sizes = new Map(rows.map((row) => [row.hash, row.size]));
  const missing = distinct.filter((hash) => !sizes.has(hash));
  if (missing.length > 0) throw new UnknownBlocksError(missing);
  for (const block of blocks) {
    const actual = sizes.get(block.hash)!;
    if (actual !== block.size) throw new BlockSizeMismatchError(block.hash, block.size, actual);
  }
}

interface FileRow {
  id: string;
  deleted: boolean;
  head: RevisionView;
}

async function fileRow(
  queryable: SqlQueryable,
  userId: string,
  path: string,
  forUpdate: boolean,
): Promise<FileRow | undefined> {
  const { rows } = await queryable.query<RevisionRow & { file_id: bigint; deleted: boolean }>(
    `SELECT f.id AS file_id, f.deleted, ${REVISION_COLUMNS}
       FROM files f JOIN revisions r ON r.id = f.head_revision
      WHERE f.user_id = $1 AND f.path = $2 ${forUpdate ? 'FOR UPDATE OF f' : ''}`,
    [userId, path],
  );
  const row = rows[0];
  return row === undefined
    ? undefined
    : { id: String(row.file_id), deleted: row.deleted, head: revisionOf(row) };
}

function lockFile(tx: SqlQueryable, userId: string, path: string): Promise<FileRow | undefined> {
  return fileRow(tx, userId, path, true);
}

async function freeConflictPath(tx: SqlQueryable, input: CommitInput): Promise<string> {
  for (let attempt = 1; attempt <= MAX_CONFLICT_NAME_ATTEMPTS; attempt++) {
    const candidate = conflictCopyPath(input.path, input.device, input.now, attempt);
    const { rowCount } = await tx.query('SELECT 1 FROM files WHERE user_id = $1 AND path = $2', [
      input.userId,
      candidate,
    ]);
    if (rowCount === 0) return candidate;
  }
  throw new StaleRevisionError(input.path, 'unknown: too many conflicted copies today');
}

/** Inserts the revision, creating the file row (or moving its head), and references its blocks. */
async function insertRevision(
  tx: SqlQueryable,
  input: CommitInput,
  fileId: string | undefined,
  contentId: string,
  size: number,
): Promise<RevisionView> {
  let id = fileId;
  if (id === undefined) {
    // The head is set right below; 0 is a placeholder no revision has.
    const created = await tx.query<{ id: bigint }>(
      `INSERT INTO files (user_id, path, head_revision) VALUES ($1, $2, 0)
       ON CONFLICT (user_id, path) DO UPDATE SET deleted = false, deleted_at = NULL
       RETURNING id`,
      [input.userId, input.path],
    );
    id = String(created.rows[0]!.id);
  }
  const blocks = input.blocks.map((block) => [block.hash, block.size]);
  const { rows } = await tx.query<RevisionRow>(
    `INSERT INTO revisions AS r (file_id, parent_id, size, content_id, blocks, device, created_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING ${REVISION_COLUMNS}`,
    [id, input.parentRevision, size, contentId, JSON.stringify(blocks), input.device, input.now],
  );
  const revision = revisionOf(rows[0]!);
  await tx.query('UPDATE files SET head_revision = $2, deleted = false, deleted_at = NULL WHERE id = $1', [
    id,
    revision.id,
  ]);
  await tx.query(
    'UPDATE blocks SET refcount = refcount + 1 WHERE hash IN (SELECT jsonb_array_elements_text($1::jsonb))',
    [jsonList([...new Set(input.blocks.map((block) => block.hash))])],
  );
  return revision;
}

async function addUsage(tx: SqlQueryable, userId: string, bytes: number): Promise<void> {
  await tx.query('UPDATE namespaces SET used_bytes = used_bytes + $2 WHERE user_id = $1', [userId, bytes]);
}

async function appendJournal(
  tx: SqlQueryable,
  userId: string,
  change: { path: string; kind: 'put' | 'delete'; revision: RevisionView; at: Date },
): Promise<void> {
  const { rows } = await tx.query<{ seq: bigint }>(
    'UPDATE namespaces SET seq = seq + 1 WHERE user_id = $1 RETURNING seq',
    [userId],
  );
  await tx.query(
    `INSERT INTO journal (user_id, seq, path, kind, revision_id, size, content_id, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      userId,
      rows[0]!.seq,
      change.path,
      change.kind,
      change.revision.id,
      change.kind === 'put' ? change.revision.size : 0,
      change.revision.contentId,
      change.at,
    ],
  );
}

/** Drops revisions beyond the newest `keepRevisions` besides the head, releasing their blocks. */
async function pruneRevisions(
  tx: SqlQueryable,
  userId: string,
  fileId: string,
  headId: string,
  limits: CommitLimits,
  now: Date,
): Promise<void> {
  const { rows } = await tx.query<{ id: bigint }>(
    'SELECT id FROM revisions WHERE file_id = $1 AND id <> $2 ORDER BY id DESC OFFSET $3',
    [fileId, headId, limits.keepRevisions],
  );
  for (const row of rows) await dropRevision(tx, userId, String(row.id), now);
}

/** Deletes one revision and releases its blocks (their grace period starts now). */
export async function dropRevision(
  tx: SqlQueryable,
  userId: string,
  revisionId: string,
  now: Date,
): Promise<void> {
  const { rows } = await tx.query<{ size: bigint; blocks: [string, number][] }>(
    'DELETE FROM revisions WHERE id = $1 RETURNING size, blocks',
    [revisionId],
  );
  const dropped = rows[0];
  if (dropped === undefined) return;
  const hashes = [...new Set(dropped.blocks.map(([hash]) => hash))];
  await tx.query(
    `UPDATE blocks SET refcount = refcount - 1, touched_at = $2
      WHERE hash IN (SELECT hash FROM blocks WHERE hash IN (SELECT jsonb_array_elements_text($1::jsonb))
                     ORDER BY hash FOR UPDATE)`,
    [jsonList(hashes), now],
  );
  await addUsage(tx, userId, -Number(dropped.size));
}

async function recordConflict(
  tx: SqlQueryable,
  input: CommitInput,
  conflictPath: string,
  headRevision: string,
  conflictRevision: string,
): Promise<string> {
  const { rows } = await tx.query<{ id: bigint }>(
    `INSERT INTO conflicts (user_id, path, conflict_path, device, base_revision, head_revision, conflict_revision, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [
      input.userId,
      input.path,
      conflictPath,
      input.device,
      input.parentRevision,
      headRevision,
      conflictRevision,
      input.now,
    ],
  );
  return String(rows[0]!.id);
}
