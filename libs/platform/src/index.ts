export * from './config.js';
export * from './errors.js';
export * from './health.js';
export * from './logging.js';
export * from './metrics.js';
export * from './service.js';
export * from './sql/index.js';
