// `@sysdesign/quorum/testing`: deterministic doubles for tests and the simulation. Nothing here
// belongs in a production process.
export * from './memory-network.js';
export * from './random.js';
export * from './simulation/index.js';
export * from './virtual-clock.js';
