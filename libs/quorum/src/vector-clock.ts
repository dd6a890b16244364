import { assert } from './errors.js';

/**
 * Vector clocks: one `[actor, counter]` pair per writer, as in Dynamo. An actor is one incarnation
 * of one node (`http://10.0.0.1:3021#7`): a restarted node writes as a new actor, so a counter is
 * never reused even though it lives in memory.
 *
 * Each entry also carries the wall-clock time its counter was minted. That time plays no part in
 * ordering; it only decides which entries `pruneClock` drops first, the rule Dynamo describes:
 * when a clock grows past its bound, forget the pairs updated longest ago.
 *
 * A clock is a read-only array sorted by actor, with one entry per actor and counters >= 1. Every
 * function returns a new clock; none mutates its input.
 */

export interface ClockEntry {
  readonly actor: string;
  /** Events of this actor seen so far; >= 1. */
  readonly counter: number;
  /** When this actor minted `counter` (milliseconds, the minting node's clock). */
  readonly timeMs: number;
}

export type VectorClock = readonly ClockEntry[];

export type ClockOrder = 'before' | 'after' | 'equal' | 'concurrent';

/** Dynamo's example threshold; the kv-store can raise it (entries cost about 40 bytes each). */
export const DEFAULT_MAX_CLOCK_ENTRIES = 10;

export const EMPTY_CLOCK: VectorClock = Object.freeze([]) as VectorClock;

/** A clock from entries in any order; duplicate actors keep their highest counter. */
export function clockFrom(entries: Iterable<ClockEntry>): VectorClock {
  const byActor = new Map<string, ClockEntry>();
  for (const entry of entries) {
    assert(entry.actor.length > 0, 'clock entry with an empty actor');
    assert(Number.isSafeInteger(entry.counter) && entry.counter >= 1, `clock counter ${entry.counter}`);
    const known = byActor.get(entry.actor);
    if (known === undefined || later(entry, known)) byActor.set(entry.actor, copyEntry(entry));
  }
  return [...byActor.values()].sort(byActorName);
}

/** The counter of `actor` in `clock`; 0 when absent. */
export function counterOf(clock: VectorClock, actor: string): number {
  for (const entry of clock) if (entry.actor === actor) return entry.counter;
  return 0;
}

/**
 * How `a` relates to `b`: `before` when every counter of `a` is <= the one in `b` and one is
 * lower, `after` the other way round, `equal`, or `concurrent` when each has seen an event the
 * other has not. Timestamps are ignored. O(|a| + |b|) by merging the two sorted lists.
 */
export function compareClocks(a: VectorClock, b: VectorClock): ClockOrder {
  let aAhead = false;
  let bAhead = false;
  let indexA = 0;
  let indexB = 0;
  while (indexA < a.length || indexB < b.length) {
    const entryA = a[indexA];
    const entryB = b[indexB];
    if (entryB === undefined || (entryA !== undefined && entryA.actor < entryB.actor)) {
      aAhead = true;
      indexA++;
    } else if (entryA === undefined || entryB.actor < entryA.actor) {
      bAhead = true;
      indexB++;
    } else {
      if (entryA.counter > entryB.counter) aAhead = true;
      else if (entryB.counter > entryA.counter) bAhead = true;
      indexA++;
      indexB++;
    }
    if (aAhead && bAhead) return 'concurrent';
  }
  if (aAhead) return 'after';
  if (bAhead) return 'before';
  return 'equal';
}

/** True when `a` has seen everything `b` has (`after` or `equal`). */
export function descends(a: VectorClock, b: VectorClock): boolean {
  const order = compareClocks(a, b);
  return order === 'after' || order === 'equal';
}

/** The pointwise maximum: a clock that has seen everything any of `clocks` has. */
export function mergeClocks(...clocks: readonly VectorClock[]): VectorClock {
  if (clocks.length === 0) return EMPTY_CLOCK;
  if (clocks.length === 1) return clocks[0]!;
  let merged = clocks[0]!;
  for (let index = 1; index < clocks.length; index++) merged = mergeTwo(merged, clocks[index]!);
  return merged;
}

function mergeTwo(a: VectorClock, b: VectorClock): VectorClock {
  const merged: ClockEntry[] = [];
  let indexA = 0;
  let indexB = 0;
  while (indexA < a.length || indexB < b.length) {
    const entryA = a[indexA];
    const entryB = b[indexB];
    if (entryB === undefined || (entryA !== undefined && entryA.actor < entryB.actor)) {
      merged.push(entryA!);
      indexA++;
    } else if (entryA === undefined || entryB.actor < entryA.actor) {
      merged.push(entryB);
      indexB++;
    } else {
      merged.push(later(entryA, entryB) ? entryA : entryB);
      indexA++;
      indexB++;
    }
  }
  return merged;
}

/** `clock` with `actor`'s counter raised by one and stamped `timeMs`. */
export function incrementClock(clock: VectorClock, actor: string, timeMs: number): VectorClock {
  return withEntry(clock, { actor, counter: counterOf(clock, actor) + 1, timeMs });
}

/** `clock` with `actor` set to exactly `counter` (which must not go backwards). */
export function withEntry(clock: VectorClock, entry: ClockEntry): VectorClock {
  assert(entry.counter >= counterOf(clock, entry.actor), `counter of ${entry.actor} would go backwards`);
  return clockFrom([...clock.filter((known) => known.actor !== entry.actor), entry]);
}

/**
 * Bounds the clock to `maxEntries` by dropping the entries with the oldest timestamps (ties: the
 * actor that sorts last goes first, so the rule is deterministic).
 *
 * What pruning costs: a version whose clock lost an entry no longer proves it has seen that
 * actor's events, so a version it should have superseded may come back as a sibling. Pruning can
 * create false conflicts; it never hides a real one, and never loses a write.
 */
export function pruneClock(clock: VectorClock, maxEntries = DEFAULT_MAX_CLOCK_ENTRIES): VectorClock {
  assert(Number.isInteger(maxEntries) && maxEntries >= 1, `maxEntries must be >= 1, got ${maxEntries}`);
  if (clock.length <= maxEntries) return clock;
  const newestFirst = [...clock].sort((a, b) => b.timeMs - a.timeMs || byActorName(a, b));
  return newestFirst.slice(0, maxEntries).sort(byActorName);
}

/** `[actor:counter, ...]`, for logs and test failures. */
export function formatClock(clock: VectorClock): string {
  return `[${clock.map((entry) => `${entry.actor}:${entry.counter}`).join(', ')}]`;
}

function later(a: ClockEntry, b: ClockEntry): boolean {
  return a.counter > b.counter || (a.counter === b.counter && a.timeMs > b.timeMs);
}

function byActorName(a: ClockEntry, b: ClockEntry): number {
  return a.actor < b.actor ? -1 : a.actor > b.actor ? 1 : 0;
}

/**
 * Entries are copied out of caller-owned objects once, when they enter a clock; after that clocks
 * and entries are shared, typed readonly and never mutated (freezing each would cost more than it
 * guards on the hot path).
 */
function copyEntry(entry: ClockEntry): ClockEntry {
  return { actor: entry.actor, counter: entry.counter, timeMs: entry.timeMs };
}
