import type { KeyVersions } from './transport.js';
import { onlyTombstonesBefore, type Version } from './version.js';

/**
 * A node's local storage, as the replica sees it: each key maps to its sibling set (tombstones
 * included). The kv-store implements this over its commit log + memtable + SSTables; the library
 * ships `MemoryReplicaStore` for tests and the simulation.
 *
 * Contract (the store's half of "no acknowledged write is lost"):
 * - `update` is atomic per key: two concurrent updates of one key never both read the same state.
 * - When the promise of `update` resolves, the new state is durable (a crash after it keeps it).
 * - The store never drops a version on its own, except tombstones past the grace period
 *   (compaction), and then it tells the replica (`Replica.refresh`) so its Merkle tree follows.
 */
export interface ReplicaStore {
  /** The key's versions; empty when the key is unknown. */
  read(key: string): Promise<Version[]>;
  /**
   * Replaces the key's versions with `update(current)`, atomically, and returns the new set. An
   * empty result removes the key. If `update` throws, nothing changes and the error propagates.
   */
  update(key: string, update: (current: readonly Version[]) => Version[]): Promise<Version[]>;
  /** Every key with its versions, in any order (for rebuilding Merkle trees). */
  entries(): AsyncIterable<KeyVersions>;
}

/** A `ReplicaStore` in a Map. Durable only in the sense the simulation needs: it survives `crash`. */
export class MemoryReplicaStore implements ReplicaStore {
  private readonly data = new Map<string, Version[]>();

  async read(key: string): Promise<Version[]> {
    return this.data.get(key) ?? [];
  }

  async update(key: string, update: (current: readonly Version[]) => Version[]): Promise<Version[]> {
    const next = update(this.data.get(key) ?? []);
    if (next.length === 0) this.data.delete(key);
    else this.data.set(key, next);
    return next;
  }

  async *entries(): AsyncIterable<KeyVersions> {
    // Keys are listed up front, values read as each is yielded: a write during the scan is seen.
    for (const key of [...this.data.keys()]) {
      const versions = this.data.get(key);
      if (versions !== undefined) yield { key, versions };
    }
  }

  /** Synchronous read, for test assertions and the simulation's oracle. */
  peek(key: string): readonly Version[] {
    return this.data.get(key) ?? [];
  }

  keys(): string[] {
    return [...this.data.keys()];
  }

  get size(): number {
    return this.data.size;
  }

  /**
   * What compaction does after the grace period: forgets keys whose versions are all tombstones
   * minted before `beforeMs`. Returns the keys it removed (pass them to `Replica.refresh`).
   */
  purgeTombstones(beforeMs: number): string[] {
    const purged: string[] = [];
    for (const [key, versions] of this.data) {
      if (onlyTombstonesBefore(versions, beforeMs)) {
        this.data.delete(key);
        purged.push(key);
      }
    }
    return purged;
  }
}
