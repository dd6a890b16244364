export * from './backends.js';
export * from './describe.js';
export * from './isolation.js';
export * from './wait.js';
