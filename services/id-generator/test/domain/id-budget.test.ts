import { describe, expect, it } from 'vitest';
import { IdBudget } from '../../src/domain/id-budget.js';

/** Turns queued by hand, so each test decides when budget comes back. */
function manualTurns() {
  const pending: (() => void)[] = [];
  return {
    nextTurn: (callback: () => void) => {
      pending.push(callback);
    },
    runTurn: async () => {
      for (const callback of pending.splice(0)) callback();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

const make = (ids: number) => async () => ids;

describe('IdBudget', () => {
  it('starts a request that fits at once, and the next only after the budget came back a turn later', async () => {
    // 10,000 in flight: a second request of 10,000 waits until the first one's turn has passed.
    const turns = manualTurns();
    const budget = new IdBudget({ maxIdsInFlight: 10_000, maxIdsQueued: 10_000 }, turns.nextTurn);
    const order: string[] = [];
    const first = budget.run(10_000, async () => order.push('first'));
    const second = budget.run(10_000, async () => order.push('second'));
    await first;
    expect(order).toEqual(['first']);
    expect(budget.usage).toEqual({ inFlight: 10_000, queued: 10_000 });
    await turns.runTurn();
    await second;
    expect(order).toEqual(['first', 'second']);
  });

  it('refuses to queue more ids than maxIdsQueued, and admits again once the queue drained', async () => {
    const turns = manualTurns();
    const budget = new IdBudget({ maxIdsInFlight: 10_000, maxIdsQueued: 15_000 }, turns.nextTurn);
    const running = [budget.run(10_000, make(1)), budget.run(10_000, make(2))];
    expect(budget.admits(5_000)).toBe(true);
    expect(budget.admits(5_001)).toBe(false);
    await expect(budget.run(5_001, make(3))).rejects.toThrow(RangeError);
    await turns.runTurn();
    await turns.runTurn();
    expect(await Promise.all(running)).toEqual([1, 2]);
    expect(budget.usage).toEqual({ inFlight: 0, queued: 0 });
    expect(budget.admits(10_000)).toBe(true);
  });

  it('serves waiting requests in arrival order: a small one does not overtake a large one', async () => {
    // Otherwise a stream of count=1 requests could starve a count=10,000 one forever.
    const turns = manualTurns();
    const budget = new IdBudget({ maxIdsInFlight: 10_000, maxIdsQueued: 100_000 }, turns.nextTurn);
    const order: number[] = [];
    const runs = [
      budget.run(9_000, async () => order.push(9_000)),
      budget.run(10_000, async () => order.push(10_000)),
      budget.run(1, async () => order.push(1)),
    ];
    await runs[0];
    expect(budget.admits(1)).toBe(true);
    expect(order).toEqual([9_000]);
    await turns.runTurn();
    await turns.runTurn();
    await Promise.all(runs);
    expect(order).toEqual([9_000, 10_000, 1]);
  });

  it('returns the budget when making the ids fails', async () => {
    const turns = manualTurns();
    const budget = new IdBudget({ maxIdsInFlight: 10_000, maxIdsQueued: 0 }, turns.nextTurn);
    await expect(
      budget.run(10_000, async () => {
        throw new Error('database down');
      }),
    ).rejects.toThrow('database down');
    await turns.runTurn();
    expect(budget.usage).toEqual({ inFlight: 0, queued: 0 });
  });

  it('refuses limits below one full request', () => {
    expect(() => new IdBudget({ maxIdsInFlight: 9_999, maxIdsQueued: 0 })).toThrow(RangeError);
    expect(() => new IdBudget({ maxIdsInFlight: 10_000, maxIdsQueued: -1 })).toThrow(RangeError);
  });
});
