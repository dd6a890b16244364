export { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
export { type BuildOptions, buildService, newsFeed } from './service.js';
