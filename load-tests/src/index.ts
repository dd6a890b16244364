/**
 * The benchmark harness every service's `bench/run.ts` uses: HTTP load with autocannon against the service
 * and a bare-Fastify baseline (each in its own child process), micro-benchmarks, and the markdown report.
 */
export { BASELINE_LARGE_PATH, BASELINE_SMALL_PATH } from './baseline-target.js';
export {
  BenchFailureError,
  type HttpBenchOptions,
  type HttpBenchResult,
  type HttpScenario,
  runHttpBench,
  type ScenarioResult,
} from './http-bench.js';
export type {
  HttpMethod,
  HttpRequestSpec,
  RequestBody,
  RunStats,
} from './load-run.js';
export { type MicroOptions, type MicroResult, runMicro } from './micro.js';
export { repoRoot, resultsPath } from './paths.js';
export { cpuTimeMs } from './process-cpu.js';
export {
  type BenchEnvironment,
  type BenchReport,
  describeEnvironment,
  renderMarkdown,
  writeReport,
} from './report.js';
export {
  type BenchApp,
  type BenchTarget,
  type RunningTarget,
  startTarget,
  type TargetSpec,
} from './target.js';
