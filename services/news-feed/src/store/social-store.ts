import { type Sql, type SqlQueryable, SqlState, sqlStateOf } from '@sysdesign/platform';
import {
  BlockedError,
  FollowingLimitError,
  NotRegisteredError,
  UserNotFoundError,
} from '../domain/errors.js';

/**
 * Users and the social graph in Postgres (or PGlite): follows, blocks and mutes, with the
 * follower and following counters kept in the same transaction as the edge that changes them.
 */

export interface User {
  id: string;
  displayName: string;
  createdMs: number;
  followers: number;
  following: number;
  posts: number;
  celebrity: boolean;
}

interface UserRow {
  id: string;
  display_name: string;
  created_ms: bigint | string;
  followers: number;
  following: number;
  posts: number;
  celebrity: boolean;
}

const USER_COLUMNS = 'id, display_name, created_ms, followers, following, posts, celebrity';

function userOf(row: UserRow): User {
  return {
    id: row.id,
    displayName: row.display_name,
    createdMs: Number(row.created_ms),
    followers: row.followers,
    following: row.following,
    posts: row.posts,
    celebrity: row.celebrity,
  };
}

export interface Followee {
  id: string;
  celebrity: boolean;
}

export type FeedState = 'active' | 'rebuilding';

export interface SeenResult {
  state: FeedState;
  /** This read claimed the rebuild: the caller runs it. */
  startRebuild: boolean;
  rebuildStartedMs: number | null;
}

export class SocialStore {
  constructor(private readonly sql: Sql) {}

  /** Registers the user, or updates the display name of one who exists; true when created. */
  async upsertUser(
    id: string,
    displayName: string,
    nowMs: number,
  ): Promise<{ user: User; created: boolean }> {
    const { rows } = await this.sql.query<UserRow & { inserted: boolean }>(
      `INSERT INTO users (id, display_name, created_ms, last_seen_ms) VALUES ($1, $2, $3, $3)
       ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name
       RETURNING ${USER_COLUMNS}, (xmax = 0) AS inserted`,
      [id, displayName, nowMs],
    );
    const row = rows[0]!;
    return { user: userOf(row), created: row.inserted };
  }

  async getUser(id: string): Promise<User | undefined> {
    const { rows } = await this.sql.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : userOf(rows[0]);
  }

  async requireUser(id: string): Promise<User> {
    const user = await this.getUser(id);
    if (user === undefined) throw new UserNotFoundError(id);
    return user;
  }

  /**
   * Adds the edge; false when it existed. Refused when either user blocks the other or the
   * follower is at FOLLOWING_MAX. Marks the followee a celebrity when the threshold is reached.
   */
  async follow(
    follower: string,
    followee: string,
    nowMs: number,
    limits: { followingMax: number; celebrityThreshold: number },
  ): Promise<{ created: boolean; followee: User }> {
    return this.sql.tx(async (tx) => {
      const [source, target] = await lockPair(tx, follower, followee);
      if (await blockedEitherWay(tx, follower, followee)) throw new BlockedError(followee);
      const existing = await tx.query('SELECT 1 FROM follows WHERE follower = $1 AND followee = $2', [
        follower,
        followee,
      ]);
      if (existing.rowCount > 0) return { created: false, followee: target };
      if (source.following >= limits.followingMax) throw new FollowingLimitError(limits.followingMax);
      await tx.query('INSERT INTO follows (follower, followee, created_ms) VALUES ($1, $2, $3)', [
        follower,
        followee,
        nowMs,
      ]);
      await tx.query('UPDATE users SET following = following + 1 WHERE id = $1', [follower]);
      const { rows } = await tx.query<UserRow>(
        `UPDATE users SET followers = followers + 1, celebrity = celebrity OR followers + 1 >= $2
         WHERE id = $1 RETURNING ${USER_COLUMNS}`,
        [followee, limits.celebrityThreshold],
      );
      return { created: true, followee: userOf(rows[0]!) };
    });
  }

  /** Removes the edge; false when there was none. */
  async unfollow(follower: string, followee: string): Promise<boolean> {
    return this.sql.tx(async (tx) => {
      await lockPair(tx, follower, followee);
      return removeFollow(tx, follower, followee);
    });
  }

  /** Blocks `target` for `user`, removing follows both ways. */
  async block(user: string, target: string): Promise<boolean> {
    return this.sql.tx(async (tx) => {
      await lockPair(tx, user, target);
      await removeFollow(tx, user, target);
      await removeFollow(tx, target, user);
      const { rowCount } = await tx.query(
        'INSERT INTO blocks (user_id, target) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [user, target],
      );
      return rowCount > 0;
    });
  }

  async unblock(user: string, target: string): Promise<boolean> {
    await this.requireUser(target);
    const { rowCount } = await this.sql.query('DELETE FROM blocks WHERE user_id = $1 AND target = $2', [
      user,
      target,
    ]);
    return rowCount > 0;
  }

  async mute(user: string, target: string): Promise<boolean> {
    await this.requireUser(target);
    const { rowCount } = await this.sql.query(
      'INSERT INTO mutes (user_id, target) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [user, target],
    );
    return rowCount > 0;
  }

  async unmute(user: string, target: string): Promise<boolean> {
    await this.requireUser(target);
    const { rowCount } = await this.sql.query('DELETE FROM mutes WHERE user_id = $1 AND target = $2', [
      user,
      target,
    ]);
    return rowCount > 0;
  }

  /** Everyone the user follows, with whether each is a celebrity. */
  async followees(user: string): Promise<Followee[]> {
    const { rows } = await this.sql.query<{ id: string; celebrity: boolean }>(
      `SELECT u.id, u.celebrity FROM follows f JOIN users u ON u.id = f.followee
       WHERE f.follower = $1 ORDER BY u.id`,
      [user],
    );
    return rows.map((row) => ({ id: row.id, celebrity: row.celebrity }));
  }

  /** Authors hidden from the user: blocked or muted by them, or blocking them. */
  async hiddenAuthors(user: string): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `SELECT target AS id FROM blocks WHERE user_id = $1
       UNION SELECT target FROM mutes WHERE user_id = $1
       UNION SELECT user_id FROM blocks WHERE target = $1`,
      [user],
    );
    return rows.map((row) => row.id);
  }

  /**
   * One page of an author's followers seen since `activeSinceMs` (in follower-id order), for the
   * fanout. Inactive followers are skipped: their feed is rebuilt when they return (a returning
   * reader is seen again at once, so pushes during the rebuild reach the feed being rebuilt).
   */
  async activeFollowersPage(
    author: string,
    afterFollower: string,
    limit: number,
    activeSinceMs: number,
  ): Promise<string[]> {
    const { rows } = await this.sql.query<{ follower: string }>(
      `SELECT f.follower FROM follows f JOIN users u ON u.id = f.follower
       WHERE f.followee = $1 AND f.follower > $2 AND u.last_seen_ms >= $3
       ORDER BY f.follower LIMIT $4`,
      [author, afterFollower, activeSinceMs, limit],
    );
    return rows.map((row) => row.follower);
  }

  /**
   * Records that the user was seen (at most once per `resolutionMs`). A user not seen since
   * `inactiveBeforeMs` comes back to a feed nobody maintained: the state turns `rebuilding` and
   * this call claims the rebuild; so does a read that finds a rebuild stalled past `rebuildTimeoutMs`.
   */
  async seen(
    user: string,
    nowMs: number,
    options: { resolutionMs: number; inactiveBeforeMs: number; rebuildTimeoutMs: number },
  ): Promise<SeenResult> {
    return this.sql.tx(async (tx) => {
      const { rows } = await tx.query<{
        last_seen_ms: bigint | string;
        feed_state: FeedState;
        rebuild_started_ms: bigint | string | null;
      }>('SELECT last_seen_ms, feed_state, rebuild_started_ms FROM users WHERE id = $1 FOR UPDATE', [user]);
      const row = rows[0];
      if (row === undefined) throw new NotRegisteredError(user);
      const lastSeenMs = Number(row.last_seen_ms);
      const startedMs = row.rebuild_started_ms === null ? null : Number(row.rebuild_started_ms);
      const returning = lastSeenMs < options.inactiveBeforeMs;
      const stalled =
        row.feed_state === 'rebuilding' &&
        (startedMs === null || nowMs - startedMs >= options.rebuildTimeoutMs);
      if (returning || stalled) {
        await tx.query(
          `UPDATE users SET last_seen_ms = $2, feed_state = 'rebuilding', rebuild_started_ms = $2 WHERE id = $1`,
          [user, nowMs],
        );
        return { state: 'rebuilding', startRebuild: true, rebuildStartedMs: nowMs };
      }
      if (nowMs - lastSeenMs >= options.resolutionMs)
        await tx.query('UPDATE users SET last_seen_ms = $2 WHERE id = $1', [user, nowMs]);
      return { state: row.feed_state, startRebuild: false, rebuildStartedMs: startedMs };
    });
  }

  /** Claims a rebuild of a feed found missing from the cache (a stalled claim is taken over by `seen`). */
  async claimRebuild(user: string, startedMs: number): Promise<void> {
    await this.sql.query(
      `UPDATE users SET feed_state = 'rebuilding', rebuild_started_ms = $2 WHERE id = $1`,
      [user, startedMs],
    );
  }

  /** Ends the rebuild that started at `startedMs` (a newer claim keeps its own). */
  async finishRebuild(user: string, startedMs: number): Promise<void> {
    await this.sql.query(
      `UPDATE users SET feed_state = 'active', rebuild_started_ms = NULL
       WHERE id = $1 AND feed_state = 'rebuilding' AND rebuild_started_ms = $2`,
      [user, startedMs],
    );
  }

  /** Test and seed seam: sets when a user was last seen. */
  async setLastSeen(user: string, lastSeenMs: number): Promise<void> {
    await this.sql.query('UPDATE users SET last_seen_ms = $2 WHERE id = $1', [user, lastSeenMs]);
  }
}

/** Locks two users' rows in id order (two opposite follows never deadlock); `first` is the caller. */
async function lockPair(tx: SqlQueryable, first: string, second: string): Promise<[User, User]> {
  const { rows } = await tx.query<UserRow>(
    `SELECT ${USER_COLUMNS} FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
    [[first, second]],
  );
  const byId = new Map(rows.map((row) => [row.id, userOf(row)]));
  const a = byId.get(first);
  if (a === undefined) throw new NotRegisteredError(first);
  const b = byId.get(second);
  if (b === undefined) throw new UserNotFoundError(second);
  return [a, b];
}

async function blockedEitherWay(tx: SqlQueryable, a: string, b: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    'SELECT 1 FROM blocks WHERE (user_id = $1 AND target = $2) OR (user_id = $2 AND target = $1)',
    [a, b],
  );
  return rowCount > 0;
}

async function removeFollow(tx: SqlQueryable, follower: string, followee: string): Promise<boolean> {
  const { rowCount } = await tx.query('DELETE FROM follows WHERE follower = $1 AND followee = $2', [
    follower,
    followee,
  ]);
  if (rowCount === 0) return false;
  await tx.query('UPDATE users SET following = following - 1 WHERE id = $1', [follower]);
  await tx.query('UPDATE users SET followers = followers - 1 WHERE id = $1', [followee]);
  return true;
}

export function isUniqueViolation(error: unknown): boolean {
  return sqlStateOf(error) === SqlState.uniqueViolation;
}
