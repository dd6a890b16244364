// The library a service builds on. Test doubles (virtual clock, in-memory network, seeded random,
// the simulation) live in `@sysdesign/quorum/testing`; the JSON peer codecs in `@sysdesign/quorum/wire`.
export * from './anti-entropy.js';
export * from './clock.js';
export * from './context.js';
export * from './coordinator.js';
export * from './errors.js';
export * from './gossip.js';
export * from './handoff.js';
export * from './hash.js';
export * from './hints.js';
export * from './loop.js';
export * from './merkle.js';
export * from './node.js';
export * from './replica.js';
export * from './store.js';
export * from './transport.js';
export * from './vector-clock.js';
export * from './version.js';
