/**
 * Measures any `Placement` the same way: how evenly keys spread, how many move when a node joins, and
 * how fast lookups are. The package's `measure` script builds its README table from these.
 */
import { BoundedLoadRing } from './bounded-load.js';
import type { Key } from './hash.js';
import type { Placement } from './placement.js';

const DEFAULT_SAMPLE_MS = 200;
const DEFAULT_SAMPLES = 5;

export interface BalanceReport {
  nodes: number;
  keys: number;
  meanKeys: number;
  /** Standard deviation of keys per node, as a percentage of the mean. */
  stdDevPercent: number;
  /** The most loaded node's keys ÷ the mean. */
  maxOverMean: number;
  minOverMean: number;
  counts: Map<string, number>;
}

export interface JoinReport {
  keys: number;
  nodesBefore: number;
  /** Keys whose node changed. */
  moved: number;
  /** keys / (nodesBefore + 1): what a perfectly consistent scheme moves. */
  ideal: number;
  movedFraction: number;
  /** moved ÷ ideal: 1 is minimal movement. */
  movedOverIdeal: number;
  /** Keys that moved between two old nodes instead of to the new one: 0 for a minimal scheme. */
  movedBetweenOldNodes: number;
}

/**
 * Places each key and returns its node. A `BoundedLoadRing` assigns the keys (it tracks load, and
 * takes string keys only); the other placements just look them up.
 */
export function placeKeys(placement: Placement, keys: readonly Key[]): string[] {
  if (placement instanceof BoundedLoadRing) {
    // assign() tracks string keys only; it throws CH_ERR_INVALID_KEY for bytes.
    return keys.map((key) => placement.assign(key as string));
  }
  return keys.map((key) => placement.lookup(key));
}

/** Statistics of keys per node, counting nodes that got no key. */
export function summarizeCounts(nodes: readonly string[], owners: readonly string[]): BalanceReport {
  const counts = new Map<string, number>();
  for (const node of nodes) counts.set(node, 0);
  for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  const values = [...counts.values()];
  const mean = owners.length / values.length;
  let squares = 0;
  for (const value of values) squares += (value - mean) ** 2;
  return {
    nodes: values.length,
    keys: owners.length,
    meanKeys: mean,
    stdDevPercent: (Math.sqrt(squares / values.length) / mean) * 100,
    maxOverMean: Math.max(...values) / mean,
    minOverMean: Math.min(...values) / mean,
    counts,
  };
}

export function measureBalance(placement: Placement, keys: readonly Key[]): BalanceReport {
  return summarizeCounts(placement.nodes(), placeKeys(placement, keys));
}

/**
 * Places the keys, adds `newNode`, and counts the keys that changed node. A `BoundedLoadRing` is
 * rebalanced after the join (it moves nothing by itself). The placement keeps the new node.
 */
export function measureJoin(placement: Placement, keys: readonly Key[], newNode: string): JoinReport {
  const before = placeKeys(placement, keys);
  const nodesBefore = placement.size;
  placement.add(newNode);
  if (placement instanceof BoundedLoadRing) placement.rebalance();
  let moved = 0;
  let movedBetweenOldNodes = 0;
  keys.forEach((key, index) => {
    const owner = placement.lookup(key);
    if (owner === before[index]) return;
    moved++;
    if (owner !== newNode) movedBetweenOldNodes++;
  });
  const ideal = keys.length / (nodesBefore + 1);
  return {
    keys: keys.length,
    nodesBefore,
    moved,
    ideal,
    movedFraction: moved / keys.length,
    movedOverIdeal: moved / ideal,
    movedBetweenOldNodes,
  };
}

export interface LookupRateOptions {
  /** Length of one sample. Default 200 ms. */
  sampleMs?: number;
  /** Samples; the median is returned. Default 5. */
  samples?: number;
  /**
   * Milliseconds from any origin. Default `performance.now` (wall time). On a shared machine, a CPU-time
   * clock (e.g. from `process.cpuUsage()`) ignores the time other processes take the core.
   */
  clock?: () => number;
}

/** Median lookups per second over `samples` runs of about `sampleMs` each, cycling through `keys`. */
export function measureLookupRate(
  placement: Placement,
  keys: readonly Key[],
  options: LookupRateOptions = {},
): number {
  const sampleMs = options.sampleMs ?? DEFAULT_SAMPLE_MS;
  const samples = options.samples ?? DEFAULT_SAMPLES;
  const clock = options.clock ?? (() => performance.now());
  let sink = 0;
  const run = (count: number): number => {
    const start = clock();
    for (let index = 0; index < count; index++) sink += placement.lookup(keys[index % keys.length]!).length;
    return clock() - start;
  };
  let batch = 1_000;
  while (run(batch) < 10) batch *= 2; // warm up and size a batch to ~10 ms
  const rates: number[] = [];
  for (let sample = 0; sample < samples; sample++) {
    let calls = 0;
    let elapsedMs = 0;
    while (elapsedMs < sampleMs) {
      elapsedMs += run(batch);
      calls += batch;
    }
    rates.push((calls * 1000) / elapsedMs);
  }
  if (sink < 0) throw new Error('unreachable');
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}
