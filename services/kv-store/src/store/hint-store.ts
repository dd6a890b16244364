import {
  assertHintCapacity,
  DEFAULT_HINT_LIMITS,
  digestVersions,
  type HintEntry,
  type HintLimits,
  type HintStats,
  type HintStore,
  type NodeId,
  type Version,
  versionsBytes,
} from '@sysdesign/quorum';
import type { StorageEngine, StoredEntry } from '../storage/index.js';
import { CorruptRecordError, decodeHint, encodeHint, type HintRecord } from './version-codec.js';

/**
 * Hints on disk: writes this node accepted for replicas that were down (as a sloppy-quorum
 * fallback, or as the coordinator of a write a replica missed), kept in their own storage engine
 * under DATA_DIR/hints so they survive a restart of this node and are still handed off.
 *
 * The engine holds one record per key (owners, last update time, versions: version-codec.ts);
 * memory holds only an index of keys, owners, sizes and ages, rebuilt by one scan at open, which
 * answers `owners`, `pending` (oldest first) and the bounds without touching the disk. Every change
 * goes through `engine.update`, atomic per key, so a hand-off that races a new hint for the same
 * key never drops the new one (`delivered` compares digests inside the update).
 *
 * Bounds (`maxEntries`, `maxBytes`) are checked against the index inside the update; concurrent
 * updates of different keys may overshoot them by the writes in flight at once.
 */

interface IndexEntry {
  owners: NodeId[];
  bytes: number;
  updatedAtMs: number;
}

export class EngineHintStore implements HintStore {
  private readonly engine: StorageEngine;
  private readonly limits: HintLimits;
  /** Keys in order of last update, oldest first (a Map keeps insertion order; updates re-insert). */
  private readonly index = new Map<string, IndexEntry>();
  private bytes = 0;
  private refused = 0;
  private expired = 0;
  private stored = 0;

  private constructor(engine: StorageEngine, limits: HintLimits) {
    this.engine = engine;
    this.limits = limits;
  }

  /** Loads the index from the engine's records. */
  static async open(engine: StorageEngine, limits: Partial<HintLimits> = {}): Promise<EngineHintStore> {
    const store = new EngineHintStore(engine, { ...DEFAULT_HINT_LIMITS, ...limits });
    const loaded: Array<[string, IndexEntry]> = [];
    for await (const entry of engine.entries()) {
      const record = store.recordOf(entry);
      if (record === undefined) continue;
      loaded.push([entry.key, indexEntryOf(record)]);
    }
    loaded.sort((a, b) => a[1].updatedAtMs - b[1].updatedAtMs);
    for (const [key, entry] of loaded) store.setIndex(key, entry);
    return store;
  }

  async update(
    owner: NodeId,
    key: string,
    update: (current: readonly Version[]) => Version[],
    nowMs: number,
  ): Promise<Version[]> {
    let next = undefined as HintRecord | undefined;
    await this.engine.update(key, (current) => {
      const record = this.recordOf(current);
      const versions = update(record?.versions ?? []);
      const bytes = versionsBytes(versions);
      const known = this.index.get(key);
      try {
        assertHintCapacity(
          this.limits,
          { entries: this.index.size, totalBytes: this.bytes },
          known?.bytes,
          bytes,
        );
      } catch (error) {
        this.refused++;
        throw error;
      }
      const owners =
        record === undefined
          ? [owner]
          : record.owners.includes(owner)
            ? record.owners
            : [...record.owners, owner];
      next = { owners, updatedAtMs: Math.floor(nowMs), versions };
      return { kind: 'value', value: encodeHint(next) };
    });
    const written = next!;
    this.engine.quarantine.release(key);
    this.setIndex(key, indexEntryOf(written));
    this.stored++;
    return written.versions;
  }

  async read(key: string): Promise<Version[]> {
    if (!this.index.has(key)) return [];
    return this.recordOf(await this.engine.get(key))?.versions ?? [];
  }

  async owners(): Promise<NodeId[]> {
    const owners = new Set<NodeId>();
    for (const entry of this.index.values()) for (const owner of entry.owners) owners.add(owner);
    return [...owners];
  }

  async pending(owner: NodeId, limit: number): Promise<HintEntry[]> {
    const keys: string[] = [];
    for (const [key, entry] of this.index) {
      if (keys.length >= limit) break;
      if (entry.owners.includes(owner)) keys.push(key);
    }
    const owed: HintEntry[] = [];
    for (const key of keys) {
      const record = this.recordOf(await this.engine.get(key));
      if (record === undefined || !record.owners.includes(owner)) continue;
      owed.push({
        key,
        versions: record.versions,
        owners: record.owners,
        bytes: versionsBytes(record.versions),
        updatedAtMs: record.updatedAtMs,
      });
    }
    return owed;
  }

  async delivered(owner: NodeId, key: string, digest: number): Promise<void> {
    let remaining = undefined as HintRecord | undefined;
    let changed = false as boolean;
    await this.engine.update(key, (current) => {
      const record = this.recordOf(current);
      // Versions added since the hand-off was read: the owner is still owed the newer set.
      if (record === undefined || digestVersions(record.versions) !== digest) return undefined;
      const owners = record.owners.filter((known) => known !== owner);
      if (owners.length === record.owners.length) return undefined;
      changed = true;
      if (owners.length === 0) return { kind: 'tombstone' };
      remaining = { ...record, owners };
      return { kind: 'value', value: encodeHint(remaining) };
    });
    if (!changed) return;
    if (remaining === undefined) this.deleteIndex(key);
    else {
      // Same age: a partial hand-off does not make a hint younger.
      const entry = this.index.get(key);
      if (entry !== undefined) entry.owners = remaining.owners;
    }
  }

  async expire(nowMs: number): Promise<number> {
    const old: string[] = [];
    for (const [key, entry] of this.index) {
      if (nowMs - entry.updatedAtMs <= this.limits.maxAgeMs) break;
      old.push(key);
    }
    let expired = 0;
    for (const key of old) {
      let dropped = false as boolean;
      await this.engine.update(key, (current) => {
        const record = this.recordOf(current);
        if (record === undefined || nowMs - record.updatedAtMs <= this.limits.maxAgeMs) return undefined;
        dropped = true;
        return { kind: 'tombstone' };
      });
      if (!dropped) continue;
      this.deleteIndex(key);
      expired++;
    }
    this.expired += expired;
    return expired;
  }

  stats(): HintStats & { stored: number } {
    return {
      entries: this.index.size,
      bytes: this.bytes,
      refused: this.refused,
      expired: this.expired,
      stored: this.stored,
    };
  }

  /** The hint in `entry`; an undecodable one quarantines its key and reads as absent (storage/quarantine.ts). */
  private recordOf(entry: StoredEntry | undefined): HintRecord | undefined {
    if (entry?.kind !== 'value') return undefined;
    try {
      return decodeHint(entry.value);
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
      this.engine.quarantine.add(entry.key, error.message, entry.value.byteLength);
      return undefined;
    }
  }

  private setIndex(key: string, entry: IndexEntry): void {
    this.deleteIndex(key);
    this.index.set(key, entry);
    this.bytes += entry.bytes;
  }

  private deleteIndex(key: string): void {
    const known = this.index.get(key);
    if (known === undefined) return;
    this.index.delete(key);
    this.bytes -= known.bytes;
  }
}

function indexEntryOf(record: HintRecord): IndexEntry {
  return { owners: record.owners, bytes: versionsBytes(record.versions), updatedAtMs: record.updatedAtMs };
}
