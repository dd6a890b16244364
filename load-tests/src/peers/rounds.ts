import { median } from '../stats.js';

/** A contender's samples over the rounds: the median, and the spread as min and max. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function spreadOf(samples: readonly number[]): Spread {
  if (samples.length === 0) throw new Error('spread of no samples');
  return {
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    samples: [...samples],
  };
}

/**
 * Measures every contender once per round, `rounds` times. Round r starts at the r-th contender and goes
 * round the list (A B C, B C A, C A B, ...), so the drift of a noisy machine falls on every contender
 * alike. `measure` returns one sample (a rate); the result maps each name to its spread.
 */
export async function alternateRounds<Name extends string>(
  names: readonly Name[],
  rounds: number,
  measure: (name: Name, round: number) => Promise<number> | number,
  log?: (line: string) => void,
  describe: (value: number) => string = (value) => `${formatRate(value)}/s`,
): Promise<Map<Name, Spread>> {
  if (!(Number.isInteger(rounds) && rounds >= 1))
    throw new Error(`rounds must be a positive integer: ${rounds}`);
  const samples = new Map<Name, number[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let step = 0; step < names.length; step++) {
      const name = names[(round + step) % names.length]!;
      const value = await measure(name, round);
      samples.get(name)!.push(value);
      log?.(`${name} round ${round + 1}/${rounds}: ${describe(value)}`);
    }
  }
  return new Map(names.map((name) => [name, spreadOf(samples.get(name)!)]));
}

/** 1234 -> "1,234"; 1234567 -> "1.23M"; 12.3 -> "12.3". */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  if (perSecond >= 100) return Math.round(perSecond).toLocaleString('en-US');
  return perSecond.toFixed(1);
}

/** "1.23M (1.20M-1.25M)": the median and the min-max over the rounds. */
export function formatSpread(spread: Spread, format: (value: number) => string = formatRate): string {
  if (spread.samples.length === 1) return format(spread.median);
  return `${format(spread.median)} (${format(spread.min)}-${format(spread.max)})`;
}

/** ours ÷ peer of the medians, two decimals: above 1.00 ours is ahead (for rates). */
export function formatRatio(ours: number, peer: number): string {
  if (!(peer > 0) || !Number.isFinite(ours)) return '-';
  return (ours / peer).toFixed(2);
}

/** Milliseconds with a sensible number of digits. */
export function formatMs(milliseconds: number): string {
  if (milliseconds >= 100) return Math.round(milliseconds).toLocaleString('en-US');
  if (milliseconds >= 10) return milliseconds.toFixed(1);
  return milliseconds.toFixed(2);
}

/**
 * Operations per second from `inFlight` loops, each awaiting one operation at a time, for `durationMs`.
 * `operation` receives a counter shared by the loops (the n-th operation started in this run).
 */
export async function closedLoopRate(
  inFlight: number,
  durationMs: number,
  operation: (sequence: number) => Promise<unknown> | unknown,
): Promise<number> {
  let sequence = 0;
  let completed = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async () => {
    while (performance.now() < deadline) {
      await operation(sequence++);
      completed++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  return completed / ((performance.now() - started) / 1_000);
}
