export * from './atomic-write.js';
export * from './directory-lock.js';
export * from './durable.js';
export * from './read-if-present.js';
export * from './secret-file.js';
