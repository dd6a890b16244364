/**
 * A library worker in its own process for the Postgres-restart fault suite: it runs the `lib`
 * queue of JOB_QUEUE_SCHEMA on DATABASE_URL through `@sysdesign/job-queue` (not the service), plus
 * a cron ticker of its own beside the service's. Its safety poll is ten minutes, so once its queue
 * is idle only a NOTIFY on a live LISTEN connection wakes it. Each handler sleeps HANDLER_MS and
 * returns its fence, so the test can check that the completion that counted carried the job's
 * current token. It serves `GET /ready` and `GET /stats` on PORT.
 */
import { createServer } from 'node:http';
import { CronScheduler, JobQueue, pgPoolSql, Worker } from '@sysdesign/job-queue';
import pg from 'pg';

const workerId = process.env.WORKER_ID as string;
const handlerMs = Number(process.env.HANDLER_MS);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
let errors = 0;
/** Logged to stderr, so a failing test shows what the worker saw. */
const note = (line: string) => {
  errors += 1;
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
};
// An idle pooled connection breaks when the server restarts: without a listener that would crash us.
pool.on('error', (error) => note(`idle: ${error.message}`));
const logger = {
  debug() {},
  info() {},
  warn(_object: object, message?: string) {
    note(`warn: ${message}`);
  },
  error(object: object, message?: string) {
    note(`error: ${message}: ${String((object as { err?: Error }).err?.message)}`);
  },
};
const queue = new JobQueue({ sql: pgPoolSql(pool), schema: process.env.JOB_QUEUE_SCHEMA as string });
const worker = new Worker(
  queue,
  'lib',
  async (_job, context) => {
    await new Promise((resolve) => setTimeout(resolve, handlerMs));
    return { by: workerId, fence: context.fence };
  },
  {
    workerId,
    concurrency: 4,
    leaseMs: 1_500,
    heartbeatMs: 400,
    reapMs: 300,
    pollMs: 600_000,
    logger,
  },
);
await worker.start();
const cron = new CronScheduler(queue, {
  pollMs: 200,
  onError: (error) => note(`cron: ${(error as Error).message}`),
});
cron.start();

const server = createServer((request, response) => {
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify(request.url === '/stats' ? { ...worker.stats, errors } : { ready: true }));
});
server.listen(Number(process.env.PORT), '127.0.0.1');

process.on('SIGTERM', () => {
  void Promise.all([worker.close({ graceMs: 1_000 }), cron.close()]).then(async () => {
    server.close();
    await pool.end();
    process.exit(0);
  });
});
