import type autocannon from 'autocannon';
import { BASELINE_LARGE_PATH, BASELINE_SMALL_PATH } from './baseline-target.js';
import {
  countExpected,
  describeStats,
  expectedCount,
  type HttpMethod,
  type HttpRequestSpec,
  medianStats,
  type PreparedRequest,
  prepareRequest,
  type RunStats,
  runLoad,
} from './load-run.js';
import { assertServiceName } from './paths.js';
import { floorScenario, PLATFORM_FLOOR_TARGET } from './platform-floor.js';
import { numberFromEnv } from './stats.js';
import { type RunningTarget, startTarget, type TargetSpec } from './target.js';

const DEFAULT_DURATION_SECONDS = 5;
const DEFAULT_ROUNDS = 3;
const DEFAULT_CONNECTIONS = 50;
const DEFAULT_WARMUP_SECONDS = 1;
const MAX_DURATION_SECONDS = 600;
const MAX_ROUNDS = 50;
const MAX_CONNECTIONS = 5_000;
const MAX_SETUP_REQUESTS = 1_000;
const SETUP_REQUEST_TIMEOUT_MS = 10_000;
const FAILURE_BODY_PREVIEW_CHARS = 300;

const baselineTargetUrl = new URL('./baseline-target.ts', import.meta.url);

export interface HttpScenario extends HttpRequestSpec {
  /** Unique within the run; the first column of the table. */
  name: string;
  /**
   * The status every service response must have, for routes whose success is not a 2xx (a
   * redirect answers 302). Default: any 2xx. The baseline always answers 200.
   */
  expectStatus?: number;
  /** Which baseline route to compare with: `small` (`{"ok":true}`, default) or `large` (~22 KB of ids). */
  baseline?: 'small' | 'large';
  /** Overrides the run's connection count for this scenario (both sides). */
  connections?: number;
  /** Sent once to the service, in order, before the scenario's warmup; each must answer 2xx. */
  setupRequests?: HttpRequestSpec[];
}

export interface HttpBenchOptions {
  /** The service's name: the report's title and file name (`load-tests/results/<service>.md`). */
  service: string;
  target: TargetSpec;
  scenarios: HttpScenario[];
  /** Seconds per measured run. Default: env `BENCH_DURATION_SECONDS`, else 5. */
  durationSeconds?: number;
  /** Baseline/service pairs per scenario. Default: env `BENCH_ROUNDS`, else 3. */
  rounds?: number;
  /** Seconds of unmeasured load on each side before a scenario's rounds; 0 skips it. Default: env
   * `BENCH_WARMUP_SECONDS`, else 1. */
  warmupSeconds?: number;
  /** Concurrent connections. Default: env `BENCH_CONNECTIONS`, else 50. */
  connections?: number;
  /** Progress lines (one per run). Default: written to stderr, keeping stdout for the report. */
  log?: (line: string) => void;
  /**
   * Measures the platform floor (a no-op route in a `createService` app, see `platform-floor.ts`) beside
   * the baseline first, with the first scenario's method and body. Default true.
   */
  platformFloor?: boolean;
}

export interface ScenarioResult {
  name: string;
  method: HttpMethod;
  path: string;
  baselinePath: string;
  connections: number;
  /** Medians over the rounds. */
  service: RunStats;
  baseline: RunStats;
  /** Service req/s ÷ baseline req/s, of the medians: 1 means as fast as bare Fastify. */
  ratio: number;
  /**
   * Service CPU µs per request ÷ baseline CPU µs per request: how many times the CPU a bare Fastify
   * app spends on a request the service spends. Steadier than `ratio` on a shared machine.
   */
  cpuRatio?: number;
  /** Every measured run, in round order. */
  runs: { service: RunStats[]; baseline: RunStats[] };
}

export interface HttpBenchResult {
  service: string;
  settings: { durationSeconds: number; rounds: number; warmupSeconds: number; connections: number };
  /** The platform floor measured in the same run, unless `platformFloor: false`. */
  floor?: ScenarioResult;
  scenarios: ScenarioResult[];
}

/** Thrown when a run saw non-2xx responses or errors: a broken bench must never print a table. */
export class BenchFailureError extends Error {
  override name = 'BenchFailureError';
}

interface PreparedScenario {
  name: string;
  expectStatus: number | undefined;
  request: PreparedRequest;
  baselineRequest: PreparedRequest;
  connections: number;
  setupRequests: PreparedRequest[];
}

interface BenchParams {
  service: string;
  target: TargetSpec;
  scenarios: PreparedScenario[];
  durationSeconds: number;
  rounds: number;
  warmupSeconds: number;
  connections: number;
  log: (line: string) => void;
  floor: PreparedScenario | undefined;
}

interface Targets {
  baseline: RunningTarget;
  service: RunningTarget;
}

type Role = keyof Targets;

/**
 * Starts the service and the bare-Fastify baseline, each in its own child process, and measures every
 * scenario against both with autocannon (pipelining 1). Rounds alternate the order (B S, S B, B S, ...)
 * so drift of a noisy machine falls on both sides alike. Rejects with `BenchFailureError` as soon as a
 * run sees a non-2xx response or an error. Both children are stopped before it settles.
 */
export async function runHttpBench(options: HttpBenchOptions): Promise<HttpBenchResult> {
  const params = normalizeOptions(options);
  const targets = await startTargets(params.target);
  try {
    const floor = params.floor && (await runFloor(params, params.floor, targets.baseline));
    const scenarios: ScenarioResult[] = [];
    for (const scenario of params.scenarios) scenarios.push(await runScenario(params, scenario, targets));
    const { durationSeconds, rounds, warmupSeconds, connections } = params;
    return {
      service: params.service,
      settings: { durationSeconds, rounds, warmupSeconds, connections },
      ...(floor ? { floor } : {}),
      scenarios,
    };
  } finally {
    await Promise.all([targets.baseline.stop(), targets.service.stop()]);
  }
}

/** The floor target runs only while its scenario does, so it never idles beside the service's runs. */
async function runFloor(params: BenchParams, scenario: PreparedScenario, baseline: RunningTarget) {
  const floor = await startTarget(PLATFORM_FLOOR_TARGET);
  try {
    return await runScenario(params, scenario, { baseline, service: floor });
  } finally {
    await floor.stop();
  }
}

async function startTargets(serviceSpec: TargetSpec): Promise<Targets> {
  const [baseline, service] = await Promise.allSettled([
    startTarget({ modulePath: baselineTargetUrl }),
    startTarget(serviceSpec),
  ]);
  if (baseline.status === 'fulfilled' && service.status === 'fulfilled') {
    return { baseline: baseline.value, service: service.value };
  }
  if (baseline.status === 'fulfilled') await baseline.value.stop();
  if (service.status === 'fulfilled') await service.value.stop();
  throw baseline.status === 'rejected' ? baseline.reason : (service as PromiseRejectedResult).reason;
}

async function runScenario(params: BenchParams, scenario: PreparedScenario, targets: Targets) {
  for (const request of scenario.setupRequests)
    await sendSetupRequest(params, scenario, targets.service, request);
  if (params.warmupSeconds > 0) {
    for (const role of ['baseline', 'service'] as const) {
      await measure(params, scenario, targets, role, params.warmupSeconds);
    }
  }
  const runs: Record<Role, RunStats[]> = { baseline: [], service: [] };
  for (let round = 1; round <= params.rounds; round++) {
    const order: Role[] = round % 2 === 1 ? ['baseline', 'service'] : ['service', 'baseline'];
    for (const role of order) {
      const stats = await measure(params, scenario, targets, role, params.durationSeconds);
      runs[role].push(stats);
      params.log(
        `[${params.service}] ${scenario.name} round ${round}/${params.rounds} ${role}: ${describeStats(stats)}`,
      );
    }
  }
  const service = medianStats(runs.service);
  const baseline = medianStats(runs.baseline);
  return {
    name: scenario.name,
    method: scenario.request.method,
    path: scenario.request.path,
    baselinePath: scenario.baselineRequest.path,
    connections: scenario.connections,
    service,
    baseline,
    ratio: service.requestsPerSecond / baseline.requestsPerSecond,
    ...(service.cpuMicrosPerRequest !== undefined && baseline.cpuMicrosPerRequest !== undefined
      ? { cpuRatio: service.cpuMicrosPerRequest / baseline.cpuMicrosPerRequest }
      : {}),
    runs,
  };
}

async function measure(
  params: BenchParams,
  scenario: PreparedScenario,
  targets: Targets,
  role: Role,
  durationSeconds: number,
): Promise<RunStats> {
  const target = targets[role];
  const request = role === 'service' ? scenario.request : scenario.baselineRequest;
  const expectStatus = role === 'service' ? scenario.expectStatus : undefined;
  const run = await runLoad(target, request, {
    connections: scenario.connections,
    durationSeconds,
    expectStatus,
  });
  if (!run.passed) {
    throw new BenchFailureError(await failureMessage(params, scenario, role, target, request, run.result));
  }
  return run.stats;
}

async function failureMessage(
  params: BenchParams,
  scenario: PreparedScenario,
  role: Role,
  target: RunningTarget,
  request: PreparedRequest,
  result: autocannon.Result,
): Promise<string> {
  const expected = role === 'service' ? scenario.expectStatus : undefined;
  const statuses = Object.entries(result.statusCodeStats ?? {})
    .filter(([status]) => (expected === undefined ? !status.startsWith('2') : Number(status) !== expected))
    .map(([status, { count }]) => `${status} ×${count ?? 0}`)
    .join(', ');
  const lines = [
    `${params.service}: scenario "${scenario.name}" (${request.method} ${request.path}) failed against the ${role}:`,
    `  ${expectedCount(result, expected)} ${expected ?? '2xx'}, ${countExpected(result, expected).unexpected} unexpected${statuses ? ` (${statuses})` : ''}, ` +
      `${result.errors} errors (${result.timeouts} timeouts)`,
  ];
  if (target.exited) lines.push(`  the ${role} process has exited`);
  else lines.push(`  one more request now answers: ${await probe(target, request)}`);
  return lines.join('\n');
}

/** Sends the request once more to show the status and the start of the body in the failure message. */
async function probe(target: RunningTarget, request: PreparedRequest): Promise<string> {
  try {
    const response = await sendRequest(target, request);
    const body = await response.text();
    return `${response.status} ${body.slice(0, FAILURE_BODY_PREVIEW_CHARS)}`;
  } catch (error) {
    return `no response (${error instanceof Error ? error.message : String(error)})`;
  }
}

async function sendSetupRequest(
  params: BenchParams,
  scenario: PreparedScenario,
  service: RunningTarget,
  request: PreparedRequest,
): Promise<void> {
  const response = await sendRequest(service, request);
  const body = await response.text();
  if (response.ok) return;
  throw new BenchFailureError(
    `${params.service}: setup request ${request.method} ${request.path} of scenario "${scenario.name}" ` +
      `answered ${response.status}: ${body.slice(0, FAILURE_BODY_PREVIEW_CHARS)}`,
  );
}

function sendRequest(target: RunningTarget, request: PreparedRequest): Promise<Response> {
  return fetch(target.url + request.path, {
    method: request.method,
    headers: request.headers,
    ...(request.body === undefined ? {} : { body: request.body }),
    signal: AbortSignal.timeout(SETUP_REQUEST_TIMEOUT_MS),
  });
}

function normalizeOptions(options: HttpBenchOptions): BenchParams {
  assertServiceName(options.service);
  const durationSeconds =
    options.durationSeconds ?? numberFromEnv('BENCH_DURATION_SECONDS', DEFAULT_DURATION_SECONDS);
  const rounds = options.rounds ?? numberFromEnv('BENCH_ROUNDS', DEFAULT_ROUNDS, { integer: true });
  const warmupSeconds =
    options.warmupSeconds ??
    numberFromEnv('BENCH_WARMUP_SECONDS', DEFAULT_WARMUP_SECONDS, { allowZero: true });
  const connections =
    options.connections ?? numberFromEnv('BENCH_CONNECTIONS', DEFAULT_CONNECTIONS, { integer: true });
  // autocannon samples req/s once a second: a shorter run has no sample at all.
  assertInRange('durationSeconds', durationSeconds, 1, MAX_DURATION_SECONDS);
  assertInRange('rounds', rounds, 1, MAX_ROUNDS, { integer: true });
  assertInRange('warmupSeconds', warmupSeconds, 0, MAX_DURATION_SECONDS);
  assertInRange('connections', connections, 1, MAX_CONNECTIONS, { integer: true });
  if (options.scenarios.length === 0) throw new Error(`${options.service}: no scenarios to run`);
  const names = new Set<string>();
  const scenarios = options.scenarios.map((scenario) => {
    if (names.has(scenario.name))
      throw new Error(`${options.service}: duplicate scenario "${scenario.name}"`);
    names.add(scenario.name);
    return prepareScenario(scenario, connections);
  });
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  return {
    service: options.service,
    target: options.target,
    scenarios,
    durationSeconds,
    rounds,
    warmupSeconds,
    connections,
    log,
    floor:
      options.platformFloor === false
        ? undefined
        : prepareScenario(floorScenario(options.scenarios[0]!), connections),
  };
}

function prepareScenario(scenario: HttpScenario, defaultConnections: number): PreparedScenario {
  const connections = scenario.connections ?? defaultConnections;
  assertInRange(`scenario "${scenario.name}" connections`, connections, 1, MAX_CONNECTIONS, {
    integer: true,
  });
  const setupRequests = scenario.setupRequests ?? [];
  if (setupRequests.length > MAX_SETUP_REQUESTS) {
    throw new Error(`scenario "${scenario.name}": at most ${MAX_SETUP_REQUESTS} setup requests`);
  }
  const request = prepareRequest(scenario);
  const baselinePath = scenario.baseline === 'large' ? BASELINE_LARGE_PATH : BASELINE_SMALL_PATH;
  if (scenario.expectStatus !== undefined) {
    assertInRange(`scenario "${scenario.name}" expectStatus`, scenario.expectStatus, 100, 599, {
      integer: true,
    });
  }
  return {
    name: scenario.name,
    expectStatus: scenario.expectStatus,
    request,
    // The same method, headers and body, so the baseline also pays for parsing what the service parses.
    baselineRequest: { ...request, path: baselinePath },
    connections,
    setupRequests: setupRequests.map(prepareRequest),
  };
}

function assertInRange(
  name: string,
  value: number,
  low: number,
  high: number,
  options: { integer?: boolean } = {},
): void {
  const valid =
    Number.isFinite(value) && value >= low && value <= high && (!options.integer || Number.isInteger(value));
  if (!valid)
    throw new Error(`${name} must be ${options.integer ? 'an integer ' : ''}in [${low}, ${high}]: ${value}`);
}
