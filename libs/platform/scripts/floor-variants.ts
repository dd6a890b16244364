/**
 * The platform floor taken apart: a service app composed the way `createService` composes it, with one
 * platform part left out, so the floor bench (`load-tests/src/floor-bench.ts`) can show what each part
 * costs a request. `composed` leaves nothing out: beside `createService`'s own figure it shows this
 * copy has not drifted from the real thing.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, validatorCompiler } from 'fastify-type-provider-zod';
import { installProblemHandlers, sendProblem, toProblem } from '../src/errors.js';
import { createLogger, requestIdOf, requestLoggerFactory } from '../src/logging.js';
import { installHttpMetrics, ServiceMetrics } from '../src/metrics.js';
import { serializerCompiler } from '../src/serializer.js';
import { DEFAULT_BODY_LIMIT_BYTES, type ServiceApp } from '../src/service.js';
import { addFloorRoutes } from './floor-target.js';

export type PlatformPart =
  | 'request ids'
  | 'logger child'
  | 'metrics'
  | 'zod schemas'
  | 'problem handler'
  | 'swagger'
  | 'server options';

function serverOptions(without: PlatformPart | undefined): FastifyServerOptions {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn').child({ service: 'platform-floor' });
  return {
    ...(without === 'logger child'
      ? {}
      : { loggerInstance: logger as FastifyBaseLogger, childLoggerFactory: requestLoggerFactory }),
    ...(without === 'request ids' ? {} : { genReqId: requestIdOf }),
    ...(without === 'server options'
      ? {}
      : {
          bodyLimit: DEFAULT_BODY_LIMIT_BYTES,
          requestTimeout: 30_000,
          forceCloseConnections: 'idle' as const,
          routerOptions: { ignoreTrailingSlash: true },
        }),
    ...(without === 'problem handler'
      ? {}
      : {
          frameworkErrors: (error, request, reply) => {
            sendProblem(reply, toProblem(error), request);
          },
        }),
  };
}

function installRequestIdHeader(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
}

async function composeFloorApp(without?: PlatformPart): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(without));
  if (without !== 'zod schemas') {
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
  }
  const countUnmatched =
    without === 'metrics' ? undefined : installHttpMetrics(app, new ServiceMetrics('platform-floor'));
  if (without !== 'request ids') installRequestIdHeader(app);
  if (without !== 'problem handler') installProblemHandlers(app, [], countUnmatched);
  if (without !== 'swagger') {
    await app.register(swagger, {
      openapi: { info: { title: 'platform-floor', version: '0.1.0' } },
      transform: jsonSchemaTransform,
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  }
  if (without === 'zod schemas') addPlainFloorRoutes(app);
  else addFloorRoutes(app as unknown as ServiceApp);
  return app;
}

/** The floor routes without schemas, for the variant that goes without zod. */
function addPlainFloorRoutes(app: FastifyInstance): void {
  const answer = { ok: true };
  app.route({
    method: ['GET', 'DELETE', 'POST', 'PUT', 'PATCH'],
    url: '/floor',
    handler: async () => answer,
  });
}

const target = async (without?: PlatformPart) => ({ app: await composeFloorApp(without) });

export const createComposedTarget = () => target();
export const createWithoutRequestIdsTarget = () => target('request ids');
export const createWithoutLoggerChildTarget = () => target('logger child');
export const createWithoutMetricsTarget = () => target('metrics');
export const createWithoutZodTarget = () => target('zod schemas');
export const createWithoutProblemHandlerTarget = () => target('problem handler');
export const createWithoutSwaggerTarget = () => target('swagger');
export const createWithoutServerOptionsTarget = () => target('server options');
