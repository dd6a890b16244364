import { describeWith, dropSchema, freshSchemaName, postgresBackend } from '@sysdesign/testkit';
import pg from 'pg';
import { expect, it } from 'vitest';
import { BackendUnavailableError, createPostgresSql } from '../../src/index.js';

const postgres = await postgresBackend();

describeWith(postgres, 'Sql on Postgres when the server ends a session mid-transaction', ({ url }) => {
  it('rejects the transaction as backend-unavailable, and the process lives on', async () => {
    // Regression, found by the job scheduler's Postgres-restart fault test: a checked-out client
    // has no 'error' listener of the pool's, so a session ended by the server while the transaction
    // waited (a restart, a failover) emitted an unhandled 'error' and crashed the service.
    const schema = freshSchemaName('sql_session_ended');
    const sql = await createPostgresSql({ url, schema, maxConnections: 2 });
    const killer = new pg.Client({ connectionString: url });
    await killer.connect();
    try {
      const outcome = sql.tx(async (tx) => {
        const [row] = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
        await killer.query('SELECT pg_terminate_backend($1)', [row?.pid]);
        // The server's FATAL notice reaches the idle client first; then the next statement fails.
        await new Promise((resolve) => setTimeout(resolve, 200));
        await tx.query('SELECT 1');
      });
      await expect(outcome).rejects.toBeInstanceOf(BackendUnavailableError);
      expect((await sql.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await killer.end();
      await sql.close();
      await dropSchema(url, schema);
    }
  });
});
