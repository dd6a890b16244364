import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type ErrorMapper, installProblemHandlers, sendProblem, toProblem } from './errors.js';
import { requestIdOf, requestLoggerFactory } from './logging.js';
import type { ServiceApp } from './service.js';

/**
 * A second listener a service owns besides its public port: the kv-store's peer API, which must
 * not be reachable where clients are. It is a bare Fastify instance (request ids, the service's
 * logger, problem+json errors, no docs, health or metrics routes) that listens as soon as it is
 * opened, and closes on the service's lifecycle: before whatever was deferred earlier, so its
 * routes never see a closed backend.
 */

/** The listener's Fastify instance, for services that do not depend on Fastify themselves. */
export type ListenerApp = FastifyInstance;

export interface ServiceListenerTls {
  /** PEM certificate chain and private key. */
  cert: string | Buffer;
  key: string | Buffer;
}

export interface ServiceListenerOptions {
  /** Names it in logs and in the lifecycle (`<name> listener`). */
  name: string;
  host: string;
  /** 0 picks a free port; `url` says which. */
  port: number;
  /** Serve HTTPS with this certificate. */
  tls?: ServiceListenerTls | undefined;
  bodyLimitBytes?: number | undefined;
  /** Asked first by the problem handler, like a service's `mapError`. */
  mapError?: ErrorMapper | undefined;
}

export interface ServiceListener {
  app: ListenerApp;
  /** Where it listens, e.g. `https://127.0.0.1:13002`. */
  url: string;
  port: number;
}

/** Builds the listener, lets `register` add its routes, listens, and defers its close on `owner`. */
export async function openServiceListener(
  owner: ServiceApp,
  options: ServiceListenerOptions,
  register: (listener: ListenerApp) => Promise<void> | void,
): Promise<ServiceListener> {
  const listener = Fastify({
    loggerInstance: owner.log.child({ listener: options.name }) as FastifyBaseLogger,
    genReqId: requestIdOf,
    childLoggerFactory: requestLoggerFactory,
    ...(options.bodyLimitBytes === undefined ? {} : { bodyLimit: options.bodyLimitBytes }),
    ...(options.tls === undefined ? {} : { https: { cert: options.tls.cert, key: options.tls.key } }),
    forceCloseConnections: 'idle',
    frameworkErrors: (error, request, reply) => {
      sendProblem(reply, toProblem(error), request);
    },
  }) as unknown as FastifyInstance;
  installProblemHandlers(listener, options.mapError === undefined ? [] : [options.mapError]);
  try {
    await register(listener);
    await listener.listen({ host: options.host, port: options.port });
  } catch (error) {
    await listener.close();
    throw error;
  }
  owner.lifecycle.defer(`${options.name} listener`, () => listener.close());
  const address = listener.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const scheme = options.tls === undefined ? 'http' : 'https';
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { app: listener, url: `${scheme}://${host}:${port}`, port };
}
