export { type ConsoleDeps, registerConsoleRoutes } from './app.js';
export { type Config, configSchema } from './config.js';
export type { ListedService, ServiceStatus } from './health.js';
export { consoleService } from './service.js';
