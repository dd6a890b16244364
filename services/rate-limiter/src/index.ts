export { type Config, configSchema, DEFAULT_PORT, DEFAULT_RULES_FILE, SERVICE_NAME } from './config.js';
export { type BuildOptions, buildService, rateLimiter } from './service.js';
