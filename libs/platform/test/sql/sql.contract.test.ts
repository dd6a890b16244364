import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith, dropSchema, freshSchemaName, postgresBackend, tempDir } from '@sysdesign/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createPostgresSql,
  EmbeddedPostgres,
  MigrationError,
  migrate,
  type Sql,
  SqlState,
  sqlStateOf,
} from '../../src/index.js';

/** A way to get an Sql in a fresh schema, and to drop it again. */
interface SqlFactory {
  open(schema: string): Promise<Sql>;
  drop(schema: string): Promise<void>;
}

function sqlContract(factory: () => SqlFactory) {
  let sql: Sql;
  let schema: string;

  afterEach(async () => {
    await sql?.close();
    await factory().drop(schema);
  });

  async function open(label: string): Promise<Sql> {
    schema = freshSchemaName(label);
    sql = await factory().open(schema);
    return sql;
  }

  it('returns int8 as bigint, numeric as string, timestamptz as Date and jsonb parsed', async () => {
    // Both adapters must hand back identical JS types, or code would pass on one and break on the other.
    await open('types');
    const { rows } = await sql.query<Record<string, unknown>>(
      `SELECT $1::int8 AS big, 9223372036854775807::int8 AS max, 5::int8 AS five, ARRAY[1, 2]::int8[] AS list, 1.50::numeric AS num, now() AS at,
              '{"a":[1,2]}'::jsonb AS doc, true AS flag, NULL::text AS nothing, 42::int4 AS small`,
      [123456789012345678n],
    );
    expect(rows[0]).toMatchObject({
      big: 123456789012345678n,
      max: 9223372036854775807n,
      five: 5n,
      list: [1n, 2n],
      num: '1.50',
      flag: true,
      nothing: null,
      small: 42,
    });
    expect(rows[0]!.at).toBeInstanceOf(Date);
    expect(rows[0]!.doc).toEqual({ a: [1, 2] });
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    // The tx contract: all of work or none of it.
    await open('tx');
    await sql.script('CREATE TABLE t (x int PRIMARY KEY); CREATE TABLE u (y int)');
    await sql.tx(async (tx) => {
      await tx.query('INSERT INTO t VALUES (1)');
      await tx.query('INSERT INTO u VALUES (1)');
    });
    await expect(
      sql.tx(async (tx) => {
        await tx.query('INSERT INTO t VALUES (2)');
        await tx.query('INSERT INTO t VALUES (1)');
      }),
    ).rejects.toSatisfy((error) => sqlStateOf(error) === SqlState.uniqueViolation);
    expect((await sql.query('SELECT x FROM t ORDER BY x')).rows).toEqual([{ x: 1 }]);
  });

  it('refuses a query on the outer handle inside tx()', async () => {
    // Such a query would escape the transaction (pg) or deadlock (PGlite): a programmer error.
    await open('reentry');
    await expect(sql.tx(async () => sql.query('SELECT 1'))).rejects.toThrow(/transaction handle/);
  });

  it('reports rowCount for statements with and without rows', async () => {
    await open('rowcount');
    await sql.script('CREATE TABLE t (x int)');
    expect((await sql.query('INSERT INTO t VALUES (1), (2), (3)')).rowCount).toBe(3);
    expect((await sql.query('UPDATE t SET x = x + 1 WHERE x > 1')).rowCount).toBe(2);
    expect((await sql.query('SELECT * FROM t')).rowCount).toBe(3);
  });

  it('applies migrations once, even when two starts race, and rejects an edited migration', async () => {
    // Replicas start together; the advisory lock must make exactly one of them apply each file.
    await open('migrate');
    const dir = await tempDir('migrations-');
    writeFileSync(join(dir, '001_create_items.sql'), 'CREATE TABLE items (id int PRIMARY KEY);');
    writeFileSync(
      join(dir, '002_seed_items.sql'),
      'INSERT INTO items VALUES (1); INSERT INTO items VALUES (2);',
    );
    const second = await factory().open(schema);
    try {
      const [first, other] = await Promise.all([migrate(sql, dir), migrate(second, dir)]);
      expect([...first, ...other].sort()).toEqual(['001_create_items', '002_seed_items']);
    } finally {
      await second.close();
    }
    expect(await migrate(sql, dir)).toEqual([]);
    expect((await sql.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 2 }]);
    writeFileSync(join(dir, '002_seed_items.sql'), 'INSERT INTO items VALUES (3);');
    await expect(migrate(sql, dir)).rejects.toThrow(MigrationError);
  });

  it('keeps namespaced migration sources apart', async () => {
    await open('namespaces');
    const root = await tempDir('migrations-');
    mkdirSync(join(root, 'a'));
    mkdirSync(join(root, 'b'));
    writeFileSync(join(root, 'a', '001_one.sql'), 'CREATE TABLE a1 (x int);');
    writeFileSync(join(root, 'b', '001_one.sql'), 'CREATE TABLE b1 (x int);');
    const applied = await migrate(sql, { namespace: 'lib', dir: join(root, 'a') }, join(root, 'b'));
    expect(applied).toEqual(['lib/001_one', '001_one']);
  });
}

describe('Sql on embedded PGlite', () => {
  let embedded: EmbeddedPostgres;
  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
  });
  afterAll(async () => {
    await embedded.close();
  });

  sqlContract(() => ({
    open: (schema) => embedded.forSchema(schema),
    drop: async (schema) => {
      const admin = await embedded.forSchema('public');
      await admin.script(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  }));

  it('keeps services in their own schemas while they share one connection', async () => {
    // One PGlite serves every service in start-all; interleaved queries must never cross schemas.
    const a = await embedded.forSchema(freshSchemaName('a'));
    const b = await embedded.forSchema(freshSchemaName('b'));
    await a.script('CREATE TABLE t (owner text)');
    await b.script('CREATE TABLE t (owner text)');
    await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        index % 2 === 0 ? a.query(`INSERT INTO t VALUES ('a')`) : b.query(`INSERT INTO t VALUES ('b')`),
      ),
    );
    expect((await a.query('SELECT DISTINCT owner FROM t')).rows).toEqual([{ owner: 'a' }]);
    expect((await b.query('SELECT DISTINCT owner FROM t')).rows).toEqual([{ owner: 'b' }]);
  });

  it('keeps data across a close and reopen of an on-disk database', async () => {
    // The embedded default persists under ./data; a restart must lose nothing.
    const dir = await tempDir('pglite-');
    const first = await EmbeddedPostgres.open(dir);
    const sql = await first.forSchema('svc');
    await sql.script('CREATE TABLE kept (x int); INSERT INTO kept VALUES (7);');
    await first.close();
    const second = await EmbeddedPostgres.open(dir);
    const again = await second.forSchema('svc');
    expect((await again.query('SELECT x FROM kept')).rows).toEqual([{ x: 7 }]);
    await second.close();
  });
});

describeWith(await postgresBackend(), 'Sql on Postgres', ({ url }) => {
  sqlContract(() => ({
    open: (schema) => createPostgresSql({ url, schema }),
    drop: (schema) => dropSchema(url, schema),
  }));
});
