export { buildConsole } from './app.js';
export { configSchema } from './config.js';
export type { ListedService, ServiceStatus } from './health.js';
export { consoleService } from './service.js';
