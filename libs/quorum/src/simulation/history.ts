import type { ClockEntry } from '../vector-clock.js';
import { counterOf } from '../vector-clock.js';
import { dotKey, formatDot, type Version } from '../version.js';

/**
 * The record of a simulated run and the checks made on it. Every write has a unique value, so a
 * value read back names the write that produced it.
 *
 * The central check: a write acknowledged (W replicas stored it) before a read started must be in
 * that read's answer, or be superseded there, i.e. some returned version's clock covers the
 * write's dot. A version's clock only covers what its writer read (see `Version`), so "superseded"
 * means "overwritten by a client that had seen it", never "lost".
 */

export type WriteOutcome = 'acknowledged' | 'failed' | 'unknown';

export interface WriteRecord {
  kind: 'put' | 'delete';
  client: number;
  key: string;
  /** The value written (unique per write); null for a delete. */
  value: string | null;
  startMs: number;
  endMs: number;
  outcome: WriteOutcome;
  /** The dot of the version created, known when the write was acknowledged. */
  dot?: ClockEntry;
}

export interface ReadRecord {
  client: number;
  key: string;
  startMs: number;
  endMs: number;
  ok: boolean;
  versions?: Version[];
}

export interface ReadCheck {
  /** Acknowledged writes missing from the read (neither present nor superseded). */
  missing: WriteRecord[];
  /** Values read that no write ever wrote. */
  phantoms: string[];
}

const decoder = new TextDecoder();

export function decodeValue(value: Uint8Array): string {
  return decoder.decode(value);
}

export class History {
  readonly writes: WriteRecord[] = [];
  readonly reads: ReadRecord[] = [];
  private readonly acknowledgedByKey = new Map<string, WriteRecord[]>();
  private readonly writtenValues = new Set<string>();
  private readonly valueOfDot = new Map<string, string | null>();

  /** Called when a write is issued, before it is known to succeed: its value may show up anyway. */
  noteAttempt(value: string | null): void {
    if (value !== null) this.writtenValues.add(value);
  }

  recordWrite(record: WriteRecord): void {
    this.writes.push(record);
    if (record.outcome !== 'acknowledged' || record.dot === undefined) return;
    let list = this.acknowledgedByKey.get(record.key);
    if (list === undefined) {
      list = [];
      this.acknowledgedByKey.set(record.key, list);
    }
    list.push(record);
    this.valueOfDot.set(dotKey(record.dot), record.value);
  }

  recordRead(record: ReadRecord): void {
    this.reads.push(record);
  }

  keys(): string[] {
    const keys = new Set<string>();
    for (const write of this.writes) keys.add(write.key);
    return [...keys].sort();
  }

  /** Checks `versions`, read from `key` at `startMs`, against every write acknowledged before it. */
  check(key: string, startMs: number, versions: readonly Version[]): ReadCheck {
    const missing: WriteRecord[] = [];
    for (const write of this.acknowledgedByKey.get(key) ?? []) {
      if (write.endMs >= startMs) continue;
      if (!covers(versions, write.dot!)) missing.push(write);
    }
    const phantoms: string[] = [];
    for (const version of versions) {
      const expected = this.valueOfDot.get(dotKey(version.dot));
      const actual = version.value === null ? null : decodeValue(version.value);
      if (actual !== null && !this.writtenValues.has(actual)) phantoms.push(actual);
      else if (expected !== undefined && expected !== actual) {
        phantoms.push(`${formatDot(version.dot)} holds ${actual} instead of ${expected}`);
      }
    }
    return { missing, phantoms };
  }
}

/** True when one of `versions` is the write with `dot` or supersedes it. */
export function covers(versions: readonly Version[], dot: ClockEntry): boolean {
  return versions.some(
    (version) =>
      (version.dot.actor === dot.actor && version.dot.counter === dot.counter) ||
      counterOf(version.clock, dot.actor) >= dot.counter,
  );
}
