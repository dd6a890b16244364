import type { ServiceDefinition } from '@sysdesign/platform';
import { buildConsole } from './app.js';
import { configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';

export const consoleService: ServiceDefinition<typeof configSchema> = {
  name: SERVICE_NAME,
  defaultPort: DEFAULT_PORT,
  configSchema,
  build: (config, context) =>
    buildConsole({
      logger: context.logger,
      services: () => config.CONSOLE_SERVICES,
      healthTimeoutMs: config.HEALTH_TIMEOUT_MS,
    }),
};
