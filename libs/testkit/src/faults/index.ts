/**
 * The fault lab: real processes, links through a loopback proxy, a seeded nemesis, and checkers
 * over a recorded history. `@sysdesign/testkit/faults`.
 */
export * from './checkers/index.js';
export * from './history.js';
export * from './linearizability.js';
export * from './nemesis.js';
export * from './partition.js';
export * from './processes.js';
export * from './proxy.js';
export * from './report.js';
export * from './run-settings.js';
