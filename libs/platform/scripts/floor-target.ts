/**
 * The platform floor: a service app from `createService`, every platform part on, with a route that
 * does nothing but what every service route does (a validated query or body, a zod response schema).
 * The load harness starts it in a child process beside each service's bench and beside the bare
 * Fastify baseline, so every report shows what the platform costs a request before a service works.
 */
import { pino } from 'pino';
import { z } from 'zod';
import { createLogger, createService, type Logger, loggerOptions, type ServiceApp } from '../src/index.js';

export const FLOOR_PATH = '/floor';

const floorQuery = z.object({ name: z.string().max(64).optional() });
const floorBody = z.looseObject({});
const floorResponse = z.object({ ok: z.boolean() });
const answer = { ok: true };

/** The one place the floor calls `createService`: its options are the platform's to change. */
export function createFloorService(logger: Logger): Promise<ServiceApp> {
  return createService({ name: 'platform-floor' }, {}, { logger });
}

/** The no-op routes: GET and DELETE validate a query, POST, PUT and PATCH a JSON object body. */
export function addFloorRoutes(app: ServiceApp): void {
  const response = { 200: floorResponse };
  app.route({
    method: ['GET', 'DELETE'],
    url: FLOOR_PATH,
    schema: { querystring: floorQuery, response },
    handler: async () => answer,
  });
  app.route({
    method: ['POST', 'PUT', 'PATCH'],
    url: FLOOR_PATH,
    schema: { body: floorBody, response },
    handler: async () => answer,
  });
}

/** At `LOG_LEVEL` (the harness sets `warn` unless told otherwise): the floor as #8 defines it. */
export async function createBenchTarget() {
  const app = await createFloorService(createLogger(process.env.LOG_LEVEL ?? 'warn'));
  addFloorRoutes(app);
  return { app };
}

/**
 * At `info`: two log lines a request (incoming, completed), written synchronously as pino writes to
 * stdout, but to /dev/null, so a bench run does not fill the disk with its own logs.
 */
export async function createInfoBenchTarget() {
  const app = await createFloorService(
    pino(loggerOptions('info'), pino.destination({ dest: '/dev/null', sync: true })),
  );
  addFloorRoutes(app);
  return { app };
}
