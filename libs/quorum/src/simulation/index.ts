export * from './cluster.js';
export * from './history.js';
export * from './simulate.js';
export * from './experiments.js';
