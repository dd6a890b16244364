import { describe, expect, it } from 'vitest';
import { isStrict, majority, quorumFor, replicasFor } from '../../src/domain/consistency.js';
import { nextIncarnation } from '../../src/domain/incarnation.js';

/** Per-request consistency and the incarnation rule, as plain functions. */

describe('consistency levels', () => {
  it('maps one, quorum and all to 1, a majority and N', () => {
    // Proves the level table for the N values a cluster runs with.
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
    expect(replicasFor('one', 5)).toBe(1);
    expect(replicasFor('quorum', 5)).toBe(3);
    expect(replicasFor('all', 5)).toBe(5);
  });

  it('lets explicit r and w win over the level, and the level over the defaults', () => {
    // Proves the precedence a client relies on when it sends both.
    const defaults = { r: 2, w: 2 };
    expect(quorumFor({}, 3, defaults)).toEqual({ r: 2, w: 2 });
    expect(quorumFor({ consistency: 'all' }, 3, defaults)).toEqual({ r: 3, w: 3 });
    expect(quorumFor({ consistency: 'one', w: 3 }, 3, defaults)).toEqual({ r: 1, w: 3 });
    expect(quorumFor({ r: 1 }, 3, defaults)).toEqual({ r: 1, w: 2 });
  });

  it('calls R + W > N strict', () => {
    // Proves the textbook condition for reads to overlap acknowledged writes.
    expect(isStrict({ r: 2, w: 2 }, 3)).toBe(true);
    expect(isStrict({ r: 1, w: 2 }, 3)).toBe(false);
    expect(isStrict({ r: 3, w: 1 }, 3)).toBe(true);
  });
});

describe('incarnations', () => {
  it('rise on every restart, even several within one second, and even when the record was lost', () => {
    // Proves no two runs of a node share an incarnation (which would reuse vector-clock dots).
    const nowMs = 1_795_000_000_500;
    const first = nextIncarnation(undefined, nowMs);
    expect(first).toBe(1_795_000_000);
    const second = nextIncarnation(first, nowMs);
    expect(second).toBe(first + 1);
    expect(nextIncarnation(second, nowMs + 10)).toBe(second + 1);
    // A clock behind the record: the record wins.
    expect(nextIncarnation(2_000_000_000, nowMs)).toBe(2_000_000_001);
    // The record lost with the disk: the clock alone is still above every earlier run's start.
    expect(nextIncarnation(undefined, nowMs + 60_000)).toBeGreaterThan(second);
  });
});
