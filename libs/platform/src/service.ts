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
import type { ServiceVars } from './config.js';
import { type ErrorMapper, installProblemHandlers, sendProblem, toProblem } from './errors.js';
import { installHealthRoutes, Readiness } from './health.js';
import { idProblemOf } from './ids/problems.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger, requestIdOf, requestLoggerFactory } from './logging.js';
import { installHttpMetrics, ServiceMetrics } from './metrics.js';
import { serializerCompiler } from './serializer.js';

/**
 * `createService` builds the Fastify instance every service starts from: logging with request
 * ids, zod validation, OpenAPI at `/docs`, `/healthz`, `/readyz`, `/metrics`, problem+json errors
 * and a body limit. It never listens: `app.ts` adds routes, `main.ts` listens (see `run.ts`),
 * tests use `app.inject()`. Services rarely call it themselves: `defineService` (see `define.ts`)
 * does, then runs the service's `setup`.
 */

declare module 'fastify' {
  interface FastifyInstance {
    /** This service's prom-client registry and metric factories. */
    metrics: ServiceMetrics;
    /** Backends register their health checks here; `/readyz` runs them. */
    readiness: Readiness;
    /** What the service opened, closed in reverse once the server has drained (see `lifecycle.ts`). */
    lifecycle: Lifecycle;
    /** The service's name, as given to `createService`. */
    serviceName: string;
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

/** Who the service is, and how it maps its own errors. */
export interface ServiceIdentity {
  name: string;
  version?: string;
  description?: string;
  /** Asked first by the problem handler: the service's domain errors as problems. */
  mapError?: ErrorMapper;
  /** Bound to every log line besides the service's name (the kv-store binds its node id). */
  logBindings?: Record<string, unknown>;
  /** Requests slower than this are cut off with a 503 (Fastify's requestTimeout). */
  requestTimeoutMs?: number;
}

/** The variables of `serviceVars` that shape the app itself; absent ones take their defaults. */
export type SharedServiceConfig = Partial<Pick<ServiceVars, 'LOG_LEVEL' | 'BODY_LIMIT_BYTES'>>;

/** Where the app's logger comes from: the process's (start-all shares one), else one is made. */
export interface LoggerSource {
  logger?: Logger;
}

export const DEFAULT_BODY_LIMIT_BYTES = 1_048_576;

function serviceLogger(service: ServiceIdentity, config: SharedServiceConfig, source: LoggerSource): Logger {
  const level = config.LOG_LEVEL ?? 'info';
  const bindings = { service: service.name, ...service.logBindings };
  if (source.logger === undefined) return createLogger(level).child(bindings);
  // The service logs at its own LOG_LEVEL even when the process's logger is shared.
  return source.logger.child(bindings, config.LOG_LEVEL === undefined ? {} : { level });
}

/** How often, while closing, connections whose last response has gone out are closed. */
const DRAIN_SWEEP_MS = 50;

/**
 * The one close hook. Fastify closes the server (draining in-flight requests) before it runs
 * hooks registered before `ready`, so backends close only once no request can use them. Node
 * closes idle keep-alive connections when the server starts closing, but not those that become
 * idle after (a request in flight at that moment): they would hold the close for the keep-alive
 * timeout, past any shutdown timeout, so they are swept while the server drains.
 */
function installDrain(app: FastifyInstance, lifecycle: Lifecycle): void {
  let sweep: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    sweep = setInterval(() => app.server.closeIdleConnections(), DRAIN_SWEEP_MS);
    sweep.unref();
    done();
  });
  app.addHook('onClose', () => {
    clearInterval(sweep);
    return lifecycle.closeAll();
  });
}

export async function createService(
  service: ServiceIdentity,
  config: SharedServiceConfig = {},
  source: LoggerSource = {},
): Promise<ServiceApp> {
  const app = Fastify({
    loggerInstance: serviceLogger(service, config, source) as FastifyBaseLogger,
    genReqId: requestIdOf,
    childLoggerFactory: requestLoggerFactory,
    bodyLimit: config.BODY_LIMIT_BYTES ?? DEFAULT_BODY_LIMIT_BYTES,
    requestTimeout: service.requestTimeoutMs ?? 30_000,
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
  app.decorate('metrics', new ServiceMetrics(service.name));
  app.decorate('readiness', new Readiness());
  app.decorate('serviceName', service.name);
  const lifecycle = new Lifecycle(app.log);
  app.decorate('lifecycle', lifecycle);
  installDrain(app, lifecycle);

  // Before any route: each route gets its duration hook as it is added.
  const countUnmatched = installHttpMetrics(app, app.metrics);
  // Callback-style hooks: an async hook costs every request an extra promise.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  installProblemHandlers(
    app,
    service.mapError ? [service.mapError, idProblemOf] : [idProblemOf],
    countUnmatched,
  );

  await app.register(swagger, {
    openapi: {
      info: {
        title: service.name,
        version: service.version ?? '0.1.0',
        ...(service.description ? { description: service.description } : {}),
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  installHealthRoutes(app, app.readiness);
  return app as unknown as ServiceApp;
}

/** The logger a service's app hands to its parts (`app.log`). */
export type ServiceLogger = FastifyBaseLogger;
