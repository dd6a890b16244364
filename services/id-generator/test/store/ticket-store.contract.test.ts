import { fileURLToPath } from 'node:url';
import { createPostgresSql, EmbeddedPostgres, migrate, type Sql } from '@sysdesign/platform';
import { describeWith, dropSchema, freshSchemaName, postgresBackend } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTicketStore, PostgresTicketStore, type TicketStore } from '../../src/store/ticket-store.js';

const MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url));

/** What every TicketStore must do, whatever backs it. */
function ticketStoreContract(open: (servers: number) => Promise<TicketStore>) {
  it('never hands out a ticket twice under 50 concurrent requests', async () => {
    const store = await open(2);
    const batches = await Promise.all(Array.from({ length: 50 }, () => store.nextTickets(40)));
    const all = batches.flat();
    expect(new Set(all).size).toBe(2_000);
    for (const batch of batches) expect([...batch].sort((a, b) => (a < b ? -1 : 1))).toEqual(batch);
  });

  it('gives each multi-master server its own residue class, so servers never collide', async () => {
    const store = await open(3);
    const results = await Promise.all([1, 2, 3].map((server) => store.nextFromServer(server, 100)));
    const all = results.flat();
    expect(new Set(all).size).toBe(300);
    results.forEach((ids, index) => {
      for (const id of ids) expect(id % 3n).toBe(BigInt((index + 1) % 3));
    });
  });

  it('rejects a server outside 1..k', async () => {
    const store = await open(2);
    await expect(store.nextFromServer(3, 1)).rejects.toThrow(RangeError);
    await expect(store.nextFromServer(0, 1)).rejects.toThrow(RangeError);
  });
}

/** Database-only: k changes across restarts without reusing ids. */
function reshardContract(openSql: () => Promise<Sql>) {
  it('re-lays the sequences above every issued id when the number of servers changes', async () => {
    const sql = await openSql();
    const two = await PostgresTicketStore.open(sql, 2);
    const before = [...(await two.nextFromServer(1, 10)), ...(await two.nextFromServer(2, 3))];
    const three = await PostgresTicketStore.open(sql, 3);
    const after = (await Promise.all([1, 2, 3].map((server) => three.nextFromServer(server, 5)))).flat();
    const highestBefore = [...before].sort((a, b) => (a < b ? -1 : 1)).at(-1)!;
    for (const id of after) expect(id > highestBefore).toBe(true);
    expect(new Set([...before, ...after]).size).toBe(before.length + after.length);
  });
}

describe('MemoryTicketStore', () => {
  ticketStoreContract(async (servers) => new MemoryTicketStore(servers));
});

describe('PostgresTicketStore on PGlite', () => {
  let embedded: EmbeddedPostgres;
  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
  });
  afterAll(async () => embedded.close());
  const openSql = async () => {
    const sql = await embedded.forSchema(freshSchemaName('tickets'));
    await migrate(sql, MIGRATIONS);
    return sql;
  };
  ticketStoreContract(async (servers) => PostgresTicketStore.open(await openSql(), servers));
  reshardContract(openSql);
});

describeWith(await postgresBackend(), 'PostgresTicketStore on Postgres', ({ url }) => {
  const opened: Sql[] = [];
  afterAll(async () => {
    for (const sql of opened) {
      await sql.close();
      await dropSchema(url, sql.schema);
    }
  });
  const openSql = async () => {
    const sql = await createPostgresSql({ url, schema: freshSchemaName('tickets') });
    opened.push(sql);
    await migrate(sql, MIGRATIONS);
    return sql;
  };
  ticketStoreContract(async (servers) => PostgresTicketStore.open(await openSql(), servers));
  reshardContract(openSql);
});
