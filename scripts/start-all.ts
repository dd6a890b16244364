import {
  backendVars,
  closeOnSignals,
  configOrExit,
  createEventBus,
  createLogger,
  type EmbeddedInstance,
  EmbeddedPostgres,
  type RunningService,
  type ServiceDefinition,
} from '@sysdesign/platform';
import { z } from 'zod';
import { CONSOLE, SERVICES } from './services.js';

/**
 * `pnpm start`: every service in one Node process, each on its own port, sharing one embedded
 * PGlite and one event bus under ./data (unless DATABASE_URL / KAFKA_BROKERS point at real
 * servers), plus the console on :3000
 * listing them all with their health. A service that fails to start is shown as such on the
 * console; the others keep running.
 */

const launcherSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  KAFKA_BROKERS: backendVars.KAFKA_BROKERS,
  /** Where the shared in-process event bus keeps its logs (embedded mode). */
  BUS_DIR: z.string().min(1).default('./data/bus'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
});

const launcher = configOrExit(launcherSchema, 'start-all');
const logger = createLogger(launcher.LOG_LEVEL);
const publicHost = launcher.HOST === '0.0.0.0' ? '127.0.0.1' : launcher.HOST;

/** Each service reads the shared environment, but PORT and DATA_DIR are its own defaults. */
function environmentFor(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.PORT;
  delete env.DATA_DIR;
  return env;
}

const embedded = launcher.DATABASE_URL ? undefined : await EmbeddedPostgres.open(launcher.PGLITE_DIR);
// One bus for every service, so one service's events reach another's consumers: Kafka when
// KAFKA_BROKERS is set, else in-process with durable logs under ./data/bus.
const bus = await createEventBus({
  clientId: 'sysdesign',
  kafkaBrokers: launcher.KAFKA_BROKERS,
  dir: launcher.BUS_DIR,
  logger,
});
const running: RunningService[] = [];
const listed: { name: string; url: string; startError?: string }[] = [];

async function start(definition: ServiceDefinition, instance: EmbeddedInstance): Promise<void> {
  const url = `http://${publicHost}:${instance.port}`;
  try {
    const env = { ...environmentFor(), ...instance.env, PORT: String(instance.port) };
    const config = configOrExit(definition.configSchema, instance.name, env);
    const app = await definition.build(config, { logger, bus, ...(embedded ? { embedded } : {}) });
    await app.listen({ host: launcher.HOST, port: instance.port });
    running.push({ name: instance.name, app, url });
    listed.push({ name: instance.name, url });
  } catch (error) {
    logger.error({ err: error, service: instance.name }, `${instance.name} failed to start`);
    listed.push({ name: instance.name, url, startError: (error as Error).message });
  }
}

function instancesOf(definition: ServiceDefinition): EmbeddedInstance[] {
  return definition.embeddedInstances ?? [{ name: definition.name, port: definition.defaultPort, env: {} }];
}

for (const definition of SERVICES) {
  for (const instance of instancesOf(definition)) await start(definition, instance);
}
const instanceCount = SERVICES.reduce((count, definition) => count + instancesOf(definition).length, 0);

const consoleConfig = configOrExit(CONSOLE.configSchema, CONSOLE.name, environmentFor());
const consoleApp = await CONSOLE.build({ ...consoleConfig, CONSOLE_SERVICES: listed }, { logger });
await consoleApp.listen({ host: launcher.HOST, port: CONSOLE.defaultPort });

logger.info(
  {
    console: `http://${publicHost}:${CONSOLE.defaultPort}`,
    services: Object.fromEntries(listed.map((s) => [s.name, s.url])),
  },
  `sysdesign is up: ${running.length} of ${instanceCount} service instances running; open http://${publicHost}:${CONSOLE.defaultPort}`,
);

closeOnSignals(
  async () => {
    await consoleApp.close();
    // Reverse start order; each app drains its requests and closes its backends.
    for (const service of running.reverse()) await service.app.close();
    await bus.close();
    await embedded?.close();
  },
  logger,
  launcher.SHUTDOWN_TIMEOUT_MS,
);
