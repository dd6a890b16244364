import type { Schedule } from '@sysdesign/job-queue';
import { requireUser, type ServiceApp } from '@sysdesign/platform';
import { z } from 'zod';
import { errors } from '../errors.js';
import {
  assertKnownQueue,
  checkPayload,
  jobOptionsOf,
  jobOptionsSchema,
  queueName,
  type RouteContext,
  WRITE_SCOPE,
} from './context.js';

const nameParams = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1 to 128 of A-Z, a-z, 0-9, ".", "_", ":" and "-"'),
});

const { delayMs: _delay, runAt: _runAt, ...scheduleJobOptions } = jobOptionsSchema;

const scheduleBody = z.strictObject({
  queue: queueName,
  cron: z.string().min(1).max(256).describe('5 fields (minute first) or 6 (second first)'),
  timeZone: z.string().min(1).max(64).default('UTC').describe('IANA zone'),
  payload: z.unknown(),
  missedTicks: z
    .enum(['skip', 'catch-up'])
    .default('skip')
    .describe('After downtime: the latest tick, or each'),
  ...scheduleJobOptions,
});

function scheduleBodyOf(schedule: Schedule) {
  return {
    name: schedule.name,
    queue: schedule.queue,
    cron: schedule.cron,
    timeZone: schedule.timeZone,
    missedTicks: schedule.missedTicks,
    payload: schedule.payload,
    options: schedule.options,
    nextTickAt: schedule.nextTickAt.toISOString(),
  };
}

export function registerScheduleRoutes(app: ServiceApp, context: RouteContext): void {
  const writer = requireUser(context.authority, { scopes: [WRITE_SCOPE] });
  const { cron } = context;

  app.get('/v1/schedules', { schema: { tags: ['schedules'], summary: 'List cron schedules' } }, async () => ({
    schedules: (await cron.list()).slice(0, context.limits.schedulesMax).map(scheduleBodyOf),
  }));

  app.get(
    '/v1/schedules/:name',
    {
      schema: {
        tags: ['schedules'],
        summary: 'Get a cron schedule',
        description: 'Problems: JOBSCHED_ERR_SCHEDULE_NOT_FOUND.',
        params: nameParams,
      },
    },
    async (request) => {
      const found = (await cron.list()).find((schedule) => schedule.name === request.params.name);
      if (!found) throw errors.JOBSCHED_ERR_SCHEDULE_NOT_FOUND(`no schedule ${request.params.name}`);
      return scheduleBodyOf(found);
    },
  );

  app.put(
    '/v1/schedules/:name',
    {
      onRequest: writer,
      schema: {
        tags: ['schedules'],
        summary: 'Create or replace a cron schedule',
        description: `Needs scope ${WRITE_SCOPE}. One job per tick across every replica. Problems: JOBQ_ERR_INVALID_CRON, JOBSCHED_ERR_UNKNOWN_QUEUE, JOBSCHED_ERR_TOO_MANY_SCHEDULES.`,
        params: nameParams,
        body: scheduleBody,
      },
    },
    async (request) => {
      const body = request.body;
      assertKnownQueue(context, body.queue);
      checkPayload(context, body.queue, body.payload);
      const existing = await cron.list();
      const replacing = existing.some((schedule) => schedule.name === request.params.name);
      if (!replacing && existing.length >= context.limits.schedulesMax) {
        throw errors.JOBSCHED_ERR_TOO_MANY_SCHEDULES(`at most ${context.limits.schedulesMax} schedules`, {
          limit: context.limits.schedulesMax,
        });
      }
      const schedule = await cron.upsert({
        name: request.params.name,
        queue: body.queue,
        cron: body.cron,
        timeZone: body.timeZone,
        payload: body.payload ?? null,
        missedTicks: body.missedTicks,
        options: jobOptionsOf(body),
      });
      return scheduleBodyOf(schedule);
    },
  );

  app.delete(
    '/v1/schedules/:name',
    {
      onRequest: writer,
      schema: {
        tags: ['schedules'],
        summary: 'Delete a cron schedule',
        description: `Needs scope ${WRITE_SCOPE}. Problems: JOBSCHED_ERR_SCHEDULE_NOT_FOUND.`,
        params: nameParams,
      },
    },
    async (request, reply) => {
      if (!(await cron.remove(request.params.name)))
        throw errors.JOBSCHED_ERR_SCHEDULE_NOT_FOUND(`no schedule ${request.params.name}`);
      reply.code(204);
    },
  );
}
