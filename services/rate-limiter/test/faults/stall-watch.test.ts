import { describe, expect, it } from 'vitest';
import { stalledMsWithin, watchStalls } from './stall-watch.js';

describe('watchStalls', () => {
  it('records a stretch in which the event loop stood still, covering it whole', async () => {
    // 250 ms of synchronous work blocks every timer: one stall must span it.
    const originMs = performance.now();
    const watch = watchStalls(originMs);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const busyFromMs = performance.now() - originMs;
    while (performance.now() - originMs < busyFromMs + 250) {
      // Busy: nothing else runs.
    }
    const busyToMs = performance.now() - originMs;
    await new Promise((resolve) => setTimeout(resolve, 60));
    const stalls = watch.stop();
    const covering = stalls.filter((stall) => stall.startMs <= busyFromMs && stall.endMs >= busyToMs);
    expect(covering, JSON.stringify(stalls)).toHaveLength(1);
    expect(covering[0]!.cpuPercent).toBeGreaterThan(0);
  });

  it('adds up how late the timers ran, short delays included, within a window', async () => {
    const originMs = performance.now();
    const watch = watchStalls(originMs);
    await new Promise((resolve) => setTimeout(resolve, 60));
    // Five short blocks of 40 ms: none is a stall, each delays a 20 ms tick by up to 40 ms.
    const fromMs = performance.now() - originMs;
    for (let block = 0; block < 5; block++) {
      const until = performance.now() + 40;
      while (performance.now() < until) {
        // Busy.
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const toMs = performance.now() - originMs;
    await new Promise((resolve) => setTimeout(resolve, 60));
    watch.stop();
    const lateMs = watch.lateMsWithin(fromMs, toMs);
    expect(lateMs).toBeGreaterThanOrEqual(50);
    expect(lateMs).toBeLessThanOrEqual(toMs - fromMs);
    expect(watch.lateMsWithin(toMs + 1_000, toMs + 2_000)).toBe(0);
  });
});

describe('stalledMsWithin', () => {
  const stalls = [
    { startMs: 100, endMs: 200, cpuPercent: 5 },
    { startMs: 300, endMs: 450, cpuPercent: 90 },
  ];

  it('adds the parts of each stall inside the span', () => {
    expect(stalledMsWithin(stalls, 0, 1_000)).toBe(250);
    expect(stalledMsWithin(stalls, 150, 350)).toBe(100);
    expect(stalledMsWithin(stalls, 200, 300)).toBe(0);
    expect(stalledMsWithin([], 0, 1_000)).toBe(0);
  });
});
