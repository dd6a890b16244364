import { InvalidOptionError, QuorumError, QuorumErrorCode } from './errors.js';
import type { NodeId } from './transport.js';
import { digestVersions, type Version, versionsBytes } from './version.js';

/**
 * Hints: writes a fallback node accepted on behalf of a preferred replica that was down (sloppy
 * quorum), kept apart from the node's own data until they are handed back.
 *
 * A hint is kept per key, not per (key, intended replica): when a fallback coordinates a write
 * (mints its dot) it must see every version of the key it holds, whichever replica each was meant
 * for, or its new version could claim to supersede one it never saw. Each entry lists the
 * replicas (`owners`) that still need it; handing it to one removes that owner, and the entry goes
 * when none is left.
 */
export interface HintEntry {
  key: string;
  versions: Version[];
  /** Preferred replicas that have not received these versions yet. */
  owners: NodeId[];
  bytes: number;
  /** Last time versions were added (milliseconds). */
  updatedAtMs: number;
}

export interface HintStore {
  /**
   * Replaces the hinted versions of `key` with `update(current)` and adds `owner` to the replicas
   * owed them. Throws a `QUORUM_ERR_HINTS_FULL` QuorumError when a bound would be exceeded.
   */
  update(
    owner: NodeId,
    key: string,
    update: (current: readonly Version[]) => Version[],
    nowMs: number,
  ): Promise<Version[]>;
  /** Hinted versions of `key` (for any owner); empty when none. */
  read(key: string): Promise<Version[]>;
  /** Nodes that are owed at least one hint. */
  owners(): Promise<NodeId[]>;
  /** Up to `limit` entries owed to `owner`, oldest first. */
  pending(owner: NodeId, limit: number): Promise<HintEntry[]>;
  /**
   * `owner` acknowledged `key` as it was when the digest was taken: drop the owner from the entry,
   * unless versions were added since (then it is still owed the newer set).
   */
  delivered(owner: NodeId, key: string, digest: number): Promise<void>;
  /** Drops entries not updated for longer than the store's maximum age; returns how many. */
  expire(nowMs: number): Promise<number>;
  stats(): HintStats;
}

export interface HintStats {
  entries: number;
  bytes: number;
  /** Hints refused because a bound was reached. */
  refused: number;
  /** Hints dropped by age: anti-entropy is left to repair those replicas. */
  expired: number;
}

export interface HintLimits {
  /** Most keys held as hints. */
  maxEntries: number;
  /** Most bytes (values + clocks) held as hints. */
  maxBytes: number;
  /**
   * Hints not updated for this long are dropped. Cassandra's max_hint_window is 3 hours: a node
   * down longer is expected to be rebuilt by repair, not by replaying hours of writes.
   */
  maxAgeMs: number;
}

export const DEFAULT_HINT_LIMITS: HintLimits = Object.freeze({
  maxEntries: 100_000,
  maxBytes: 256 * 1024 * 1024,
  maxAgeMs: 3 * 60 * 60 * 1000,
});

/**
 * Throws HINTS_FULL when replacing `previousBytes` (undefined for a new key) with `bytes` would
 * take a store holding `entries` keys and `totalBytes` bytes past its bounds. Every HintStore
 * adapter checks the same bounds the same way.
 */
export function assertHintCapacity(
  limits: HintLimits,
  held: { entries: number; totalBytes: number },
  previousBytes: number | undefined,
  bytes: number,
): void {
  const entries = held.entries + (previousBytes === undefined ? 1 : 0);
  const totalBytes = held.totalBytes - (previousBytes ?? 0) + bytes;
  if (entries > limits.maxEntries || totalBytes > limits.maxBytes) {
    throw new QuorumError(
      QuorumErrorCode.HINTS_FULL,
      `hint store full (${held.entries} keys, ${held.totalBytes} bytes; bounds ` +
        `${limits.maxEntries} keys, ${limits.maxBytes} bytes)`,
    );
  }
}

export class MemoryHintStore implements HintStore {
  private readonly limits: HintLimits;
  private readonly entries = new Map<string, HintEntry>();
  private bytes = 0;
  private refused = 0;
  private expired = 0;

  constructor(limits: Partial<HintLimits> = {}) {
    this.limits = { ...DEFAULT_HINT_LIMITS, ...limits };
    for (const [name, value] of Object.entries(this.limits)) {
      if (!(value > 0)) throw new InvalidOptionError(`hints.${name}`, `must be positive, got ${value}`);
    }
  }

  async update(
    owner: NodeId,
    key: string,
    update: (current: readonly Version[]) => Version[],
    nowMs: number,
  ): Promise<Version[]> {
    const known = this.entries.get(key);
    const versions = update(known?.versions ?? []);
    const bytes = versionsBytes(versions);
    try {
      assertHintCapacity(
        this.limits,
        { entries: this.entries.size, totalBytes: this.bytes },
        known?.bytes,
        bytes,
      );
    } catch (error) {
      this.refused++;
      throw error;
    }
    const owners =
      known === undefined ? [owner] : known.owners.includes(owner) ? known.owners : [...known.owners, owner];
    // Re-inserting moves the key to the end of the Map: iteration order is oldest update first.
    this.entries.delete(key);
    this.entries.set(key, { key, versions, owners, bytes, updatedAtMs: nowMs });
    this.bytes += bytes - (known?.bytes ?? 0);
    return versions;
  }

  async read(key: string): Promise<Version[]> {
    return this.entries.get(key)?.versions ?? [];
  }

  async owners(): Promise<NodeId[]> {
    const owners = new Set<NodeId>();
    for (const entry of this.entries.values()) for (const owner of entry.owners) owners.add(owner);
    return [...owners];
  }

  async pending(owner: NodeId, limit: number): Promise<HintEntry[]> {
    const owed: HintEntry[] = [];
    for (const entry of this.entries.values()) {
      if (owed.length >= limit) break;
      if (entry.owners.includes(owner)) owed.push(entry);
    }
    return owed;
  }

  async delivered(owner: NodeId, key: string, digest: number): Promise<void> {
    const entry = this.entries.get(key);
    if (entry === undefined || digestVersions(entry.versions) !== digest) return;
    const owners = entry.owners.filter((known) => known !== owner);
    if (owners.length > 0) {
      entry.owners = owners;
      return;
    }
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  async expire(nowMs: number): Promise<number> {
    let expired = 0;
    for (const [key, entry] of this.entries) {
      if (nowMs - entry.updatedAtMs <= this.limits.maxAgeMs) break;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
      expired++;
    }
    this.expired += expired;
    return expired;
  }

  stats(): HintStats {
    return {
      entries: this.entries.size,
      bytes: this.bytes,
      refused: this.refused,
      expired: this.expired,
    };
  }

  /** Synchronous view, for tests and the simulation's convergence check. */
  peek(): readonly HintEntry[] {
    return [...this.entries.values()];
  }
}
