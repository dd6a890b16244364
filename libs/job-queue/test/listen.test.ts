import { describeWith, dropSchema, freshSchemaName, postgresBackend, waitFor } from '@sysdesign/testkit';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { JobQueue, pgPoolSql, Worker } from '../src/index.js';

const postgres = await postgresBackend();

describeWith(postgres, 'LISTEN on Postgres', ({ url }) => {
  const schema = freshSchemaName('jobq_listen');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const producerPool = new pg.Pool({ connectionString: url, max: 2 });
  const queue = new JobQueue({ sql: pgPoolSql(pool), schema });
  // Another process's producer: its enqueues reach the worker only through NOTIFY.
  const producer = new JobQueue({ sql: pgPoolSql(producerPool), schema });

  beforeAll(() => queue.migrate());
  afterAll(async () => {
    await pool.end();
    await producerPool.end();
    await dropSchema(url, schema);
  });

  async function listeningBackend(): Promise<number | undefined> {
    const result = await producerPool.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE query = $1 AND datname = current_database()',
      [`LISTEN "${schema}_wake"`],
    );
    return result.rows[0]?.pid;
  }

  it('holds one LISTEN connection per client, however many workers it runs, and drops it with the last', async () => {
    // Proves workers share their client's listener: the shared server's connection budget is
    // spent per process, not per worker.
    const noop = () => null;
    const workers = await Promise.all(
      ['one', 'two', 'three', 'four'].map((name) => new Worker(queue, name, noop).start()),
    );
    const listeners = await producerPool.query(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1 AND datname = current_database()',
      [`LISTEN "${schema}_wake"`],
    );
    expect(listeners.rows[0].n).toBe(1);
    await Promise.all(workers.map((worker) => worker.close()));
    await waitFor(async () => (await listeningBackend()) === undefined, 'the listener to be released');
  });

  it('listens again after its connection is killed, and still wakes on a remote enqueue', async () => {
    // Proves a broken LISTEN connection (server restart, cut network) does not leave the worker on
    // its 60 s poll: the adapter listens on a fresh connection and the next NOTIFY wakes it.
    let runs = 0;
    const count = () => {
      runs += 1;
    };
    const worker = await new Worker(queue, 'remote', count, { pollMs: 60_000 }).start();
    try {
      await producer.enqueue('remote', 1);
      await waitFor(() => runs === 1, 'the first remote job');
      const killed = await listeningBackend();
      expect(killed).toBeTypeOf('number');
      await producerPool.query('SELECT pg_terminate_backend($1)', [killed]);
      await waitFor(async () => {
        const pid = await listeningBackend();
        return pid !== undefined && pid !== killed;
      }, 'a new listening connection');
      await producer.enqueue('remote', 2);
      await waitFor(() => runs === 2, 'the second remote job', { timeoutMs: 3_000 });
    } finally {
      await worker.close();
    }
  });
});
