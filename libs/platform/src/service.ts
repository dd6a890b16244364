import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import { jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { installProblemHandlers, sendProblem, toProblem } from './errors.js';
import { installHealthRoutes, Readiness } from './health.js';
import { createLogger, requestIdOf, requestLoggerFactory } from './logging.js';
import { installHttpMetrics, ServiceMetrics } from './metrics.js';
import { serializerCompiler } from './serializer.js';

/**
 * `createService` builds the Fastify instance every service starts from: logging with request
 * ids, zod validation, OpenAPI at `/docs`, `/healthz`, `/readyz`, `/metrics`, problem+json errors
 * and a body limit. It never listens: `app.ts` adds routes, `main.ts` listens (see `run.ts`),
 * tests use `app.inject()`.
 */

declare module 'fastify' {
  interface FastifyInstance {
    /** This service's prom-client registry and metric factories. */
    metrics: ServiceMetrics;
    /** Backends register their health checks here; `/readyz` runs them. */
    readiness: Readiness;
  }
}

/** A service's Fastify instance, with zod schemas as its type provider. */
export type ServiceApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface ServiceOptions {
  name: string;
  version?: string;
  description?: string;
  /** A pino logger to derive from (start-all shares one); else one is made at `logLevel`. */
  logger?: Logger;
  logLevel?: string;
  bodyLimitBytes?: number;
  /** Requests slower than this are cut off with a 503 (Fastify's requestTimeout). */
  requestTimeoutMs?: number;
}

export const DEFAULT_BODY_LIMIT_BYTES = 1_048_576;

export async function createService(options: ServiceOptions): Promise<ServiceApp> {
  const logger = (options.logger ?? createLogger(options.logLevel ?? 'info')).child({
    service: options.name,
  });
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: requestIdOf,
    childLoggerFactory: requestLoggerFactory,
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    // Idle keep-alive sockets are closed on shutdown so `close()` does not wait on them.
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
    // Errors raised before routing (a URL that does not decode) skip the error handler; answer
    // them as problems too.
    frameworkErrors: (error, request, reply) => {
      sendProblem(reply, toProblem(error), request);
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorate('metrics', new ServiceMetrics(options.name));
  app.decorate('readiness', new Readiness());

  // Callback-style hooks: an async hook costs every request an extra promise.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  installProblemHandlers(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: options.name,
        version: options.version ?? '0.1.0',
        ...(options.description ? { description: options.description } : {}),
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  installHealthRoutes(app, app.readiness);
  installHttpMetrics(app, app.metrics);
  return app as unknown as ServiceApp;
}

/** The logger a service's app hands to its parts (`app.log`). */
export type ServiceLogger = FastifyBaseLogger;
