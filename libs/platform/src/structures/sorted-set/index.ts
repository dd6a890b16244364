export * from './errors.js';
export * from './keyspace.js';
export * from './memory.js';
export * from './port.js';
export * from './redis-store.js';
export { compareMembers, utf8ByteLength } from './strings.js';
export type * from './types.js';
