// The placements. The measuring harness (balance, movement, lookup rate) is `@sysdesign/consistent-hashing/harness`.
export {
  type BoundedLoadOptions,
  BoundedLoadRing,
  DEFAULT_EPSILON,
  DEFAULT_MAX_ASSIGNED_KEYS,
  type KeyMove,
} from './bounded-load.js';
export { ALGORITHMS, createPlacement, type PlacementOptions } from './create.js';
export { ConsistentHashingError, ConsistentHashingErrorCode } from './errors.js';
export { hashPosition, type Key, murmur3x86_32, murmur3x86_128, RING_SIZE } from './hash.js';
export { JUMP_BUCKETS_MAX, JumpHash, type JumpHashOptions, jumpBucket, jumpHash } from './jump.js';
export {
  isPrime,
  MAGLEV_DEFAULT_TABLE_SIZE,
  MAGLEV_MAX_TABLE_SIZE,
  Maglev,
  type MaglevOptions,
  nextPrime,
} from './maglev.js';
export { ModuloHash, type ModuloHashOptions } from './modulo.js';
export {
  type Algorithm,
  MAX_NODE_ID_LENGTH,
  MAX_WEIGHT,
  type NodeOptions,
  type NodeSpec,
  type Placement,
} from './placement.js';
export { rangeContains, rangeWidth, type TokenRange } from './ranges.js';
export { Rendezvous, type RendezvousOptions } from './rendezvous.js';
export {
  DEFAULT_VNODES,
  HashRing,
  type HashRingOptions,
  type HintedReplica,
  MAX_RING_TOKENS,
  MAX_TOKENS_PER_NODE,
  type PreferenceListOptions,
  type RangeMove,
  type ReplicaChange,
  type ReplicaRange,
} from './ring.js';
