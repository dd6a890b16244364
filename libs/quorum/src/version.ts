import { hash52 } from './hash.js';
import { type ClockEntry, counterOf, mergeClocks, type VectorClock, withEntry } from './vector-clock.js';

/**
 * A version of a key's value: the value (or `null`, a tombstone: a delete is a write of "nothing"),
 * the `dot` that names the write (actor + counter, unique across the cluster), and `clock`, the
 * causal context the writer had read: every version whose dot that clock covers is one this
 * version supersedes.
 *
 * Why a dot beside the clock (a dotted version vector) rather than Dynamo's plain clock: the
 * replica that coordinates a write stamps it with its own counter. With a plain clock that stamp
 * is `context + 1 at this replica`, and if the replica already holds a concurrent sibling written
 * through it, the new clock is greater than the sibling's and the sibling is silently dropped: a
 * lost update (Riak's "vnode vclocks" bug). Here the new version covers only what its writer read
 * (its `clock`) plus itself (its `dot`), so the untouched sibling survives as a sibling.
 */
export interface Version {
  readonly dot: ClockEntry;
  readonly clock: VectorClock;
  /** The value bytes; `null` for a tombstone. */
  readonly value: Uint8Array | null;
}

/** Everything the version has seen, itself included: its clock plus its dot. */
export function fullClock(version: Version): VectorClock {
  return counterOf(version.clock, version.dot.actor) >= version.dot.counter
    ? version.clock
    : withEntry(version.clock, version.dot);
}

/** True when `newer` supersedes `older`: `newer`'s writer had seen `older`'s write. */
export function supersedes(newer: Version, older: Version): boolean {
  if (sameDot(newer.dot, older.dot)) return false;
  return counterOf(newer.clock, older.dot.actor) >= older.dot.counter;
}

export function sameDot(a: ClockEntry, b: ClockEntry): boolean {
  return a.actor === b.actor && a.counter === b.counter;
}

export function isTombstone(version: Version): boolean {
  return version.value === null;
}

/**
 * The sibling set of `versions`: duplicates (same dot) collapsed, versions superseded by another
 * dropped, concurrent ones kept. Sorted by dot, so equal sets are equal arrays. Tombstones take
 * part like any version: a delete supersedes what its writer read, and is itself superseded by a
 * later write.
 */
export function reconcile(...sets: ReadonlyArray<readonly Version[]>): Version[] {
  const byDot = new Map<string, Version>();
  for (const set of sets) {
    for (const version of set) {
      const key = dotKey(version.dot);
      if (!byDot.has(key)) byDot.set(key, version);
    }
  }
  const all = [...byDot.values()];
  const survivors = all.filter((candidate) => !all.some((other) => supersedes(other, candidate)));
  return survivors.sort(compareVersions);
}

/** The context a client sends back to write on top of `versions`: the merge of their full clocks. */
export function contextOf(versions: readonly Version[]): VectorClock {
  return mergeClocks(...versions.map(fullClock));
}

/** Values of the live (non-tombstone) versions. */
export function liveValues(versions: readonly Version[]): Uint8Array[] {
  const values: Uint8Array[] = [];
  for (const version of versions) if (version.value !== null) values.push(version.value);
  return values;
}

/**
 * A 52-bit digest of a sibling set, for Merkle leaves. A dot names exactly one write, so the set of
 * dots (and which are tombstones) names the set; values need not be hashed.
 */
export function digestVersions(versions: readonly Version[]): number {
  let text = '';
  for (const version of [...versions].sort(compareVersions)) {
    text += `${version.dot.actor}\u0000${version.dot.counter}\u0000${version.value === null ? 't' : 'v'}\u0001`;
  }
  return hash52(text);
}

/** Approximate bytes a version takes on the wire or in memory: value, clock and dot. */
export function versionBytes(version: Version): number {
  let bytes = (version.value?.byteLength ?? 0) + 32 + version.dot.actor.length;
  for (const entry of version.clock) bytes += entry.actor.length + 16;
  return bytes;
}

export function versionsBytes(versions: readonly Version[]): number {
  let bytes = 0;
  for (const version of versions) bytes += versionBytes(version);
  return bytes;
}

/** True when every version is a tombstone minted before `beforeMs` (nothing is left to protect). */
export function onlyTombstonesBefore(versions: readonly Version[], beforeMs: number): boolean {
  return (
    versions.length > 0 &&
    versions.every((version) => version.value === null && version.dot.timeMs < beforeMs)
  );
}

export function dotKey(dot: ClockEntry): string {
  return `${dot.actor}\u0000${dot.counter}`;
}

export function formatDot(dot: ClockEntry): string {
  return `${dot.actor}:${dot.counter}`;
}

function compareVersions(a: Version, b: Version): number {
  if (a.dot.actor !== b.dot.actor) return a.dot.actor < b.dot.actor ? -1 : 1;
  return a.dot.counter - b.dot.counter;
}
