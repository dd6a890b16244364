export { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
export { buildService, idGenerator } from './service.js';
