import type { Redis } from 'ioredis';

/**
 * Presence by heartbeat, and with it the session registry: each open socket is a session that
 * stays alive until `ttlMs` after its last heartbeat. A user is online while any session of
 * theirs, on any instance, is alive; a crashed instance's sessions simply expire. Redis when
 * configured (shared by every instance), a map otherwise.
 */

export interface PresenceStatus {
  online: boolean;
  lastActiveMs: number | null;
}

export interface PresenceStore {
  heartbeat(userId: string, sessionId: string, nowMs: number): Promise<void>;
  end(userId: string, sessionId: string, nowMs: number): Promise<void>;
  status(userIds: readonly string[], nowMs: number): Promise<Map<string, PresenceStatus>>;
}

/** Last-active times outlive sessions by far; a month is what "last seen" pages show. */
const LAST_ACTIVE_TTL_MS = 30 * 24 * 60 * 60 * 1_000;

export class MemoryPresenceStore implements PresenceStore {
  private readonly sessions = new Map<string, Map<string, number>>();
  private readonly lastActive = new Map<string, number>();

  constructor(private readonly ttlMs: number) {}

  async heartbeat(userId: string, sessionId: string, nowMs: number): Promise<void> {
    let sessions = this.sessions.get(userId);
    if (!sessions) {
      sessions = new Map();
      this.sessions.set(userId, sessions);
    }
    sessions.set(sessionId, nowMs + this.ttlMs);
    this.lastActive.set(userId, nowMs);
  }

  async end(userId: string, sessionId: string, nowMs: number): Promise<void> {
    const sessions = this.sessions.get(userId);
    if (!sessions) return;
    sessions.delete(sessionId);
    this.lastActive.set(userId, nowMs);
    if (sessions.size === 0) this.sessions.delete(userId);
  }

  async status(userIds: readonly string[], nowMs: number): Promise<Map<string, PresenceStatus>> {
    const statuses = new Map<string, PresenceStatus>();
    for (const userId of userIds) {
      const sessions = this.sessions.get(userId);
      let online = false;
      for (const [sessionId, expiresMs] of sessions ?? []) {
        if (expiresMs > nowMs) online = true;
        else sessions?.delete(sessionId);
      }
      if (sessions && sessions.size === 0) this.sessions.delete(userId);
      statuses.set(userId, { online, lastActiveMs: this.lastActive.get(userId) ?? null });
    }
    return statuses;
  }
}

/** Per user: a sorted set of session ids scored by expiry, and a last-active time. */
export class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  private sessionsKey(userId: string): string {
    return `${this.prefix}presence:sessions:${userId}`;
  }

  private lastKey(userId: string): string {
    return `${this.prefix}presence:last:${userId}`;
  }

  async heartbeat(userId: string, sessionId: string, nowMs: number): Promise<void> {
    const key = this.sessionsKey(userId);
    await this.redis
      .multi()
      .zadd(key, nowMs + this.ttlMs, sessionId)
      .zremrangebyscore(key, '-inf', nowMs)
      .pexpire(key, this.ttlMs)
      .set(this.lastKey(userId), nowMs, 'PX', LAST_ACTIVE_TTL_MS)
      .exec();
  }

  async end(userId: string, sessionId: string, nowMs: number): Promise<void> {
    await this.redis
      .multi()
      .zrem(this.sessionsKey(userId), sessionId)
      .set(this.lastKey(userId), nowMs, 'PX', LAST_ACTIVE_TTL_MS)
      .exec();
  }

  async status(userIds: readonly string[], nowMs: number): Promise<Map<string, PresenceStatus>> {
    const pipeline = this.redis.pipeline();
    for (const userId of userIds) {
      pipeline.zcount(this.sessionsKey(userId), `(${nowMs}`, '+inf');
      pipeline.get(this.lastKey(userId));
    }
    const results = (await pipeline.exec()) ?? [];
    const statuses = new Map<string, PresenceStatus>();
    userIds.forEach((userId, index) => {
      const [countError, count] = results[index * 2] ?? [null, 0];
      const [lastError, last] = results[index * 2 + 1] ?? [null, null];
      if (countError) throw countError;
      if (lastError) throw lastError;
      statuses.set(userId, {
        online: Number(count) > 0,
        lastActiveMs: typeof last === 'string' ? Number(last) : null,
      });
    });
    return statuses;
  }
}
