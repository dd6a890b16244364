export * from './atomic-write.js';
export * from './directory-lock.js';
export * from './durable.js';
export * from './secret-file.js';
