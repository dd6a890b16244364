/**
 * Stalls of this process. The fault suite's clients, its four service instances and the proxy share
 * one event loop, so when the process stands still (a major GC over a long run's history, or the
 * machine not scheduling it under load) every check in flight waits at once, and a Redis timer that
 * fell due meanwhile fires before the reply that arrived is read: the instance answers by its fail
 * mode, as it would after any pause of its process. A ticker measures each stall's start and end in
 * the run's time, and how much of it the process spent on a CPU: near 0 % it was starved by the
 * machine; near or above 100 % (the GC works on several threads) it was busy itself.
 */

export interface Stall {
  startMs: number;
  endMs: number;
  cpuPercent: number;
}

const TICK_MS = 20;
/** Shorter stalls fit in the checker's scheduling slack. */
const MIN_STALL_MS = 100;

/** Late ticks shorter than this are the timer's own jitter, not the machine's. */
const MIN_LATE_MS = 5;

export interface StallWatch {
  /** Ends the watch; the stalls, times from `originMs` (performance.now()). */
  stop(): Stall[];
  /**
   * How late this process's timers ran in all between `fromMs` and `toMs`: every late tick, the
   * short ones too. A loaded machine delays each timer a little, and a bound made of several
   * timers in a row (the breaker's threshold x timeout) is late by their sum.
   */
  lateMsWithin(fromMs: number, toMs: number): number;
}

/** Starts watching this process for stalls and late timers. */
export function watchStalls(originMs: number): StallWatch {
  const stalls: Stall[] = [];
  /** Late ticks: [end of the tick, in the run's time; how late it was]. */
  const lateTicks: [number, number][] = [];
  let lastMs = performance.now();
  let lastCpu = process.cpuUsage();
  const timer = setInterval(() => {
    const nowMs = performance.now();
    const cpu = process.cpuUsage();
    const lateMs = nowMs - lastMs - TICK_MS;
    if (lateMs >= MIN_LATE_MS) lateTicks.push([nowMs - originMs, lateMs]);
    if (nowMs - lastMs - TICK_MS >= MIN_STALL_MS) {
      const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1_000;
      const previous = stalls.at(-1);
      // Back-to-back stalls (a starved process ticks late again and again) are one stall.
      if (previous !== undefined && previous.endMs === lastMs - originMs) {
        const previousCpuMs = (previous.cpuPercent / 100) * (previous.endMs - previous.startMs);
        previous.endMs = nowMs - originMs;
        previous.cpuPercent = Math.round(
          (100 * (previousCpuMs + cpuMs)) / (previous.endMs - previous.startMs),
        );
      } else {
        stalls.push({
          startMs: lastMs - originMs,
          endMs: nowMs - originMs,
          cpuPercent: Math.round((100 * cpuMs) / (nowMs - lastMs)),
        });
      }
    }
    lastMs = nowMs;
    lastCpu = cpu;
  }, TICK_MS);
  return {
    stop() {
      clearInterval(timer);
      return stalls;
    },
    lateMsWithin(fromMs, toMs) {
      let totalMs = 0;
      for (const [endMs, lateMs] of lateTicks) {
        // The lateness of a tick lies just before its end: count the part inside the window.
        totalMs += Math.max(0, Math.min(toMs, endMs) - Math.max(fromMs, endMs - lateMs));
      }
      return totalMs;
    },
  };
}

/** How long the process stood still between `fromMs` and `toMs`. */
export function stalledMsWithin(stalls: readonly Stall[], fromMs: number, toMs: number): number {
  let stalledMs = 0;
  for (const stall of stalls)
    stalledMs += Math.max(0, Math.min(toMs, stall.endMs) - Math.max(fromMs, stall.startMs));
  return stalledMs;
}
