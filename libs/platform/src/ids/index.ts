export * from './layout.js';
export * from './lease-stores.js';
export * from './leased-snowflake.js';
export * from './problems.js';
export * from './snowflake.js';
export * from './worker-lease.js';
