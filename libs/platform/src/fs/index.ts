export * from './atomic-write.js';
export * from './directory-lock.js';
export * from './durable.js';
