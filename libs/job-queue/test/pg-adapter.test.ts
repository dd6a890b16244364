import { describeWith, postgresBackend } from '@sysdesign/testkit';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { pgPoolSql } from '../src/index.js';

const postgres = await postgresBackend();

describeWith(postgres, 'the node-postgres adapter when the server ends a session', ({ url }) => {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  const sql = pgPoolSql(pool);
  afterAll(() => pool.end());

  it('rejects a transaction whose connection is terminated between statements, and the process lives on', async () => {
    // Regression, found by the job scheduler's Postgres-restart fault test: a checked-out client
    // has no 'error' listener of the pool's, so a session ended by the server while the transaction
    // waited (a restart, a failover) emitted an unhandled 'error' and crashed the process.
    const outcome = sql.tx(async (tx) => {
      const [row] = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      await pool.query('SELECT pg_terminate_backend($1)', [row?.pid]);
      // The server's FATAL notice reaches the idle client first; then the next statement fails.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await tx.query('SELECT 1');
    });
    await expect(outcome).rejects.toThrow();
    expect((await sql.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});
