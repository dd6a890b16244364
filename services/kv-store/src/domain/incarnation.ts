/**
 * A node's incarnation names one run of it: vector-clock actors are `${url}#${incarnation}`, and
 * counters live in memory, so two runs must never share an incarnation or a restarted node would
 * mint dots that already exist (a lost write). The next incarnation is above the last one recorded
 * on disk and at least the current Unix time in seconds: it rises on every restart, and still rises
 * if the record was lost with the disk (unless the clock also went back).
 */
export function nextIncarnation(previous: number | undefined, nowMs: number): number {
  const fromClock = Math.floor(nowMs / 1000);
  return Math.max(previous === undefined ? 1 : previous + 1, fromClock);
}
