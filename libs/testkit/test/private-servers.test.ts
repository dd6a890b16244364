import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type PrivateServer, privatePostgres, privateRedis } from '../src/index.js';

/**
 * The private servers tests restart, kill and flush: they start, keep or lose data the way their
 * options say, a kill reaches connected clients, and nothing of them outlives the test.
 */

async function withRedis<T>(url: string, body: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis.connect();
  try {
    return await body(redis);
  } finally {
    redis.disconnect();
  }
}

async function withPostgres<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Servers of the previous test, checked by the next one. */
const leftBehind: { pid: number; dir: string }[] = [];

function remember(server: PrivateServer): void {
  leftBehind.push({ pid: server.pid!, dir: server.dir });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('privateRedis', () => {
  it('keeps writes across a restart with the append-only file, and loses them without it', async () => {
    // Snapshots are off (--save ""), so only `appendOnly: true` carries a key over a clean restart.
    const durable = await privateRedis({ appendOnly: true });
    const volatile = await privateRedis();
    for (const server of [durable, volatile]) await withRedis(server.url, (redis) => redis.set('k', 'v'));
    await Promise.all([durable.restart(), volatile.restart()]);
    expect(await withRedis(durable.url, (redis) => redis.get('k'))).toBe('v');
    expect(await withRedis(volatile.url, (redis) => redis.get('k'))).toBeNull();
    remember(durable);
    remember(volatile);
  });

  it('fails a connected client when killed, answers again once started, and left nothing from the last test', async () => {
    // The previous test's servers are gone with their directories; a SIGKILL is seen by a client
    // mid-connection; start() brings the server back on the same port.
    for (const { pid, dir } of leftBehind.splice(0)) {
      expect(alive(pid)).toBe(false);
      expect(existsSync(dir)).toBe(false);
    }
    const server = await privateRedis();
    const redis = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    expect(await redis.ping()).toBe('PONG');
    await server.kill();
    expect(server.running).toBe(false);
    await expect(redis.ping()).rejects.toThrow();
    redis.disconnect();
    await server.start();
    expect(await withRedis(server.url, (client) => client.ping())).toBe('PONG');
  });
});

describe('privatePostgres', () => {
  it('applies settings, and keeps committed rows across a restart and across a kill', async () => {
    // max_prepared_transactions is the setting the shared server lacks (2PC tests need it). A
    // committed row survives a fast shutdown and a SIGKILL (crash recovery replays the WAL).
    const server = await privatePostgres({ settings: { max_prepared_transactions: 5 } });
    await withPostgres(server.url, async (client) => {
      expect((await client.query('SHOW max_prepared_transactions')).rows[0]).toEqual({
        max_prepared_transactions: '5',
      });
      await client.query('CREATE TABLE kept (id int PRIMARY KEY)');
      await client.query('INSERT INTO kept VALUES (1)');
    });
    await server.restart();
    await withPostgres(server.url, (client) => client.query('INSERT INTO kept VALUES (2)'));
    await server.kill();
    await server.start();
    const rows = await withPostgres(server.url, (client) => client.query('SELECT id FROM kept ORDER BY id'));
    expect(rows.rows).toEqual([{ id: 1 }, { id: 2 }]);
    remember(server);
  }, 60_000);

  it('fails a connected client when killed, and left nothing from the last test', async () => {
    // The previous cluster's postmaster is gone with its directory; a kill ends an open session.
    for (const { pid, dir } of leftBehind.splice(0)) {
      expect(alive(pid)).toBe(false);
      expect(existsSync(dir)).toBe(false);
    }
    const server = await privatePostgres();
    const client = new pg.Client({ connectionString: server.url });
    client.on('error', () => undefined);
    await client.connect();
    await server.kill();
    await expect(client.query('SELECT 1')).rejects.toThrow();
    await client.end().catch(() => undefined);
  }, 60_000);
});
