import { type SimulationOptions, type SimulationReport, simulate } from './simulate.js';

/**
 * The measurements the README quotes, each a batch of seeded simulations: the stale-read rate and
 * availability of (N, R, W) settings under concurrent writes, sloppy against strict quorum, and
 * how long replicas take to converge once faults stop. Every run is checked as usual; a run that
 * breaks an invariant makes the experiment throw with its replay command.
 */

export interface QuorumConfig {
  n: number;
  r: number;
  w: number;
}

/** The settings the textbook compares. */
export const TEXTBOOK_CONFIGS: readonly QuorumConfig[] = [
  { n: 3, r: 1, w: 1 },
  { n: 3, r: 2, w: 1 },
  { n: 3, r: 1, w: 2 },
  { n: 3, r: 2, w: 2 },
  { n: 3, r: 3, w: 1 },
];

export interface ExperimentOptions {
  /** Seeds per cell: 1..seeds. */
  seeds: number;
  /** Applied to every run (operations, clients, keys, timing...). */
  base?: Omit<SimulationOptions, 'seed'>;
  /** Called after each run, e.g. to print progress. */
  onRun?: (report: SimulationReport) => void;
}

export interface Aggregate {
  runs: number;
  reads: number;
  readsSucceeded: number;
  staleReads: number;
  writes: number;
  writesAcknowledged: number;
  meanSiblings: number;
  maxSiblings: number;
  readP50Ms: number;
  readP99Ms: number;
  writeP50Ms: number;
  writeP99Ms: number;
  convergedRuns: number;
  convergenceMs: number[];
  divergentKeysAtStop: number;
}

export interface ConsistencyRow extends QuorumConfig {
  overlapping: boolean;
  result: Aggregate;
}

export async function runBatch(
  options: ExperimentOptions,
  variant: Omit<SimulationOptions, 'seed'>,
): Promise<Aggregate> {
  const reports: SimulationReport[] = [];
  for (let seed = 1; seed <= options.seeds; seed++) {
    const report = await simulate({ ...options.base, ...variant, seed });
    options.onRun?.(report);
    if (!report.ok) {
      throw new Error(
        `seed ${seed} broke an invariant: ${report.violations.join('; ')}\nreplay: ${report.replay}`,
      );
    }
    reports.push(report);
  }
  return aggregate(reports);
}

/** Stale reads, siblings and latency of each setting, under `variant` (faults or none). */
export async function measureConsistency(
  options: ExperimentOptions,
  variant: Omit<SimulationOptions, 'seed'>,
  configs: readonly QuorumConfig[] = TEXTBOOK_CONFIGS,
): Promise<ConsistencyRow[]> {
  const rows: ConsistencyRow[] = [];
  for (const config of configs) {
    const result = await runBatch(options, { ...variant, N: config.n, R: config.r, W: config.w });
    rows.push({ ...config, overlapping: config.r + config.w > config.n, result });
  }
  return rows;
}

export function aggregate(reports: readonly SimulationReport[]): Aggregate {
  const sum = (pick: (report: SimulationReport) => number) =>
    reports.reduce((total, report) => total + pick(report), 0);
  const median = (pick: (report: SimulationReport) => number) => percentile(reports.map(pick), 0.5);
  const readsSucceeded = sum((report) => report.reads.succeeded);
  return {
    runs: reports.length,
    reads: sum((report) => report.reads.total),
    readsSucceeded,
    staleReads: sum((report) => report.reads.stale),
    writes: sum((report) => report.writes.total),
    writesAcknowledged: sum((report) => report.writes.acknowledged),
    meanSiblings:
      readsSucceeded === 0
        ? 0
        : sum((report) => report.siblings.mean * report.reads.succeeded) / readsSucceeded,
    maxSiblings: Math.max(0, ...reports.map((report) => report.siblings.max)),
    readP50Ms: median((report) => report.latency.read.p50Ms),
    readP99Ms: median((report) => report.latency.read.p99Ms),
    writeP50Ms: median((report) => report.latency.write.p50Ms),
    writeP99Ms: median((report) => report.latency.write.p99Ms),
    convergedRuns: reports.filter((report) => report.convergence.converged).length,
    convergenceMs: reports
      .filter((report) => report.convergence.converged)
      .map((report) => report.convergence.afterMs),
    divergentKeysAtStop:
      sum((report) => report.convergence.divergentKeysAtStop) / Math.max(1, reports.length),
  };
}

export function percentile(values: readonly number[], quantile: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))]!;
}
