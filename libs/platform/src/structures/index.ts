export * from './bloom-filter.js';
