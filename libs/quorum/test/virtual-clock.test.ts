import { describe, expect, it } from 'vitest';
import { isQuorumError, QuorumErrorCode, sleep } from '../src/index.js';
import { VirtualClock } from '../src/testing.js';

describe('VirtualClock', () => {
  it('reports a clock that is awaited but never driven, and names the calls that drive it', async () => {
    const stalls: unknown[] = [];
    const clock = new VirtualClock(0, { stallTimeoutMs: 20, onStall: (error) => stalls.push(error) });
    const slept = sleep(clock, 1000);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(stalls).toHaveLength(1);
    expect(isQuorumError(stalls[0], QuorumErrorCode.CLOCK_STALLED)).toBe(true);
    expect((stalls[0] as Error).message).toContain('clock.run(promise)');
    await clock.run(slept);
  });

  it('stays quiet for a clock that is driven, even with timers left pending afterwards', async () => {
    const stalls: unknown[] = [];
    const clock = new VirtualClock(0, { stallTimeoutMs: 20, onStall: (error) => stalls.push(error) });
    await clock.run(sleep(clock, 10));
    void sleep(clock, 1000);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(stalls).toEqual([]);
  });

  it('can be told not to watch (stallTimeoutMs: 0)', async () => {
    const stalls: unknown[] = [];
    const clock = new VirtualClock(0, { stallTimeoutMs: 0, onStall: (error) => stalls.push(error) });
    void sleep(clock, 10);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(stalls).toEqual([]);
  });
});
