import { describe, expect, it } from 'vitest';
import {
  type ClockEntry,
  clockFrom,
  compareClocks,
  counterOf,
  descends,
  EMPTY_CLOCK,
  incrementClock,
  mergeClocks,
  pruneClock,
  type VectorClock,
} from '../src/index.js';
import { Random } from '../src/testing.js';

const clock = (...entries: Array<[string, number, number?]>): VectorClock =>
  clockFrom(entries.map(([actor, counter, timeMs]) => ({ actor, counter, timeMs: timeMs ?? 0 })));

describe('vector clocks', () => {
  it('orders the textbook example: D1 < D2 < D3 and D3, D4 are concurrent', () => {
    // Sx writes D1, Sx writes D2, Sy writes D3 over D2, Sz writes D4 over D2 (Alex Xu, chapter 6).
    const d1 = incrementClock(EMPTY_CLOCK, 'Sx', 1);
    const d2 = incrementClock(d1, 'Sx', 2);
    const d3 = incrementClock(d2, 'Sy', 3);
    const d4 = incrementClock(d2, 'Sz', 4);
    expect(compareClocks(d1, d2)).toBe('before');
    expect(compareClocks(d3, d2)).toBe('after');
    expect(compareClocks(d3, d4)).toBe('concurrent');
    expect(compareClocks(d4, d3)).toBe('concurrent');
    expect(compareClocks(d3, clock(['Sx', 2], ['Sy', 1]))).toBe('equal');
    // The reconciled D5 written by Sx descends from both.
    const d5 = incrementClock(mergeClocks(d3, d4), 'Sx', 5);
    expect(d5.map((entry) => [entry.actor, entry.counter])).toEqual([
      ['Sx', 3],
      ['Sy', 1],
      ['Sz', 1],
    ]);
    expect(descends(d5, d3) && descends(d5, d4)).toBe(true);
  });

  it('treats a missing actor as counter 0, so the empty clock precedes every other', () => {
    // Comparison walks both sorted lists; an actor present on one side only makes that side ahead.
    expect(compareClocks(EMPTY_CLOCK, EMPTY_CLOCK)).toBe('equal');
    expect(compareClocks(EMPTY_CLOCK, clock(['a', 1]))).toBe('before');
    expect(compareClocks(clock(['a', 1]), clock(['b', 1]))).toBe('concurrent');
    expect(counterOf(clock(['a', 4]), 'b')).toBe(0);
  });

  it('agrees with a brute-force definition on 2,000 random pairs', () => {
    // Random clocks over 4 actors, compared against "every counter <= and one <" computed naively.
    const random = new Random(7);
    const actors = ['a', 'b', 'c', 'd'];
    const randomClock = () =>
      clockFrom(
        actors
          .filter(() => random.chance(0.6))
          .map((actor) => ({ actor, counter: random.between(1, 3), timeMs: 0 })),
      );
    for (let round = 0; round < 2000; round++) {
      const a = randomClock();
      const b = randomClock();
      const le = actors.every((actor) => counterOf(a, actor) <= counterOf(b, actor));
      const ge = actors.every((actor) => counterOf(a, actor) >= counterOf(b, actor));
      const expected = le && ge ? 'equal' : le ? 'before' : ge ? 'after' : 'concurrent';
      expect(compareClocks(a, b)).toBe(expected);
      const merged = mergeClocks(a, b);
      for (const actor of actors) {
        expect(counterOf(merged, actor)).toBe(Math.max(counterOf(a, actor), counterOf(b, actor)));
      }
    }
  });

  it('merges to the pointwise maximum, keeping the timestamp of the winning counter', () => {
    // The timestamp rides with the counter it stamped, so pruning later judges the right entry's age.
    const merged = mergeClocks(clock(['a', 2, 200], ['b', 1, 100]), clock(['a', 1, 900], ['c', 5, 50]));
    expect(merged).toEqual([
      { actor: 'a', counter: 2, timeMs: 200 },
      { actor: 'b', counter: 1, timeMs: 100 },
      { actor: 'c', counter: 5, timeMs: 50 },
    ]);
  });

  it('never mutates its inputs', () => {
    // Clocks are shared between versions and messages, so every operation must copy.
    const original = clock(['a', 1, 10]);
    const snapshot = JSON.stringify(original);
    incrementClock(original, 'a', 20);
    mergeClocks(original, clock(['a', 5]));
    pruneClock(clock(['a', 1, 1], ['b', 1, 2]), 1);
    expect(JSON.stringify(original)).toBe(snapshot);
  });

  it('prunes to the bound by dropping the entries updated longest ago, as Dynamo does', () => {
    // 12 actors stamped at times 1..12; a bound of 10 drops the two oldest (t=1 and t=2).
    const entries: ClockEntry[] = Array.from({ length: 12 }, (_, index) => ({
      actor: `node-${String(index).padStart(2, '0')}`,
      counter: 1,
      timeMs: index + 1,
    }));
    const pruned = pruneClock(clockFrom(entries), 10);
    expect(pruned).toHaveLength(10);
    expect(pruned.map((entry) => entry.actor)).not.toContain('node-00');
    expect(pruned.map((entry) => entry.actor)).not.toContain('node-01');
    expect(pruneClock(clockFrom(entries.slice(0, 3)), 10)).toHaveLength(3);
  });

  it('makes a pruned clock look older, which can only add a conflict, never hide one', () => {
    // A clock that lost an entry may compare concurrent with what it used to dominate; never "after".
    const full = clock(['a', 3, 1], ['b', 2, 2], ['c', 1, 3]);
    const pruned = pruneClock(full, 2);
    const older = clock(['a', 2, 0]);
    expect(compareClocks(full, older)).toBe('after');
    expect(compareClocks(pruned, older)).toBe('concurrent');
    expect(compareClocks(pruned, full)).toBe('before');
  });

  it('rejects counters that are not positive integers', () => {
    // A programmer error (contexts from clients are validated before they become clocks).
    expect(() => clockFrom([{ actor: 'a', counter: 0, timeMs: 0 }])).toThrow(/counter/);
    expect(() => clockFrom([{ actor: 'a', counter: 1.5, timeMs: 0 }])).toThrow(/counter/);
    expect(() => clockFrom([{ actor: '', counter: 1, timeMs: 0 }])).toThrow(/actor/);
  });
});
