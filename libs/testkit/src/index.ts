export * from './backends.js';
export * from './cluster.js';
export * from './describe.js';
export * from './isolation.js';
export * from './ports.js';
export * from './random.js';
export * from './temp-dir.js';
export * from './wait.js';
