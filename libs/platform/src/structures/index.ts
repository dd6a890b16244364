export * from './bloom-filter.js';
export * from './hash.js';
