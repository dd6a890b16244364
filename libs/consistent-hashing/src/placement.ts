/**
 * The small interface every algorithm implements, so one harness can compare them: nodes come and go,
 * and `lookup` says which node owns a key. Richer, algorithm-specific operations (preference lists,
 * moved ranges, load tracking) live on the classes themselves.
 */
import { ConsistentHashingErrorCode, fail } from './errors.js';
import type { Key } from './hash.js';

/** Node ids are compared and hashed as strings; longer ids are almost certainly a bug. */
export const MAX_NODE_ID_LENGTH = 256;
/** Weights are relative; this bound keeps shares and virtual node counts finite and sane. */
export const MAX_WEIGHT = 1_000_000;

export type Algorithm = 'ring' | 'jump' | 'rendezvous' | 'maglev' | 'bounded-load' | 'modulo';

export interface NodeSpec {
  id: string;
  /** Relative capacity: a node of weight 2 gets twice the keys of a node of weight 1. Default 1. */
  weight?: number | undefined;
}

export interface NodeOptions {
  weight?: number | undefined;
}

export interface Placement {
  readonly algorithm: Algorithm;
  /** The number of (physical) nodes. */
  readonly size: number;
  nodes(): string[];
  has(node: string): boolean;
  /** Throws `CH_ERR_DUPLICATE_NODE` for a member, `CH_ERR_INVALID_WEIGHT` for a bad weight. */
  add(node: string, options?: NodeOptions): void;
  /** Throws `CH_ERR_UNKNOWN_NODE` for a non-member. */
  remove(node: string): void;
  /** The node that owns `key`. Throws `CH_ERR_EMPTY` when there are no nodes. */
  lookup(key: Key): string;
}

export function assertNodeId(node: unknown): asserts node is string {
  if (typeof node !== 'string' || node.length === 0 || node.length > MAX_NODE_ID_LENGTH) {
    fail(
      ConsistentHashingErrorCode.INVALID_NODE,
      `a node id must be a string of 1 to ${MAX_NODE_ID_LENGTH} characters, got ${preview(node)}`,
    );
  }
}

/** The weight, defaulted to 1, after checking it is a finite number in (0, MAX_WEIGHT]. */
export function normalizeWeight(node: string, weight: number | undefined): number {
  if (weight === undefined) return 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0 || weight > MAX_WEIGHT) {
    fail(
      ConsistentHashingErrorCode.INVALID_WEIGHT,
      `weight of node "${node}" must be a finite number in (0, ${MAX_WEIGHT}], got ${preview(weight)}`,
    );
  }
  return weight;
}

/** Accepts `['a', 'b']` or `[{ id: 'a', weight: 2 }]`, checking ids (weights are checked by `add`). */
export function normalizeNodes(nodes: Iterable<string | NodeSpec> | undefined): NodeSpec[] {
  if (nodes === undefined) return [];
  const specs: NodeSpec[] = [];
  for (const node of nodes) {
    if (typeof node === 'string') {
      specs.push({ id: node });
      continue;
    }
    if (typeof node !== 'object' || node === null) assertNodeId(node);
    assertNodeId(node.id);
    specs.push(node.weight === undefined ? { id: node.id } : { id: node.id, weight: node.weight });
  }
  return specs;
}

export function assertInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(
      ConsistentHashingErrorCode.INVALID_ARGUMENT,
      `${name} must be an integer in [${min}, ${max}], got ${preview(value)}`,
    );
  }
}

export function preview(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  return Array.isArray(value) ? 'an array' : typeof value;
}
