import { describeWith, dropSchema, freshSchemaName, postgresBackend } from '@sysdesign/testkit';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { JobQueue, pgPoolSql } from '../src/index.js';

const postgres = await postgresBackend();

describeWith(postgres, 'the node-postgres adapter', ({ url }) => {
  const schemas: string[] = [];
  const pools: pg.Pool[] = [];
  afterAll(async () => {
    for (const pool of pools) await pool.end();
    for (const schema of schemas) await dropSchema(url, schema);
  });

  /** One connection, so the statements it prepared are the ones pg_prepared_statements lists. */
  async function run(prepare: boolean): Promise<string[]> {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pools.push(pool);
    const schema = freshSchemaName('jobq_adapter');
    schemas.push(schema);
    const queue = new JobQueue({ sql: pgPoolSql(pool, { prepare }), schema });
    await queue.migrate();
    for (let round = 0; round < 3; round += 1) {
      await queue.enqueueMany([{ queue: 'a', payload: { round } }]);
      const [job] = await queue.lease('a', { limit: 1, worker: 'w', leaseMs: 10_000 });
      expect(job?.payload).toEqual({ round });
      await queue.complete(job?.id as string, job?.fence as string, { round });
    }
    expect((await queue.counts('a')).succeeded).toBe(3);
    const prepared = await pool.query<{ name: string }>(
      'SELECT name FROM pg_prepared_statements ORDER BY name',
    );
    return prepared.rows.map((row) => row.name);
  }

  it('runs the library as named statements, each prepared once per connection', async () => {
    // Proves the statements are named (the server lists them) and reused: three rounds of
    // enqueue, lease and complete leave one prepared statement per distinct text, not per call.
    const names = await run(true);
    expect(names.length).toBeGreaterThan(3);
    expect(names.every((name) => /^jobq_[0-9a-f]{24}$/.test(name))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeLessThan(20);
  });

  it('prepares nothing with prepare: false, and works the same', async () => {
    // Proves the opt-out for poolers that do not keep session state (PgBouncer in transaction mode).
    expect(await run(false)).toEqual([]);
  });
});
