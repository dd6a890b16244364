/**
 * `hash(key) mod n`: the naive scheme consistent hashing replaces, kept as the yardstick. Shares are as
 * even as hashing allows, and lookup is one division, but changing n remaps almost every key: a join
 * moves about n/(n+1) of them where the ideal is 1/(n+1). Nodes are numbered in the order added.
 */
import { ConsistentHashingErrorCode, fail } from './errors.js';
import { hashPosition, type Key } from './hash.js';
import {
  assertNodeId,
  type NodeOptions,
  type NodeSpec,
  normalizeNodes,
  normalizeWeight,
  type Placement,
} from './placement.js';

export interface ModuloHashOptions {
  nodes?: Iterable<string | NodeSpec>;
}

export class ModuloHash implements Placement {
  readonly algorithm = 'modulo';
  private nodeList: string[] = [];

  constructor(options: ModuloHashOptions = {}) {
    for (const node of normalizeNodes(options.nodes)) this.add(node.id, { weight: node.weight });
  }

  get size(): number {
    return this.nodeList.length;
  }

  /** Node ids in the order added (bucket order). */
  nodes(): string[] {
    return [...this.nodeList];
  }

  has(node: string): boolean {
    return this.nodeList.includes(node);
  }

  add(node: string, options: NodeOptions = {}): void {
    assertNodeId(node);
    if (normalizeWeight(node, options.weight) !== 1) {
      fail(
        ConsistentHashingErrorCode.UNSUPPORTED,
        `modulo hashing has no weights: node "${node}" must have weight 1`,
      );
    }
    if (this.has(node)) fail(ConsistentHashingErrorCode.DUPLICATE_NODE, `node "${node}" is already a member`);
    this.nodeList.push(node);
  }

  remove(node: string): void {
    const index = this.nodeList.indexOf(node);
    if (index < 0) fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not a member`);
    this.nodeList.splice(index, 1);
  }

  lookup(key: Key): string {
    const count = this.nodeList.length;
    if (count === 0) fail(ConsistentHashingErrorCode.EMPTY, 'lookup with no nodes');
    return this.nodeList[hashPosition(key) % count]!;
  }
}
