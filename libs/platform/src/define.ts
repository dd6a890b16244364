import type { z } from 'zod';
import type { Problem } from './errors.js';
import type { EmbeddedInstance, ServiceContext, ServiceDefinition } from './run.js';
import { createService, type ServiceApp, type SharedServiceConfig } from './service.js';

/**
 * One way to wire a service. A service describes itself and its `setup`; `defineService` turns
 * that into the `ServiceDefinition` that `runStandalone` and start-all run. `setup` opens the
 * backends through the openers (`openServiceSql`, `openServiceRedis`, `openServiceBus`,
 * `startServiceSnowflake`), which put each on the app's lifecycle, then adds the routes. When
 * `setup` throws, everything it opened is closed in reverse and the error propagates: no service
 * writes its own try/catch around its start.
 */

export interface ServiceSpec<Schema extends z.ZodObject, Options extends object> {
  name: string;
  /** One sentence: the OpenAPI document's description. */
  description: string;
  version?: string;
  defaultPort: number;
  configSchema: Schema;
  embeddedInstances?: EmbeddedInstance[];
  /**
   * The service's domain errors as problems; routes throw them, the problem handler maps them.
   * The configuration is given for problems that quote it (a limit the request went over).
   */
  mapError?(error: unknown, config: z.infer<Schema>): Problem | undefined;
  /** Fields bound to every log line besides the service's name. */
  logBindings?(config: z.infer<Schema>): Record<string, unknown>;
  /** Opens the backends, adds readiness checks and routes. `options` are test seams (clocks, links). */
  setup(
    app: ServiceApp,
    config: z.infer<Schema>,
    context: ServiceContext,
    options: Partial<Options>,
  ): Promise<void> | void;
}

/** A definition whose `build` also takes the service's test seams. */
export interface BuildableService<Schema extends z.ZodObject, Options extends object>
  extends ServiceDefinition<Schema> {
  build(config: z.infer<Schema>, context: ServiceContext, options?: Partial<Options>): Promise<ServiceApp>;
}

export function defineService<Schema extends z.ZodObject, Options extends object = Record<never, never>>(
  spec: ServiceSpec<Schema, Options>,
): BuildableService<Schema, Options> {
  return {
    name: spec.name,
    description: spec.description,
    defaultPort: spec.defaultPort,
    configSchema: spec.configSchema,
    ...(spec.embeddedInstances === undefined ? {} : { embeddedInstances: spec.embeddedInstances }),
    build: (config, context, options = {}) => buildServiceApp(spec, config, context, options),
  };
}

/** Creates the app, runs `setup`, and on failure closes what `setup` opened before rethrowing. */
export async function buildServiceApp<Schema extends z.ZodObject, Options extends object>(
  spec: ServiceSpec<Schema, Options>,
  config: z.infer<Schema>,
  context: ServiceContext,
  options: Partial<Options> = {},
): Promise<ServiceApp> {
  const app = await createService(
    {
      name: spec.name,
      description: spec.description,
      ...(spec.version === undefined ? {} : { version: spec.version }),
      ...(spec.mapError === undefined
        ? {}
        : { mapError: (error: unknown) => spec.mapError?.(error, config) }),
      ...(spec.logBindings === undefined ? {} : { logBindings: spec.logBindings(config) }),
    },
    config as SharedServiceConfig,
    context,
  );
  try {
    await spec.setup(app, config, context, options);
    return app;
  } catch (error) {
    await app.lifecycle.closeAll();
    // Closing the app may fail too (a plugin that never loaded); the start's error is the one to report.
    await app
      .close()
      .catch((closeError: unknown) => app.log.warn({ err: closeError }, 'closing the app failed'));
    throw error;
  }
}
