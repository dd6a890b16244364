import {
  deleteRedisPrefix,
  describeWith,
  dropSchema,
  freshRedisPrefix,
  freshSchemaName,
  postgresBackend,
  redisBackend,
} from '@sysdesign/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPostgresSql,
  createRedis,
  EmbeddedPostgres,
  MemoryWorkerLeaseStore,
  migrate,
  PostgresWorkerLeaseStore,
  RedisWorkerLeaseStore,
  type Sql,
  WORKER_LEASE_MIGRATIONS,
  type WorkerLeaseStore,
} from '../../src/index.js';

/** Long enough that a lease cannot lapse mid-test on a loaded machine. */
const LIVE_TTL_MS = 60_000;
/** Short, for the one test that waits for an expiry. */
const EXPIRING_TTL_MS = 300;
const slot = { datacenterId: 1, workerId: 5 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The semantics every lease store must share; expiry is real (store-side clocks), so TTLs are short. */
function leaseStoreContract(open: () => Promise<WorkerLeaseStore>) {
  let store: WorkerLeaseStore;
  beforeAll(async () => {
    store = await open();
  });

  it('grants a free slot, refuses it to others while live, and lets the holder take it again', async () => {
    const s = { ...slot, workerId: 1 };
    expect(await store.tryAcquire(s, 'a', LIVE_TTL_MS)).toEqual({ issuedUntilMs: 0 });
    expect(await store.tryAcquire(s, 'b', LIVE_TTL_MS)).toBeNull();
    expect(await store.tryAcquire(s, 'a', LIVE_TTL_MS)).toEqual({ issuedUntilMs: 0 });
  });

  it('raises the recorded reach on renew, never lowers it, and renews only for the holder', async () => {
    const s = { ...slot, workerId: 2 };
    await store.tryAcquire(s, 'a', LIVE_TTL_MS);
    expect(await store.renew(s, 'a', LIVE_TTL_MS, 5_000)).toBe(true);
    expect(await store.renew(s, 'a', LIVE_TTL_MS, 4_000)).toBe(true);
    expect(await store.renew(s, 'b', LIVE_TTL_MS, 9_000)).toBe(false);
    expect(await store.tryAcquire(s, 'a', LIVE_TTL_MS)).toEqual({ issuedUntilMs: 5_000 });
  });

  it('hands an expired slot to a new owner with the old reach, and the old owner cannot renew it back', async () => {
    // The zombie case: the old holder paused past its TTL; it must find the slot gone, even
    // after the new holder released it.
    const s = { ...slot, workerId: 3 };
    await store.tryAcquire(s, 'old', EXPIRING_TTL_MS);
    await store.renew(s, 'old', EXPIRING_TTL_MS, 7_000);
    await sleep(EXPIRING_TTL_MS + 100);
    expect(await store.tryAcquire(s, 'new', LIVE_TTL_MS)).toEqual({ issuedUntilMs: 7_000 });
    await store.release(s, 'new', 8_000);
    expect(await store.renew(s, 'old', LIVE_TTL_MS, 9_000)).toBe(false);
  });

  it('frees the slot at release and records the exact last issued time', async () => {
    const s = { ...slot, workerId: 4 };
    await store.tryAcquire(s, 'a', 60_000);
    await store.renew(s, 'a', 60_000, 50_000);
    await store.release(s, 'a', 12_345);
    expect(await store.tryAcquire(s, 'b', LIVE_TTL_MS)).toEqual({ issuedUntilMs: 12_345 });
  });

  it('gives a contested slot to exactly one of 20 racing owners', async () => {
    const s = { ...slot, workerId: 6 };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => store.tryAcquire(s, `owner-${index}`, 60_000)),
    );
    expect(results.filter((result) => result !== null)).toHaveLength(1);
  });
}

describe('MemoryWorkerLeaseStore', () => {
  leaseStoreContract(async () => new MemoryWorkerLeaseStore());
});

describe('PostgresWorkerLeaseStore on PGlite', () => {
  let embedded: EmbeddedPostgres;
  afterAll(async () => embedded?.close());
  leaseStoreContract(async () => {
    embedded = await EmbeddedPostgres.open('memory');
    const sql = await embedded.forSchema('leases');
    await migrate(sql, WORKER_LEASE_MIGRATIONS);
    return new PostgresWorkerLeaseStore(sql);
  });
});

describeWith(await postgresBackend(), 'PostgresWorkerLeaseStore on Postgres', ({ url }) => {
  const schema = freshSchemaName('leases');
  let sql: Sql;
  afterAll(async () => {
    await sql?.close();
    await dropSchema(url, schema);
  });
  leaseStoreContract(async () => {
    sql = await createPostgresSql({ url, schema });
    await migrate(sql, WORKER_LEASE_MIGRATIONS);
    return new PostgresWorkerLeaseStore(sql);
  });
});

describeWith(await redisBackend(), 'RedisWorkerLeaseStore', ({ url }) => {
  const prefix = freshRedisPrefix('leases');
  let redis: Redis;
  afterAll(async () => {
    redis?.disconnect();
    await deleteRedisPrefix(url, prefix);
  });
  leaseStoreContract(async () => {
    redis = await createRedis({ url });
    return new RedisWorkerLeaseStore(redis, prefix);
  });
});
