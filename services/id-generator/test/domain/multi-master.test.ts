import { describe, expect, it } from 'vitest';
import { assignServers, interleave } from '../../src/domain/multi-master.js';
import { firstIdAbove } from '../../src/store/ticket-store.js';

describe('multi-master balancer', () => {
  it('hands ids out round-robin and continues where the last request stopped', () => {
    const first = assignServers(5, 3, 0);
    expect(first.perId).toEqual([1, 2, 3, 1, 2]);
    expect(first.counts).toEqual([2, 2, 1]);
    const second = assignServers(2, 3, first.next);
    expect(second.perId).toEqual([3, 1]);
  });

  it('interleaves per-server ids back into hand-out order', () => {
    const { perId } = assignServers(5, 2, 0);
    expect(
      interleave(perId, [
        [1n, 3n, 5n],
        [2n, 4n],
      ]),
    ).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(() => interleave(perId, [[1n], [2n, 4n]])).toThrow(/too few/);
  });

  it('restarts each server above the highest id when k changes', () => {
    // After ids up to 10 with k=2, k=3 servers must start at 11, 12, 13 in their residues.
    expect([1, 2, 3].map((server) => firstIdAbove(10n, server, 3))).toEqual([13n, 11n, 12n]);
    for (const server of [1, 2, 3]) expect(firstIdAbove(10n, server, 3) % 3n).toBe(BigInt(server % 3));
  });
});
