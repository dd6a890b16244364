import type { Redis } from 'ioredis';
import type { Sql } from '../sql/port.js';
import type { WorkerLeaseStore, WorkerSlot } from './worker-lease.js';

/**
 * Adapters of `WorkerLeaseStore`. All three pass the same contract suite
 * (test/ids/lease-store.contract.ts). Expiry is judged by the store's clock (Postgres `now()`,
 * Redis key TTL), never by the callers', so instances with skewed clocks agree on who holds what.
 */

/** The platform migrations the Postgres store needs; apply with `migrate(sql, WORKER_LEASE_MIGRATIONS, ...)`. */
export const WORKER_LEASE_MIGRATIONS = {
  namespace: 'platform.worker-leases',
  dir: new URL('../../migrations/worker-leases', import.meta.url).pathname,
};

const ttlInterval = 'make_interval(secs => $4::double precision / 1000)';

export class PostgresWorkerLeaseStore implements WorkerLeaseStore {
  constructor(private readonly sql: Sql) {}

  async tryAcquire(slot: WorkerSlot, owner: string, ttlMs: number) {
    // Inserts a new row, or takes over an expired (or our own) lease; a live lease of someone
    // else makes the WHERE false and the statement returns no row.
    const result = await this.sql.query<{ issued_until_ms: bigint }>(
      `INSERT INTO worker_leases (datacenter_id, worker_id, owner, expires_at)
       VALUES ($1, $2, $3, now() + ${ttlInterval})
       ON CONFLICT (datacenter_id, worker_id) DO UPDATE
         SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, acquired_at = now(), renewed_at = now()
         WHERE worker_leases.expires_at <= now() OR worker_leases.owner = EXCLUDED.owner
       RETURNING issued_until_ms`,
      [slot.datacenterId, slot.workerId, owner, ttlMs],
    );
    const row = result.rows[0];
    return row ? { issuedUntilMs: Number(row.issued_until_ms) } : null;
  }

  async renew(slot: WorkerSlot, owner: string, ttlMs: number, issuedUntilMs: number) {
    const result = await this.sql.query(
      `UPDATE worker_leases
         SET expires_at = now() + ${ttlInterval}, issued_until_ms = GREATEST(issued_until_ms, $5), renewed_at = now()
       WHERE datacenter_id = $1 AND worker_id = $2 AND owner = $3
       RETURNING 1 AS renewed`,
      [slot.datacenterId, slot.workerId, owner, ttlMs, issuedUntilMs],
    );
    return result.rowCount > 0;
  }

  async release(slot: WorkerSlot, owner: string, lastIssuedMs: number) {
    await this.sql.query(
      `UPDATE worker_leases SET expires_at = now(), issued_until_ms = $4
       WHERE datacenter_id = $1 AND worker_id = $2 AND owner = $3`,
      [slot.datacenterId, slot.workerId, owner, lastIssuedMs],
    );
  }
}

/*
 * Redis layout per slot, both keys in one hash slot (Redis Cluster safe):
 *   <prefix>lease:{dc:worker}  the live lease: owner name, expiring with the lease TTL
 *   <prefix>state:{dc:worker}  hash kept forever: `holder` (last owner to take the slot) and
 *                              `reach` (the recorded reach in ms)
 * `holder` is what stops a paused ex-owner from renewing a slot that someone else took and
 * released in the meantime: the lease key alone would be gone in both cases.
 */
const ACQUIRE_SCRIPT = `
-- KEYS[1] lease key, KEYS[2] state key; ARGV[1] owner, ARGV[2] ttl ms.
-- Takes the lease when free or already ours; returns the reach, or -1 when held by another.
local rcall = redis.call
local holder = rcall('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return -1 end
rcall('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
rcall('HSET', KEYS[2], 'holder', ARGV[1])
return tonumber(rcall('HGET', KEYS[2], 'reach') or '0')
`;

const RENEW_SCRIPT = `
-- KEYS[1] lease key, KEYS[2] state key; ARGV[1] owner, ARGV[2] ttl ms, ARGV[3] reach ms.
-- Extends our lease and raises the reach (never lowers it). Returns 0 when the slot is no longer
-- ours: another owner took it since we did, whether or not its lease is still live.
local rcall = redis.call
if rcall('HGET', KEYS[2], 'holder') ~= ARGV[1] then return 0 end
rcall('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local reach = tonumber(rcall('HGET', KEYS[2], 'reach') or '0')
if tonumber(ARGV[3]) > reach then rcall('HSET', KEYS[2], 'reach', ARGV[3]) end
return 1
`;

const RELEASE_SCRIPT = `
-- KEYS[1] lease key, KEYS[2] state key; ARGV[1] owner, ARGV[2] last issued ms.
-- Ends our lease now and records the exact time of our last id.
local rcall = redis.call
if rcall('HGET', KEYS[2], 'holder') ~= ARGV[1] then return 0 end
rcall('DEL', KEYS[1])
rcall('HSET', KEYS[2], 'reach', ARGV[2])
return 1
`;

interface LeaseCommands {
  workerLeaseAcquire(leaseKey: string, stateKey: string, owner: string, ttlMs: number): Promise<number>;
  workerLeaseRenew(
    leaseKey: string,
    stateKey: string,
    owner: string,
    ttlMs: number,
    reachMs: number,
  ): Promise<number>;
  workerLeaseRelease(
    leaseKey: string,
    stateKey: string,
    owner: string,
    lastIssuedMs: number,
  ): Promise<number>;
}

export class RedisWorkerLeaseStore implements WorkerLeaseStore {
  private readonly commands: LeaseCommands;

  /** `prefix` names the id space, e.g. `id-generator:`, so two services never share slots. */
  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    if (!('workerLeaseAcquire' in redis)) {
      redis.defineCommand('workerLeaseAcquire', { numberOfKeys: 2, lua: ACQUIRE_SCRIPT });
      redis.defineCommand('workerLeaseRenew', { numberOfKeys: 2, lua: RENEW_SCRIPT });
      redis.defineCommand('workerLeaseRelease', { numberOfKeys: 2, lua: RELEASE_SCRIPT });
    }
    this.commands = redis as unknown as LeaseCommands;
  }

  private keys(slot: WorkerSlot): [string, string] {
    const tag = `{${slot.datacenterId}:${slot.workerId}}`;
    return [`${this.prefix}lease:${tag}`, `${this.prefix}state:${tag}`];
  }

  async tryAcquire(slot: WorkerSlot, owner: string, ttlMs: number) {
    const reach = await this.commands.workerLeaseAcquire(...this.keys(slot), owner, ttlMs);
    return reach < 0 ? null : { issuedUntilMs: reach };
  }

  async renew(slot: WorkerSlot, owner: string, ttlMs: number, issuedUntilMs: number) {
    return (await this.commands.workerLeaseRenew(...this.keys(slot), owner, ttlMs, issuedUntilMs)) === 1;
  }

  async release(slot: WorkerSlot, owner: string, lastIssuedMs: number) {
    await this.commands.workerLeaseRelease(...this.keys(slot), owner, lastIssuedMs);
  }
}

/** For tests and single-process use; expiry by the injected clock. */
export class MemoryWorkerLeaseStore implements WorkerLeaseStore {
  private readonly leases = new Map<string, { owner: string; expiresAtMs: number; issuedUntilMs: number }>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  private entry(slot: WorkerSlot) {
    const key = `${slot.datacenterId}:${slot.workerId}`;
    let entry = this.leases.get(key);
    if (!entry) {
      entry = { owner: '', expiresAtMs: 0, issuedUntilMs: 0 };
      this.leases.set(key, entry);
    }
    return entry;
  }

  async tryAcquire(slot: WorkerSlot, owner: string, ttlMs: number) {
    const entry = this.entry(slot);
    const now = this.nowMs();
    if (entry.owner !== owner && entry.expiresAtMs > now) return null;
    entry.owner = owner;
    entry.expiresAtMs = now + ttlMs;
    return { issuedUntilMs: entry.issuedUntilMs };
  }

  async renew(slot: WorkerSlot, owner: string, ttlMs: number, issuedUntilMs: number) {
    const entry = this.entry(slot);
    if (entry.owner !== owner) return false;
    entry.expiresAtMs = this.nowMs() + ttlMs;
    entry.issuedUntilMs = Math.max(entry.issuedUntilMs, issuedUntilMs);
    return true;
  }

  async release(slot: WorkerSlot, owner: string, lastIssuedMs: number) {
    const entry = this.entry(slot);
    if (entry.owner !== owner) return;
    entry.expiresAtMs = 0;
    entry.issuedUntilMs = lastIssuedMs;
  }
}
