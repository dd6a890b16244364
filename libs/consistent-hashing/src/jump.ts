/**
 * Jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm", 2014):
 * maps a 64-bit key to a bucket in [0, n) with no memory at all, perfectly even shares (up to sampling),
 * and the minimal movement k/(n+1) when bucket n is added. The price: buckets are numbered, so only the
 * last one can be added or removed cheaply, and there are no weights.
 *
 * The 64-bit linear congruential generator is computed on two 32-bit halves, so results match the
 * paper's C code (and Guava's `Hashing.consistentHash`) bit for bit without BigInt.
 */
import { ConsistentHashingErrorCode, fail } from './errors.js';
import { hashPosition, type Key, lastHashHigh, lastHashLow } from './hash.js';
import {
  assertNodeId,
  type NodeSpec,
  normalizeNodes,
  normalizeWeight,
  type Placement,
  preview,
} from './placement.js';

/** 2862933555777941757, the generator's multiplier, as two 32-bit halves. */
const MULTIPLIER_HIGH = 0x27bb2ee6;
const MULTIPLIER_LOW = 0x87b0b0fd;
const TWO_POW_31 = 2 ** 31;
/** The paper's buckets are int32. */
export const JUMP_BUCKETS_MAX = 2 ** 31 - 1;

/** The high 32 bits of the 64-bit product of two unsigned 32-bit integers. */
function multiplyHigh(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const low = a0 * b0;
  const middleA = a1 * b0;
  const middleB = a0 * b1;
  const carry = ((low >>> 16) + (middleA & 0xffff) + (middleB & 0xffff)) >>> 16;
  return (a1 * b1 + (middleA >>> 16) + (middleB >>> 16) + carry) >>> 0;
}

/**
 * The bucket in [0, buckets) of the 64-bit key `high * 2^32 + low` (both unsigned 32-bit integers).
 * Expected O(ln buckets) steps.
 */
export function jumpBucket(high: number, low: number, buckets: number): number {
  if (!(Number.isInteger(buckets) && buckets >= 1 && buckets <= JUMP_BUCKETS_MAX)) {
    fail(
      ConsistentHashingErrorCode.INVALID_ARGUMENT,
      `buckets must be an integer in [1, ${JUMP_BUCKETS_MAX}], got ${preview(buckets)}`,
    );
  }
  let keyHigh = high >>> 0;
  let keyLow = low >>> 0;
  let bucket = -1;
  let next = 0;
  while (next < buckets) {
    bucket = next;
    // key = key * 2862933555777941757 + 1 (mod 2^64)
    const productLow = Math.imul(keyLow, MULTIPLIER_LOW) >>> 0;
    const productHigh =
      (multiplyHigh(keyLow, MULTIPLIER_LOW) +
        Math.imul(keyHigh, MULTIPLIER_LOW) +
        Math.imul(keyLow, MULTIPLIER_HIGH)) >>>
      0;
    keyLow = (productLow + 1) >>> 0;
    keyHigh = (productHigh + (keyLow === 0 ? 1 : 0)) >>> 0;
    // j = (b + 1) * (2^31 / ((key >> 33) + 1)), in doubles as in the paper.
    next = Math.floor((bucket + 1) * (TWO_POW_31 / ((keyHigh >>> 1) + 1)));
  }
  return bucket;
}

/**
 * Jump hash of a 64-bit integer key (taken modulo 2^64, so negative keys work as in Java). The key
 * is a bigint or a safe integer; to place a string, hash it first (or use the `JumpHash` class).
 */
export function jumpHash(key: bigint | number, buckets: number): number {
  const unsigned = BigInt.asUintN(64, integerKey(key));
  const high = Number(unsigned >> 32n);
  const low = Number(unsigned & 0xffffffffn);
  return jumpBucket(high, low, buckets);
}

function integerKey(key: unknown): bigint {
  if (typeof key === 'bigint') return key;
  if (typeof key === 'number' && Number.isSafeInteger(key)) return BigInt(key);
  return fail(
    ConsistentHashingErrorCode.INVALID_KEY,
    `jumpHash(key, buckets): key must be a bigint or a safe integer, got ${preview(key)}` +
      (typeof key === 'string' ? ' (hash a string key first, or use the JumpHash class)' : ''),
  );
}

export interface JumpHashOptions {
  /** Initial nodes, numbered in this order (bucket 0 first). Weights are not supported. */
  nodes?: Iterable<string | NodeSpec>;
}

/**
 * Named nodes over jump hash: bucket i is the i-th node added. Adding a node appends a bucket
 * (minimal movement). Removing the last-added node is minimal too; removing any other node moves
 * the last node into its bucket, which also reshuffles the last node's keys (about twice the ideal
 * movement). Answers depend on the order nodes were added, by design: keep the same order everywhere.
 */
export class JumpHash implements Placement {
  readonly algorithm = 'jump';
  private readonly buckets: string[] = [];
  private readonly bucketOf = new Map<string, number>();

  constructor(options: JumpHashOptions = {}) {
    for (const node of normalizeNodes(options.nodes)) this.add(node.id, { weight: node.weight });
  }

  get size(): number {
    return this.buckets.length;
  }

  /** Node ids in bucket order. */
  nodes(): string[] {
    return [...this.buckets];
  }

  has(node: string): boolean {
    return this.bucketOf.has(node);
  }

  add(node: string, options: { weight?: number | undefined } = {}): void {
    assertNodeId(node);
    if (normalizeWeight(node, options.weight) !== 1) {
      fail(
        ConsistentHashingErrorCode.UNSUPPORTED,
        `jump hash has no weights: node "${node}" must have weight 1`,
      );
    }
    if (this.bucketOf.has(node))
      fail(ConsistentHashingErrorCode.DUPLICATE_NODE, `node "${node}" is already a member`);
    if (this.buckets.length >= JUMP_BUCKETS_MAX)
      fail(ConsistentHashingErrorCode.LIMIT_EXCEEDED, 'too many buckets');
    this.bucketOf.set(node, this.buckets.length);
    this.buckets.push(node);
  }

  remove(node: string): void {
    const bucket = this.bucketOf.get(node);
    if (bucket === undefined) fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not a member`);
    const last = this.buckets.pop()!;
    this.bucketOf.delete(node);
    if (last !== node) {
      this.buckets[bucket] = last;
      this.bucketOf.set(last, bucket);
    }
  }

  lookup(key: Key): string {
    const count = this.buckets.length;
    if (count === 0) fail(ConsistentHashingErrorCode.EMPTY, 'lookup on a jump hash with no nodes');
    hashPosition(key);
    return this.buckets[jumpBucket(lastHashHigh(), lastHashLow(), count)]!;
  }
}
