import {
  type KeyVersions,
  QuorumError,
  QuorumErrorCode,
  type ReplicaStore,
  type Version,
} from '@sysdesign/quorum';
import {
  isStorageError,
  type StorageEngine,
  type StoredEntry,
  type UpdateDecision,
} from '../storage/index.js';
import { CorruptRecordError, decodeVersions, encodeVersions } from './version-codec.js';

/**
 * The replica's store over the node's LSM engine: one engine record per key holding the key's
 * whole sibling set (version-codec.ts).
 *
 * - `update` runs the replica's merge inside `engine.update`, which is atomic per key and resolves
 *   once the record is durable (fsync `always`) or in the kernel (`interval`): the two halves of the
 *   ReplicaStore contract. A merge that changes nothing writes nothing, so replication, read repair
 *   and anti-entropy of a set the replica already holds cost a read, not a log record.
 * - A set of tombstones only is stored as an engine tombstone stamped with its newest delete's
 *   time, so the engine's compaction drops it once the grace period has passed, as anti-entropy
 *   stops spreading it at the same moment (`onlyTombstonesBefore`). The node rebuilds its Merkle
 *   trees after compactions that dropped tombstones (workers/anti-entropy.ts).
 * - A record that does not decode (`CorruptRecordError`) quarantines its key in the engine
 *   (storage/quarantine.ts) and reads as absent, so a recovery scan, a read or a merge goes on;
 *   the next write of the key, a repair from another replica or a client's, replaces the record
 *   and releases the key.
 */
export class EngineReplicaStore implements ReplicaStore {
  private readonly engine: StorageEngine;

  constructor(engine: StorageEngine) {
    this.engine = engine;
  }

  async read(key: string): Promise<Version[]> {
    const entry = await this.engine.get(key);
    return entry === undefined ? [] : this.versionsOf(entry);
  }

  async update(key: string, update: (current: readonly Version[]) => Version[]): Promise<Version[]> {
    let next: Version[] = [];
    try {
      await this.engine.update(key, (current) => {
        next = update(current === undefined ? [] : this.versionsOf(current));
        return decisionFor(current, next);
      });
      this.engine.quarantine.release(key);
    } catch (error) {
      if (isStorageError(error, 'KV_ERR_VALUE_TOO_LARGE')) {
        // The merged set outgrew the engine's record bound: more (or larger) siblings than it keeps.
        throw new QuorumError(
          QuorumErrorCode.TOO_MANY_SIBLINGS,
          `the sibling set of '${key}' is too large to store (${error.message}): read it and write with the merged context`,
        );
      }
      throw error;
    }
    return next;
  }

  async *entries(): AsyncIterable<KeyVersions> {
    for await (const entry of this.engine.entries()) {
      const versions = this.versionsOf(entry);
      if (versions.length > 0) yield { key: entry.key, versions };
    }
  }

  private versionsOf(entry: StoredEntry): Version[] {
    // An empty tombstone is a key whose set the replica emptied; anything else holds a set.
    if (entry.value.byteLength === 0) return [];
    try {
      return decodeVersions(entry.value);
    } catch (error) {
      if (!(error instanceof CorruptRecordError)) throw error;
      this.engine.quarantine.add(entry.key, error.message, entry.value.byteLength);
      return [];
    }
  }
}

/** What to write for `next` over `current`: nothing when the bytes would not change. */
function decisionFor(current: StoredEntry | undefined, next: readonly Version[]): UpdateDecision {
  if (next.length === 0) {
    return current === undefined || current.value.byteLength === 0 ? undefined : { kind: 'tombstone' };
  }
  const bytes = encodeVersions(next);
  if (
    current !== undefined &&
    Buffer.from(current.value.buffer, current.value.byteOffset, current.value.byteLength).equals(bytes)
  ) {
    return undefined;
  }
  let newestDeleteMs = 0;
  for (const version of next) {
    if (version.value !== null) return { kind: 'value', value: bytes };
    newestDeleteMs = Math.max(newestDeleteMs, Math.floor(version.dot.timeMs));
  }
  return { kind: 'tombstone', value: bytes, timestampMs: newestDeleteMs };
}
