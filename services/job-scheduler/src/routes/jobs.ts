import { type FlowJobSpec, JobQueueError, JobQueueErrorCode } from '@sysdesign/job-queue';
import { requireUser, type ServiceApp } from '@sysdesign/platform';
import { z } from 'zod';
import {
  assertKnownQueue,
  bigintId,
  checkPayload,
  eventBody,
  jobBody,
  jobIdParams,
  jobOptionsOf,
  jobOptionsSchema,
  queueName,
  type RouteContext,
  WRITE_SCOPE,
} from './context.js';

const jobStates = z.enum([
  'scheduled',
  'ready',
  'waiting',
  'running',
  'succeeded',
  'failed',
  'dead',
  'cancelled',
]);

const submitBody = z.strictObject({
  queue: queueName,
  payload: z.unknown().describe('Any JSON, at most PAYLOAD_BYTES_MAX bytes'),
  jobKey: z.string().min(1).max(512).optional().describe('Same key in the same queue: the same job'),
  ...jobOptionsSchema,
});

const dependency = z.union([
  z.string().min(1).max(128),
  z.strictObject({
    ref: z.string().min(1).max(128),
    onFailure: z.enum(['fail-parent', 'continue']).optional(),
  }),
]);

const dagJob = z.strictObject({
  ref: z.string().min(1).max(128),
  queue: queueName,
  payload: z.unknown(),
  dependsOn: z.array(dependency).max(1_000).optional(),
  ...jobOptionsSchema,
});

const listQuery = z.object({
  queue: queueName,
  state: jobStates,
  after: bigintId('a cursor from a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const idempotencyHeaders = z.object({ 'idempotency-key': z.string().min(1).max(512).optional() });

export function registerJobRoutes(app: ServiceApp, context: RouteContext): void {
  const { queue } = context;
  const writer = requireUser(context.authority, { scopes: [WRITE_SCOPE] });

  app.post(
    '/v1/jobs',
    {
      onRequest: writer,
      schema: {
        tags: ['jobs'],
        summary: 'Submit a job',
        description: `Needs scope ${WRITE_SCOPE}. 201 for a new job; 200 with the existing job when jobKey (or Idempotency-Key) matched one. Problems: JOBSCHED_ERR_UNKNOWN_QUEUE, JOBQ_ERR_PAYLOAD_TOO_LARGE, JOBQ_ERR_INVALID_OPTION, ERR_VALIDATION.`,
        headers: idempotencyHeaders,
        body: submitBody,
      },
    },
    async (request, reply) => {
      const body = request.body;
      assertKnownQueue(context, body.queue);
      checkPayload(context, body.queue, body.payload);
      const jobKey = body.jobKey ?? request.headers['idempotency-key'];
      const result = await queue.enqueue(body.queue, body.payload ?? null, {
        ...jobOptionsOf(body),
        ...(jobKey === undefined ? {} : { jobKey }),
      });
      if (result.created) context.metrics.submitted.inc({ queue: body.queue });
      reply.code(result.created ? 201 : 200);
      return { created: result.created, job: jobBody(await queue.get(result.id)) };
    },
  );

  app.post(
    '/v1/dags',
    {
      onRequest: writer,
      schema: {
        tags: ['jobs'],
        summary: 'Submit a DAG of jobs',
        description: `Needs scope ${WRITE_SCOPE}. All jobs are written in one transaction; a job runs once every job it depends on succeeded (or failed, under onFailure "continue"). Problems: JOBQ_ERR_CYCLE (details.cycle names it), JOBQ_ERR_UNKNOWN_DEPENDENCY, JOBSCHED_ERR_UNKNOWN_QUEUE.`,
        body: z.strictObject({ jobs: z.array(dagJob).min(1).max(1_000) }),
      },
    },
    async (request, reply) => {
      const jobs = request.body.jobs;
      if (jobs.length > context.limits.dagJobsMax) {
        throw new JobQueueError(
          JobQueueErrorCode.TOO_MANY_JOBS,
          `at most ${context.limits.dagJobsMax} jobs in one DAG`,
          { limit: context.limits.dagJobsMax },
        );
      }
      const specs: FlowJobSpec[] = jobs.map((job) => {
        assertKnownQueue(context, job.queue);
        checkPayload(context, job.queue, job.payload);
        return {
          ref: job.ref,
          queue: job.queue,
          payload: job.payload ?? null,
          options: jobOptionsOf(job),
          ...(job.dependsOn === undefined
            ? {}
            : {
                dependsOn: job.dependsOn.map((entry) =>
                  typeof entry === 'string'
                    ? entry
                    : { ref: entry.ref, ...(entry.onFailure ? { onFailure: entry.onFailure } : {}) },
                ),
              }),
        };
      });
      const result = await queue.flow(specs);
      for (const job of jobs) context.metrics.submitted.inc({ queue: job.queue });
      reply.code(201);
      return result;
    },
  );

  app.get(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Get a job with its history',
        description:
          'The job (state, attempts, output, error) and every state change with its time, attempt, worker and fencing token. Problems: JOBQ_ERR_NOT_FOUND.',
        params: jobIdParams,
      },
    },
    async (request) => {
      const job = await queue.get(request.params.id);
      const history = await queue.history(request.params.id);
      return { job: jobBody(job), history: history.map(eventBody) };
    },
  );

  app.get(
    '/v1/flows/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Get a DAG: its jobs and edges',
        description:
          'Nodes with their state (the oldest 1,000; `truncated` when the flow has more) and edges (from the dependency to its dependent). Problems: JOBQ_ERR_NOT_FOUND.',
        params: jobIdParams,
      },
    },
    async (request) => flowGraph(context, request.params.id),
  );

  app.post(
    '/v1/jobs/:id/cancel',
    {
      onRequest: writer,
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job',
        description: `Needs scope ${WRITE_SCOPE}. A running job's worker is told and its lease fenced. Problems: JOBQ_ERR_NOT_FOUND, JOBQ_ERR_WRONG_STATE (already finished).`,
        params: jobIdParams,
      },
    },
    async (request) => ({ job: jobBody(await queue.cancel(request.params.id)) }),
  );

  app.post(
    '/v1/jobs/:id/rerun',
    {
      onRequest: writer,
      schema: {
        tags: ['jobs'],
        summary: 'Run a finished job again',
        description: `Needs scope ${WRITE_SCOPE}. From attempt 0. Problems: JOBQ_ERR_NOT_FOUND, JOBQ_ERR_WRONG_STATE.`,
        params: jobIdParams,
      },
    },
    async (request) => ({ job: jobBody(await queue.rerun(request.params.id)) }),
  );

  app.get(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'List jobs of a queue in a state',
        description:
          'Oldest first; pass `next` back as `after` for the next page. Problems: JOBSCHED_ERR_UNKNOWN_QUEUE, ERR_VALIDATION.',
        querystring: listQuery,
      },
    },
    async (request) => {
      const { queue: name, state, after, limit } = request.query;
      assertKnownQueue(context, name);
      const page = await queue.list(name, state, { limit, ...(after === undefined ? {} : { after }) });
      return { jobs: page.jobs.map(jobBody), next: page.next };
    },
  );
}

/** A flow as the dashboard draws it: the library's jobs become nodes. */
async function flowGraph(context: RouteContext, flowId: string) {
  const graph = await context.queue.readFlow(flowId);
  return { flowId: graph.flowId, nodes: graph.jobs, edges: graph.edges, truncated: graph.truncated };
}
