import { isJobQueueError, type Job, JobQueueErrorCode } from '@sysdesign/job-queue';
import { requireUser, type ServiceApp, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import {
  assertKnownQueue,
  bigintId,
  jobBody,
  jobIdParams,
  queueParams,
  type RouteContext,
  WORK_SCOPE,
} from './context.js';

/**
 * Pull workers: lease due jobs over HTTP, then heartbeat, complete or fail each with the fencing
 * token the lease gave. A stale token (the lease lapsed and the job went back, or it was
 * cancelled, or it was completed already) is refused with 409 JOBQ_ERR_FENCED, so a worker that
 * lost its lease can never record an outcome.
 */

const fence = bigintId('the fencing token a lease returned');
const workerName = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1 to 64 of A-Z, a-z, 0-9, ".", "_", ":" and "-"');

async function countFenced<T>(context: RouteContext, action: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isJobQueueError(error, JobQueueErrorCode.FENCED)) context.metrics.fencingRefusals.inc({ action });
    throw error;
  }
}

/** A job a pull worker finished (succeeded, or dead after its last attempt) adds its attempts to the histogram. */
function observeFinished(context: RouteContext, job: Job): Job {
  if (job.state === 'succeeded' || job.state === 'dead')
    context.metrics.attempts.observe({ queue: job.queue, state: job.state }, job.attempts);
  return job;
}

export function registerLeaseRoutes(app: ServiceApp, context: RouteContext): void {
  const worker = requireUser(context.authority, { scopes: [WORK_SCOPE] });
  const { queue, limits } = context;

  app.post(
    '/v1/queues/:queue/lease',
    {
      onRequest: worker,
      schema: {
        tags: ['pull workers'],
        summary: 'Lease due jobs',
        description: `Needs scope ${WORK_SCOPE}. Each job comes with its fencing token (fence). Answers an empty list when nothing is due. Problems: JOBSCHED_ERR_UNKNOWN_QUEUE.`,
        params: queueParams,
        body: z.strictObject({
          limit: z.number().int().min(1).max(1_000).default(1),
          leaseMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
          worker: workerName
            .optional()
            .describe('Names the worker in the job history; default the token subject'),
        }),
      },
    },
    async (request) => {
      const name = request.params.queue;
      assertKnownQueue(context, name);
      const body = request.body;
      const user = userOf(request);
      const jobs = await queue.lease(name, {
        limit: Math.min(body.limit, limits.leaseBatchMax),
        leaseMs: Math.min(body.leaseMs, limits.leaseMsMax),
        worker: `${user.id.slice(0, 64)}/${body.worker ?? 'http'}`,
      });
      context.metrics.leased.inc({ queue: name }, jobs.length);
      return { jobs: jobs.map(jobBody) };
    },
  );

  app.post(
    '/v1/jobs/:id/heartbeat',
    {
      onRequest: worker,
      schema: {
        tags: ['pull workers'],
        summary: 'Extend a lease',
        description: `Needs scope ${WORK_SCOPE}. Problems: JOBQ_ERR_FENCED (409) when the token is stale.`,
        params: jobIdParams,
        body: z.strictObject({ fence, leaseMs: z.number().int().min(1_000).max(3_600_000).default(30_000) }),
      },
    },
    async (request) => {
      const { id } = request.params;
      const leaseMs = Math.min(request.body.leaseMs, limits.leaseMsMax);
      await countFenced(context, 'heartbeat', () => queue.heartbeat(id, request.body.fence, leaseMs));
      return { id, leaseMs };
    },
  );

  app.post(
    '/v1/jobs/:id/complete',
    {
      onRequest: worker,
      schema: {
        tags: ['pull workers'],
        summary: 'Complete a leased job',
        description: `Needs scope ${WORK_SCOPE}. Problems: JOBQ_ERR_FENCED (409) for a stale token or a second completion, JOBQ_ERR_PAYLOAD_TOO_LARGE.`,
        params: jobIdParams,
        body: z.strictObject({ fence, output: z.unknown().optional() }),
      },
    },
    async (request) => {
      const { id } = request.params;
      const output = (request.body.output ?? null) as Parameters<typeof queue.complete>[2];
      await countFenced(context, 'complete', () => queue.complete(id, request.body.fence, output));
      context.metrics.outcomes.inc({ outcome: 'complete' });
      return { job: jobBody(observeFinished(context, await queue.get(id))) };
    },
  );

  app.post(
    '/v1/jobs/:id/fail',
    {
      onRequest: worker,
      schema: {
        tags: ['pull workers'],
        summary: 'Fail a leased job',
        description: `Needs scope ${WORK_SCOPE}. It retries after its backoff, or goes dead when its attempts are spent or permanent is true. Problems: JOBQ_ERR_FENCED (409).`,
        params: jobIdParams,
        body: z.strictObject({
          fence,
          error: z.strictObject({
            message: z.string().max(2_000),
            code: z.string().max(128).optional(),
          }),
          permanent: z.boolean().default(false),
        }),
      },
    },
    async (request) => {
      const { id } = request.params;
      const { error, permanent } = request.body;
      const record = { message: error.message, ...(error.code === undefined ? {} : { code: error.code }) };
      await countFenced(context, 'fail', () => queue.fail(id, request.body.fence, record, { permanent }));
      context.metrics.outcomes.inc({ outcome: 'fail' });
      return { job: jobBody(observeFinished(context, await queue.get(id))) };
    },
  );
}
