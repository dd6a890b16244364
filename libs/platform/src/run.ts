import type { Logger } from 'pino';
import type { z } from 'zod';
import type { EventBus } from './bus/port.js';
import { ConfigError, type Env, loadConfig } from './config.js';
import { createLogger } from './logging.js';
import type { ServiceApp } from './service.js';
import type { EmbeddedPostgres } from './sql/pglite.js';

/**
 * How a service is started. Each service exports a `ServiceDefinition`; its `main.ts` is one
 * line (`runStandalone(definition)`), and `scripts/start-all.ts` runs every definition in one
 * process with shared embedded backends.
 */

/** What the process shares with the services it runs (start-all shares one PGlite). */
export interface ServiceContext {
  logger: Logger;
  /** The process's embedded Postgres, when it has one to share. */
  embedded?: EmbeddedPostgres;
  /** Overrides the service's schema: tests give each app a fresh one. */
  sqlSchema?: string;
  /**
   * The process's event bus, when it has one to share (start-all opens one in-process bus for
   * every service, so their events meet). A service without one opens its own; a shared bus is
   * closed by its owner, not by the service.
   */
  bus?: EventBus;
}

/** One instance `pnpm start` runs: its name, port and the environment it adds. */
export interface EmbeddedInstance {
  name: string;
  port: number;
  env: Record<string, string>;
}

/** What a service is and how to build it; `defineService` (see `define.ts`) makes one. */
export interface ServiceDefinition<Schema extends z.ZodObject = z.ZodObject> {
  name: string;
  /** One sentence: the OpenAPI document's description. */
  description: string;
  defaultPort: number;
  configSchema: Schema;
  /**
   * What `pnpm start` runs: by default one instance on `defaultPort`. A design that is about
   * several nodes (the kv-store's three) lists them, each with its own port and environment.
   */
  embeddedInstances?: EmbeddedInstance[];
  /** Builds the app and its backends; closing the app closes them; a failed build closes what it opened. Never listens. */
  build(config: z.infer<Schema>, context: ServiceContext): Promise<ServiceApp>;
}

export interface RunningService {
  name: string;
  app: ServiceApp;
  url: string;
}

/** Listens on the configured HOST/PORT; answers with the URL it listens on. */
export async function listen(app: ServiceApp, config: { HOST: string; PORT: number }): Promise<string> {
  return app.listen({ host: config.HOST, port: config.PORT });
}

/**
 * Closes everything on SIGTERM/SIGINT: stop accepting, drain in-flight requests, close backends.
 * A second signal, or the timeout, exits at once.
 */
export function closeOnSignals(close: () => Promise<void>, logger: Logger, timeoutMs: number): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal, timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out: exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    close().then(
      () => {
        logger.info('shut down cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

/**
 * A start refused for the operator's mistake, such as a configuration file that does not parse:
 * `runStandalone` prints its message to stderr and exits 1, as for a bad variable (ConfigError).
 * The message says what to fix; a stack trace or a JSON log line would bury it.
 */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** A ConfigError or StartupError ends the process with its message alone. */
function exitForOperator(service: string, error: ConfigError | StartupError): never {
  process.stderr.write(`${service}: ${error.message}\n`);
  process.exit(1);
}

/** Parses config or exits with one message naming every bad variable. */
export function configOrExit<Schema extends z.ZodObject>(
  schema: Schema,
  service: string,
  env: Env = process.env,
): z.infer<Schema> {
  try {
    return loadConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) exitForOperator(service, error);
    throw error;
  }
}

/** `main.ts` of every service: one service in this process, configured by the environment. */
export async function runStandalone<Schema extends z.ZodObject>(
  definition: ServiceDefinition<Schema>,
): Promise<void> {
  const config = configOrExit(definition.configSchema, definition.name);
  const { LOG_LEVEL, SHUTDOWN_TIMEOUT_MS } = config as { LOG_LEVEL: string; SHUTDOWN_TIMEOUT_MS: number };
  const logger = createLogger(LOG_LEVEL);
  try {
    const app = await definition.build(config, { logger });
    const url = await listen(app, config as { HOST: string; PORT: number });
    logger.info({ url, docs: `${url}/docs` }, `${definition.name} listening`);
    closeOnSignals(() => app.close(), logger, SHUTDOWN_TIMEOUT_MS);
  } catch (error) {
    if (error instanceof StartupError || error instanceof ConfigError)
      exitForOperator(definition.name, error);
    logger.fatal({ err: error }, `${definition.name} failed to start`);
    process.exit(1);
  }
}
