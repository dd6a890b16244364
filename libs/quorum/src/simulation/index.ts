export * from './cluster.js';
export * from './experiments.js';
export * from './history.js';
export * from './simulate.js';
