import {
  describeStats,
  type HttpRequestSpec,
  medianStats,
  type PreparedRequest,
  prepareRequest,
  type RunStats,
  runLoad,
} from './load-run.js';
import { type RunningTarget, startTarget, type TargetSpec } from './target.js';

/** One of several targets measured with the same request, each from its own child process. */
export interface ComparedTarget {
  name: string;
  target: TargetSpec;
  /** Path and query this target answers the request on. */
  path: string;
}

export interface ComparisonOptions {
  targets: ComparedTarget[];
  /** Method, body and headers sent to every target; each target's own `path` replaces `path`. */
  request: Omit<HttpRequestSpec, 'path'>;
  durationSeconds: number;
  rounds: number;
  warmupSeconds: number;
  connections: number;
  log: (line: string) => void;
}

export interface ComparedResult {
  name: string;
  path: string;
  /** Medians over the rounds. */
  stats: RunStats;
  runs: RunStats[];
}

/**
 * Starts every target, then measures each once per round. Round r starts at the r-th target and goes
 * round the list, so the drift of a noisy machine falls on every target alike. Rejects if any run sees a
 * failed request. Every child is stopped before it settles.
 */
export async function runComparison(options: ComparisonOptions): Promise<ComparedResult[]> {
  const running: RunningTarget[] = [];
  try {
    for (const entry of options.targets) running.push(await startTarget(entry.target));
    const requests = options.targets.map((entry) => prepareRequest({ ...options.request, path: entry.path }));
    const runs: RunStats[][] = options.targets.map(() => []);
    if (options.warmupSeconds > 0) {
      for (const [index, target] of running.entries()) {
        await measure(options, target, requests[index]!, options.targets[index]!, options.warmupSeconds);
      }
    }
    for (let round = 0; round < options.rounds; round++) {
      for (let step = 0; step < running.length; step++) {
        const index = (round + step) % running.length;
        const entry = options.targets[index]!;
        const stats = await measure(
          options,
          running[index]!,
          requests[index]!,
          entry,
          options.durationSeconds,
        );
        runs[index]!.push(stats);
        options.log(`${entry.name} round ${round + 1}/${options.rounds}: ${describeStats(stats)}`);
      }
    }
    return options.targets.map((entry, index) => ({
      name: entry.name,
      path: entry.path,
      stats: medianStats(runs[index]!),
      runs: runs[index]!,
    }));
  } finally {
    await Promise.all(running.map((target) => target.stop()));
  }
}

async function measure(
  options: ComparisonOptions,
  target: RunningTarget,
  request: PreparedRequest,
  entry: ComparedTarget,
  durationSeconds: number,
): Promise<RunStats> {
  const run = await runLoad(target, request, { connections: options.connections, durationSeconds });
  if (!run.passed) {
    throw new Error(
      `${entry.name} (${request.method} ${request.path}): ${run.result['2xx']} 2xx, ` +
        `${run.stats.unexpected} unexpected, ${run.stats.errors} errors`,
    );
  }
  return run.stats;
}
