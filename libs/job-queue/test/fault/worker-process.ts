/**
 * A worker in its own process for the fault suite: it runs the `fault` queue of SCHEMA on
 * DATABASE_URL with a short lease, and each job's side effect is a fenced write (the highest
 * fence wins). It serves `GET /ready` and `GET /stats` on PORT so the test can watch it.
 */
import { createServer } from 'node:http';
import pg from 'pg';
import { JobQueue, pgPoolSql, Worker } from '../../src/index.js';

const schema = process.env.SCHEMA as string;
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
const queue = new JobQueue({ sql: pgPoolSql(pool), schema });
const workerId = process.env.WORKER_ID as string;
const handlerMs = Number(process.env.HANDLER_MS);

const worker = new Worker(
  queue,
  'fault',
  async (job, context) => {
    await new Promise((resolve) => setTimeout(resolve, handlerMs));
    // The effect store refuses a write carrying a lower fence than one it already holds.
    await pool.query(
      `INSERT INTO ${schema}.effects (job_id, fence, written_by) VALUES ($1, $2, $3)
       ON CONFLICT (job_id) DO UPDATE SET fence = EXCLUDED.fence, written_by = EXCLUDED.written_by
       WHERE effects.fence < EXCLUDED.fence`,
      [job.id, context.fence, workerId],
    );
    return { by: workerId };
  },
  { workerId, leaseMs: 1_000, heartbeatMs: 300, reapMs: 200, pollMs: 500 },
);
await worker.start();

const server = createServer((request, response) => {
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify(request.url === '/stats' ? worker.stats : { ready: true }));
});
server.listen(Number(process.env.PORT), '127.0.0.1');

process.on('SIGTERM', () => {
  void worker.close({ graceMs: 1_000 }).then(async () => {
    server.close();
    await pool.end();
    process.exit(0);
  });
});
