/**
 * Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
 * NSDI 2016): a lookup table of M slots (M prime), filled by letting the nodes take turns claiming
 * their next preferred empty slot. Each node's preference order is a permutation of the slots given by
 * (offset + j × skip) mod M, with offset and skip hashed from its id. Lookup is one array read: O(1).
 *
 * Every node ends up with floor(M/n) or ceil(M/n) slots (near-perfect balance), and a membership change
 * moves little more than the minimum. The table is rebuilt on every change (O(M log M)); M is fixed for
 * the table's life, because changing it reshuffles everything: pick M well above the node count (the
 * paper uses M ≥ 100 × n to keep the imbalance under 1%).
 *
 * Weights follow Envoy's weighted Maglev: a node of half the largest weight claims a slot every other
 * turn, so slot counts are proportional to weight.
 */
import { ConsistentHashingErrorCode, fail } from './errors.js';
import { hashPosition, type Key, murmur3x86_32 } from './hash.js';
import {
  assertInteger,
  assertNodeId,
  type NodeOptions,
  type NodeSpec,
  normalizeNodes,
  normalizeWeight,
  type Placement,
} from './placement.js';

/** The paper's small table size: a prime, enough for a few hundred nodes at 1% imbalance. */
export const MAGLEV_DEFAULT_TABLE_SIZE = 65_537;
/** The largest prime below 2^22: 16 MB of table at 4 bytes a slot, built in about 2 s. */
export const MAGLEV_MAX_TABLE_SIZE = 4_194_301;
const OFFSET_SEED = 0x4d4c4f46; // "MLOF"
const SKIP_SEED = 0x4d4c534b; // "MLSK"

export interface MaglevOptions {
  /** Slots in the lookup table: a prime larger than the node count. Default 65,537. */
  tableSize?: number;
  nodes?: Iterable<string | NodeSpec>;
}

export function isPrime(value: number): boolean {
  if (!Number.isInteger(value) || value < 2) return false;
  if (value % 2 === 0) return value === 2;
  for (let divisor = 3; divisor * divisor <= value; divisor += 2) if (value % divisor === 0) return false;
  return true;
}

/** The smallest prime >= value. */
export function nextPrime(value: number): number {
  let candidate = Math.max(2, Math.ceil(value));
  while (!isPrime(candidate)) candidate++;
  return candidate;
}

interface MaglevMember {
  id: string;
  weight: number;
}

export class Maglev implements Placement {
  readonly algorithm = 'maglev';
  readonly tableSize: number;
  /** Sorted by id: the fill order, so every instance builds the same table. */
  private members: MaglevMember[] = [];
  /** Slot → index into members. */
  private table: Int32Array;

  constructor(options: MaglevOptions = {}) {
    const tableSize = options.tableSize ?? MAGLEV_DEFAULT_TABLE_SIZE;
    assertInteger('tableSize', tableSize, 2, MAGLEV_MAX_TABLE_SIZE);
    if (!isPrime(tableSize)) {
      fail(
        ConsistentHashingErrorCode.INVALID_ARGUMENT,
        `tableSize must be prime, got ${tableSize} (next prime: ${nextPrime(tableSize)})`,
      );
    }
    this.tableSize = tableSize;
    this.table = new Int32Array(tableSize).fill(-1);
    const members = normalizeNodes(options.nodes).map((node) => {
      assertNodeId(node.id);
      return { id: node.id, weight: normalizeWeight(node.id, node.weight) };
    });
    const seen = new Set<string>();
    for (const member of members) {
      if (seen.has(member.id))
        fail(ConsistentHashingErrorCode.DUPLICATE_NODE, `node "${member.id}" is listed twice`);
      seen.add(member.id);
    }
    if (members.length > 0) this.install(members);
  }

  get size(): number {
    return this.members.length;
  }

  nodes(): string[] {
    return this.members.map((member) => member.id);
  }

  has(node: string): boolean {
    return this.members.some((member) => member.id === node);
  }

  weightOf(node: string): number {
    const member = this.members.find((candidate) => candidate.id === node);
    if (member === undefined) fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not a member`);
    return member.weight;
  }

  add(node: string, options: NodeOptions = {}): void {
    assertNodeId(node);
    if (this.has(node)) fail(ConsistentHashingErrorCode.DUPLICATE_NODE, `node "${node}" is already a member`);
    const weight = normalizeWeight(node, options.weight);
    this.install([...this.members, { id: node, weight }]);
  }

  remove(node: string): void {
    if (!this.has(node)) fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not a member`);
    this.install(this.members.filter((member) => member.id !== node));
  }

  setWeight(node: string, weight: number): void {
    if (!this.has(node)) fail(ConsistentHashingErrorCode.UNKNOWN_NODE, `node "${node}" is not a member`);
    const normalized = normalizeWeight(node, weight);
    this.install(
      this.members.map((member) => (member.id === node ? { id: node, weight: normalized } : member)),
    );
  }

  lookup(key: Key): string {
    if (this.members.length === 0) fail(ConsistentHashingErrorCode.EMPTY, 'lookup on an empty Maglev table');
    return this.members[this.table[hashPosition(key) % this.tableSize]!]!.id;
  }

  /** Each node's share: its slot count / table size. */
  ownership(): Map<string, number> {
    const counts = new Float64Array(this.members.length);
    if (this.members.length > 0) for (const index of this.table) counts[index]!++;
    const shares = new Map<string, number>();
    for (let index = 0; index < this.members.length; index++) {
      shares.set(this.members[index]!.id, counts[index]! / this.tableSize);
    }
    return shares;
  }

  private install(members: MaglevMember[]): void {
    if (members.length > this.tableSize) {
      fail(
        ConsistentHashingErrorCode.LIMIT_EXCEEDED,
        `${members.length} nodes do not fit a table of ${this.tableSize} slots`,
      );
    }
    members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.table = members.length === 0 ? new Int32Array(this.tableSize).fill(-1) : this.populate(members);
    this.members = members;
  }

  /** The paper's population loop, with Envoy's turn-skipping for weights. */
  private populate(members: MaglevMember[]): Int32Array {
    const size = this.tableSize;
    const count = members.length;
    const table = new Int32Array(size).fill(-1);
    const maxWeight = Math.max(...members.map((member) => member.weight));
    const cursors = new Float64Array(count);
    const skips = new Float64Array(count);
    const turnTargets = new Float64Array(count);
    for (let index = 0; index < count; index++) {
      const id = members[index]!.id;
      cursors[index] = murmur3x86_32(id, OFFSET_SEED) % size;
      skips[index] = (murmur3x86_32(id, SKIP_SEED) % (size - 1)) + 1;
    }
    let filled = 0;
    for (let turn = 0; filled < size; turn++) {
      for (let index = 0; index < count && filled < size; index++) {
        // A node claims a slot on the turns where turn × weight has reached its next target; targets
        // step by the largest weight, so the heaviest node claims every turn (exact for integer weights).
        if (turn * members[index]!.weight < turnTargets[index]!) continue;
        turnTargets[index]! += maxWeight;
        let slot = cursors[index]!;
        while (table[slot] !== -1) {
          slot += skips[index]!;
          if (slot >= size) slot -= size;
        }
        table[slot] = index;
        slot += skips[index]!;
        cursors[index] = slot >= size ? slot - size : slot;
        filled++;
      }
    }
    return table;
  }
}
