import { requireUser, type ServiceApp, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import { errors } from '../errors.js';
import type { PushWorker, PushWorkerStore } from '../store/push-workers.js';
import type { PushDispatcher } from '../workers/push-dispatcher.js';
import { assertKnownQueue, jobIdParams, queueName, type RouteContext, WORK_SCOPE } from './context.js';

/** Registration and heartbeats of push workers (scope jobs:work): the scheduler calls them. */

export interface PushRoutesContext {
  store: PushWorkerStore;
  dispatcher: PushDispatcher;
  workersMax: number;
  heartbeatTtlMs: number;
}

function workerBody(worker: PushWorker, nowMs: number, heartbeatTtlMs: number) {
  return {
    id: worker.id,
    queue: worker.queue,
    url: worker.url,
    concurrency: worker.concurrency,
    owner: worker.owner,
    registeredAt: worker.registeredAt.toISOString(),
    lastHeartbeatAt: worker.lastHeartbeatAt.toISOString(),
    live: nowMs - worker.lastHeartbeatAt.getTime() <= heartbeatTtlMs,
  };
}

export function registerWorkerRoutes(app: ServiceApp, context: RouteContext, push: PushRoutesContext): void {
  const worker = requireUser(context.authority, { scopes: [WORK_SCOPE] });
  const now = () => context.queue.nowDate();

  app.post(
    '/v1/workers',
    {
      onRequest: worker,
      schema: {
        tags: ['push workers'],
        summary: 'Register a push worker',
        description: `Needs scope ${WORK_SCOPE}. The scheduler POSTs each job of the queue to the URL (only hosts on CALLBACK_ALLOWLIST). Heartbeat at least every WORKER_HEARTBEAT_TTL_MS. Problems: JOBSCHED_ERR_HOST_NOT_ALLOWED, JOBSCHED_ERR_UNKNOWN_QUEUE, JOBSCHED_ERR_TOO_MANY_WORKERS.`,
        body: z.strictObject({
          queue: queueName,
          url: z.string().min(1).max(2_048),
          concurrency: z.number().int().min(1).max(256).default(4),
        }),
      },
    },
    async (request, reply) => {
      const body = request.body;
      assertKnownQueue(context, body.queue);
      context.allowlist.checkUrl(body.url);
      if ((await push.store.count()) >= push.workersMax)
        throw errors.JOBSCHED_ERR_TOO_MANY_WORKERS(`at most ${push.workersMax} push workers`, {
          limit: push.workersMax,
        });
      const registered = await push.store.register(
        { queue: body.queue, url: body.url, concurrency: body.concurrency, owner: userOf(request).id },
        now(),
      );
      await push.dispatcher.requestSync();
      reply.code(201);
      return workerBody(registered, context.queue.now(), push.heartbeatTtlMs);
    },
  );

  app.get('/v1/workers', { schema: { tags: ['push workers'], summary: 'List push workers' } }, async () => ({
    workers: (await push.store.list(push.workersMax)).map((entry) =>
      workerBody(entry, context.queue.now(), push.heartbeatTtlMs),
    ),
  }));

  app.post(
    '/v1/workers/:id/heartbeat',
    {
      onRequest: worker,
      schema: {
        tags: ['push workers'],
        summary: 'A push worker is alive',
        description: `Needs scope ${WORK_SCOPE}. Problems: JOBSCHED_ERR_WORKER_NOT_FOUND.`,
        params: jobIdParams,
      },
    },
    async (request) => {
      const found = await push.store.heartbeat(request.params.id, now());
      if (!found) throw errors.JOBSCHED_ERR_WORKER_NOT_FOUND(`no push worker ${request.params.id}`);
      return workerBody(found, context.queue.now(), push.heartbeatTtlMs);
    },
  );

  app.delete(
    '/v1/workers/:id',
    {
      onRequest: worker,
      schema: {
        tags: ['push workers'],
        summary: 'Deregister a push worker',
        description: `Needs scope ${WORK_SCOPE}. Jobs in flight to it finish or time out. Problems: JOBSCHED_ERR_WORKER_NOT_FOUND.`,
        params: jobIdParams,
      },
    },
    async (request, reply) => {
      if (!(await push.store.remove(request.params.id)))
        throw errors.JOBSCHED_ERR_WORKER_NOT_FOUND(`no push worker ${request.params.id}`);
      await push.dispatcher.requestSync();
      reply.code(204);
    },
  );
}
