export * from './bloom-filter.js';
export * from './sorted-set/index.js';
