import type { Sql } from '@sysdesign/platform';
import { IdempotencyConflictError, NotPostAuthorError, PostNotFoundError } from '../domain/errors.js';
import type { Candidate } from '../domain/page.js';
import { type FeedPosition, ID_MAX } from '../domain/score.js';
import { isUniqueViolation } from './social-store.js';

/**
 * Posts, likes, replies and their counters in Postgres (or PGlite): the source of truth every
 * cache tier is filled from and every page past the cached window is read from.
 */

export interface PostRecord {
  id: bigint;
  author: string;
  score: number;
  body: string;
  createdMs: number;
  deleted: boolean;
}

export interface Counters {
  likes: number;
  replies: number;
}

export interface Actions {
  liked: boolean;
  replied: boolean;
}

export interface Reply {
  id: bigint;
  postId: bigint;
  author: string;
  body: string;
  createdMs: number;
}

interface PostRow {
  id: bigint | string;
  author: string;
  score: bigint | string;
  body: string;
  created_ms: bigint | string;
  deleted: boolean;
  request_hash?: string | null;
}

const POST_COLUMNS = 'id, author, score, body, created_ms, deleted';

function postOf(row: PostRow): PostRecord {
  return {
    id: BigInt(row.id),
    author: row.author,
    score: Number(row.score),
    body: row.body,
    createdMs: Number(row.created_ms),
    deleted: row.deleted,
  };
}

function candidateOf(row: { id: bigint | string; author: string; score: bigint | string }): Candidate {
  return { id: BigInt(row.id), author: row.author, score: Number(row.score) };
}

/** `(score, id) < (position)` in feed order, as SQL over `p`. */
const OLDER_THAN = '(p.score < $2 OR (p.score = $2 AND p.id < $3))';

export class PostStore {
  constructor(private readonly sql: Sql) {}

  /**
   * Inserts the post and bumps the author's count in one transaction. A retry with the same
   * Idempotency-Key answers the first post (`created: false`); with another body, a conflict.
   */
  async create(
    post: Omit<PostRecord, 'deleted'>,
    idempotency: { key: string; requestHash: string } | undefined,
  ): Promise<{ post: PostRecord; created: boolean }> {
    try {
      return await this.sql.tx(async (tx) => {
        await tx.query(
          `INSERT INTO posts (id, author, score, body, created_ms, idempotency_key, request_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            post.id.toString(),
            post.author,
            post.score,
            post.body,
            post.createdMs,
            idempotency?.key ?? null,
            idempotency?.requestHash ?? null,
          ],
        );
        await tx.query('INSERT INTO post_counters (post_id) VALUES ($1)', [post.id.toString()]);
        await tx.query('UPDATE users SET posts = posts + 1 WHERE id = $1', [post.author]);
        return { post: { ...post, deleted: false }, created: true };
      });
    } catch (error) {
      if (idempotency === undefined || !isUniqueViolation(error)) throw error;
      const { rows } = await this.sql.query<PostRow>(
        `SELECT ${POST_COLUMNS}, request_hash FROM posts WHERE author = $1 AND idempotency_key = $2`,
        [post.author, idempotency.key],
      );
      const first = rows[0];
      if (first === undefined) throw error;
      if (first.request_hash !== idempotency.requestHash) throw new IdempotencyConflictError();
      return { post: postOf(first), created: false };
    }
  }

  /** Marks the post deleted (its row stays for replies and likes); false when it already was. */
  async delete(postId: bigint, caller: string): Promise<{ post: PostRecord; changed: boolean }> {
    return this.sql.tx(async (tx) => {
      const { rows } = await tx.query<PostRow>(`SELECT ${POST_COLUMNS} FROM posts WHERE id = $1 FOR UPDATE`, [
        postId.toString(),
      ]);
      const row = rows[0];
      if (row === undefined || row.deleted) throw new PostNotFoundError(postId.toString());
      if (row.author !== caller) throw new NotPostAuthorError(postId.toString());
      await tx.query('UPDATE posts SET deleted = true WHERE id = $1', [postId.toString()]);
      await tx.query('UPDATE users SET posts = posts - 1 WHERE id = $1', [caller]);
      return { post: { ...postOf(row), deleted: true }, changed: true };
    });
  }

  async getMany(ids: readonly bigint[]): Promise<PostRecord[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.sql.query<PostRow>(
      `SELECT ${POST_COLUMNS} FROM posts WHERE id = ANY($1::bigint[])`,
      [ids.map(String)],
    );
    return rows.map(postOf);
  }

  async requireLive(postId: bigint): Promise<PostRecord> {
    const [post] = await this.getMany([postId]);
    if (post === undefined || post.deleted) throw new PostNotFoundError(postId.toString());
    return post;
  }

  async counters(ids: readonly bigint[]): Promise<Map<bigint, Counters>> {
    const result = new Map<bigint, Counters>();
    if (ids.length === 0) return result;
    const { rows } = await this.sql.query<{ post_id: bigint | string; likes: number; replies: number }>(
      'SELECT post_id, likes, replies FROM post_counters WHERE post_id = ANY($1::bigint[])',
      [ids.map(String)],
    );
    for (const row of rows) result.set(BigInt(row.post_id), { likes: row.likes, replies: row.replies });
    return result;
  }

  async actions(user: string, ids: readonly bigint[]): Promise<Map<bigint, Actions>> {
    const result = new Map<bigint, Actions>();
    for (const id of ids) result.set(id, { liked: false, replied: false });
    if (ids.length === 0) return result;
    const text = ids.map(String);
    const liked = await this.sql.query<{ post_id: bigint | string }>(
      'SELECT post_id FROM likes WHERE user_id = $1 AND post_id = ANY($2::bigint[])',
      [user, text],
    );
    for (const row of liked.rows) result.get(BigInt(row.post_id))!.liked = true;
    const replied = await this.sql.query<{ post_id: bigint | string }>(
      'SELECT DISTINCT post_id FROM replies WHERE author = $1 AND post_id = ANY($2::bigint[])',
      [user, text],
    );
    for (const row of replied.rows) result.get(BigInt(row.post_id))!.replied = true;
    return result;
  }

  /** Likes a live post; false when the user already liked it. */
  async like(postId: bigint, user: string, nowMs: number): Promise<boolean> {
    return this.sql.tx(async (tx) => {
      const live = await tx.query('SELECT 1 FROM posts WHERE id = $1 AND NOT deleted FOR SHARE', [
        postId.toString(),
      ]);
      if (live.rowCount === 0) throw new PostNotFoundError(postId.toString());
      const { rowCount } = await tx.query(
        'INSERT INTO likes (post_id, user_id, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [postId.toString(), user, nowMs],
      );
      if (rowCount > 0)
        await tx.query('UPDATE post_counters SET likes = likes + 1 WHERE post_id = $1', [postId.toString()]);
      return rowCount > 0;
    });
  }

  async unlike(postId: bigint, user: string): Promise<boolean> {
    return this.sql.tx(async (tx) => {
      const { rowCount } = await tx.query('DELETE FROM likes WHERE post_id = $1 AND user_id = $2', [
        postId.toString(),
        user,
      ]);
      if (rowCount > 0)
        await tx.query('UPDATE post_counters SET likes = likes - 1 WHERE post_id = $1', [postId.toString()]);
      return rowCount > 0;
    });
  }

  async reply(reply: Reply): Promise<void> {
    await this.sql.tx(async (tx) => {
      const live = await tx.query('SELECT 1 FROM posts WHERE id = $1 AND NOT deleted FOR SHARE', [
        reply.postId.toString(),
      ]);
      if (live.rowCount === 0) throw new PostNotFoundError(reply.postId.toString());
      await tx.query(
        'INSERT INTO replies (id, post_id, author, body, created_ms) VALUES ($1, $2, $3, $4, $5)',
        [reply.id.toString(), reply.postId.toString(), reply.author, reply.body, reply.createdMs],
      );
      await tx.query('UPDATE post_counters SET replies = replies + 1 WHERE post_id = $1', [
        reply.postId.toString(),
      ]);
    });
  }

  /** Replies newest first, older than `beforeId` when given. */
  async replies(postId: bigint, beforeId: bigint | undefined, limit: number): Promise<Reply[]> {
    const { rows } = await this.sql.query<{
      id: bigint | string;
      post_id: bigint | string;
      author: string;
      body: string;
      created_ms: bigint | string;
    }>(
      `SELECT id, post_id, author, body, created_ms FROM replies
       WHERE post_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
      [postId.toString(), (beforeId ?? ID_MAX).toString(), limit],
    );
    return rows.map((row) => ({
      id: BigInt(row.id),
      postId: BigInt(row.post_id),
      author: row.author,
      body: row.body,
      createdMs: Number(row.created_ms),
    }));
  }

  /** An author's live posts after `before`, newest first: timelines and their cache fill. */
  async authorPage(author: string, before: FeedPosition, limit: number): Promise<Candidate[]> {
    const { rows } = await this.sql.query<{ id: bigint | string; author: string; score: bigint | string }>(
      `SELECT p.id, p.author, p.score FROM posts p
       WHERE p.author = $1 AND NOT p.deleted AND ${OLDER_THAN}
       ORDER BY p.score DESC, p.id DESC LIMIT $4`,
      [author, before.score, before.id.toString(), limit],
    );
    return rows.map(candidateOf);
  }

  /**
   * The reader's feed after `before`, built on read: live posts of the people they follow and
   * their own, minus blocked and muted authors. Pages past the cached window and feeds being
   * rebuilt come from here.
   */
  async feedPage(reader: string, before: FeedPosition, limit: number): Promise<Candidate[]> {
    const { rows } = await this.sql.query<{ id: bigint | string; author: string; score: bigint | string }>(
      `SELECT p.id, p.author, p.score FROM posts p
       WHERE p.author IN (SELECT followee FROM follows WHERE follower = $1 UNION SELECT $1)
         AND p.author NOT IN (
           SELECT target FROM blocks WHERE user_id = $1
           UNION SELECT target FROM mutes WHERE user_id = $1
           UNION SELECT user_id FROM blocks WHERE target = $1)
         AND NOT p.deleted AND ${OLDER_THAN}
       ORDER BY p.score DESC, p.id DESC LIMIT $4`,
      [reader, before.score, before.id.toString(), limit],
    );
    return rows.map(candidateOf);
  }
}
