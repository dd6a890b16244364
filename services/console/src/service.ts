import { defineService } from '@sysdesign/platform';
import { registerConsoleRoutes } from './app.js';
import { configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';

/**
 * The console: every service of this deployment (CONSOLE_SERVICES) and its health. start-all
 * passes its own list in the config and keeps adding to it as services start.
 */
export const consoleService = defineService({
  name: SERVICE_NAME,
  description: 'Every service of this deployment and its health.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  setup(app, config) {
    registerConsoleRoutes(app, {
      services: () => config.CONSOLE_SERVICES,
      healthTimeoutMs: config.HEALTH_TIMEOUT_MS,
    });
  },
});
