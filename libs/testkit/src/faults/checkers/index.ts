export * from './conserved-sum.js';
export * from './convergence.js';
export * from './exactly-once.js';
export { finalReadFunction } from './final-reads.js';
export * from './lost-writes.js';
export * from './result.js';
export * from './stream-order.js';
