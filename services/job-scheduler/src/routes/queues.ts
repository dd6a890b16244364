import { CONCURRENCY_LIMIT_MAX, RATE_INTERVAL_MS_MAX, RATE_MAX } from '@sysdesign/job-queue';
import { requireUser, type ServiceApp } from '@sysdesign/platform';
import { z } from 'zod';
import {
  assertKnownQueue,
  bigintId,
  jobBody,
  jobIdParams,
  queueParams,
  type RouteContext,
  WRITE_SCOPE,
} from './context.js';

const HOUR_MS = 3_600_000;

/** Jobs finished per minute over the last hour (succeeded and dead), oldest minute first. */
async function throughput(context: RouteContext, queue: string, nowMs: number) {
  const since = new Date(nowMs - HOUR_MS);
  const result = await context.queue.sql.query<{ minute: Date | string; state: string; n: unknown }>(
    `SELECT date_trunc('minute', finished_at) AS minute, state, count(*) AS n
     FROM ${context.queue.schema}.jobs
     WHERE queue = $1 AND state IN ('succeeded', 'dead') AND finished_at >= $2
     GROUP BY 1, 2 ORDER BY 1`,
    [queue, since],
  );
  return result.rows.map((row) => ({
    minute: new Date(row.minute).toISOString(),
    state: row.state,
    jobs: Number(row.n),
  }));
}

export async function queueStats(context: RouteContext, queue: string) {
  const [counts, stats] = await Promise.all([context.queue.counts(queue), context.queue.stats(queue)]);
  return {
    queue,
    paused: stats.paused,
    counts,
    depth: counts.ready + counts.scheduled + counts.failed,
    limits: stats.limits,
    running: stats.running,
    startsInWindow: stats.startsInWindow,
  };
}

/** A field left out keeps its value; null removes that limit. */
const limitsBody = z.strictObject({
  concurrencyMax: z
    .number()
    .int()
    .min(1)
    .max(CONCURRENCY_LIMIT_MAX)
    .nullable()
    .optional()
    .describe('Jobs of the queue running at once across every worker; null removes the limit'),
  rate: z
    .strictObject({
      max: z.number().int().min(1).max(RATE_MAX),
      intervalMs: z.number().int().min(1).max(RATE_INTERVAL_MS_MAX),
    })
    .nullable()
    .optional()
    .describe('At most `max` starts in any window of `intervalMs`; null removes the limit'),
});

export function registerQueueRoutes(app: ServiceApp, context: RouteContext): void {
  const writer = requireUser(context.authority, { scopes: [WRITE_SCOPE] });

  app.get(
    '/v1/queues',
    { schema: { tags: ['queues'], summary: 'Every queue with its counts per state' } },
    async () => {
      const queues = [];
      for (const name of context.knownQueues) queues.push(await queueStats(context, name));
      return { queues };
    },
  );

  app.get(
    '/v1/queues/:queue/stats',
    {
      schema: {
        tags: ['queues'],
        summary: 'One queue: counts per state, paused, and jobs finished per minute over the last hour',
        description: 'Problems: JOBSCHED_ERR_UNKNOWN_QUEUE.',
        params: queueParams,
      },
    },
    async (request) => {
      const name = request.params.queue;
      assertKnownQueue(context, name);
      return {
        ...(await queueStats(context, name)),
        throughput: await throughput(context, name, context.queue.now()),
      };
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/v1/queues/:queue/${action}`,
      {
        onRequest: writer,
        schema: {
          tags: ['queues'],
          summary: action === 'pause' ? 'Pause a queue (no new claims)' : 'Resume a paused queue',
          description: `Needs scope ${WRITE_SCOPE}. Running jobs finish. Problems: JOBSCHED_ERR_UNKNOWN_QUEUE.`,
          params: queueParams,
        },
      },
      async (request) => {
        const name = request.params.queue;
        assertKnownQueue(context, name);
        if (action === 'pause') await context.queue.pause(name);
        else await context.queue.resume(name);
        return queueStats(context, name);
      },
    );
  }

  app.put(
    '/v1/queues/:queue/limits',
    {
      onRequest: writer,
      schema: {
        tags: ['queues'],
        summary: 'Set the concurrency and rate limits of a queue',
        description: `Needs scope ${WRITE_SCOPE}. Enforced by every worker's claim, exactly, whichever scheduler or worker claims. Problems: JOBSCHED_ERR_UNKNOWN_QUEUE.`,
        params: queueParams,
        body: limitsBody,
      },
    },
    async (request) => {
      const name = request.params.queue;
      assertKnownQueue(context, name);
      const { concurrencyMax, rate } = request.body;
      await context.queue.setLimits(name, {
        ...(concurrencyMax === undefined ? {} : { concurrencyMax }),
        ...(rate === undefined ? {} : { rate }),
      });
      return queueStats(context, name);
    },
  );

  app.get(
    '/v1/queues/:queue/dlq',
    {
      schema: {
        tags: ['dead letters'],
        summary: 'List the dead jobs of a queue',
        description: 'Cursor pages, oldest first. Problems: JOBSCHED_ERR_UNKNOWN_QUEUE.',
        params: queueParams,
        querystring: z.object({
          after: bigintId('a cursor from a previous page').optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
      },
    },
    async (request) => {
      const name = request.params.queue;
      assertKnownQueue(context, name);
      const { after, limit } = request.query;
      const page = await context.queue.list(name, 'dead', {
        limit,
        ...(after === undefined ? {} : { after }),
      });
      return { jobs: page.jobs.map(jobBody), next: page.next };
    },
  );

  app.post(
    '/v1/queues/:queue/dlq/replay',
    {
      onRequest: writer,
      schema: {
        tags: ['dead letters'],
        summary: 'Replay every dead job of a queue',
        description: `Needs scope ${WRITE_SCOPE}. Each runs again from attempt 0. Problems: JOBSCHED_ERR_UNKNOWN_QUEUE.`,
        params: queueParams,
      },
    },
    async (request) => {
      const name = request.params.queue;
      assertKnownQueue(context, name);
      return { replayed: await context.queue.replayAll(name) };
    },
  );

  app.post(
    '/v1/jobs/:id/replay',
    {
      onRequest: writer,
      schema: {
        tags: ['dead letters'],
        summary: 'Replay one dead job',
        description: `Needs scope ${WRITE_SCOPE}. Problems: JOBQ_ERR_NOT_FOUND, JOBQ_ERR_WRONG_STATE (not dead).`,
        params: jobIdParams,
      },
    },
    async (request) => ({ job: jobBody(await context.queue.replay(request.params.id)) }),
  );
}
