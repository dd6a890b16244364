import autocannon from 'autocannon';
import { type ProcessCpuTimes, processCpuTimes } from './process-cpu.js';
import { median } from './stats.js';
import type { RunningTarget } from './target.js';

/** A request slower than this counts as an error (autocannon's timeout), which fails the bench. */
const REQUEST_TIMEOUT_SECONDS = 10;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
/** A string is sent as is; anything else is sent as JSON with `content-type: application/json`. */
export type RequestBody = string | Record<string, unknown> | unknown[];

export interface HttpRequestSpec {
  method?: HttpMethod;
  /** Path and query, starting with `/`. */
  path: string;
  body?: RequestBody;
  headers?: Record<string, string>;
}

/** A request as autocannon sends it: the body already a string, its content type among the headers. */
export interface PreparedRequest {
  method: HttpMethod;
  path: string;
  body: string | undefined;
  headers: Record<string, string>;
}

/** One autocannon run, or the median of several (each field separately). */
export interface RunStats {
  requestsPerSecond: number;
  /** The target process's CPU time per completed request, in microseconds (Linux only). */
  cpuMicrosPerRequest?: number;
  /**
   * The user part of it: the target's own code, without the kernel's socket work, which is most of a
   * small request's CPU and swings with the machine's load. Differences in JavaScript show here first.
   */
  userCpuMicrosPerRequest?: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Responses without the expected status (any 2xx, or the scenario's `expectStatus`). */
  unexpected: number;
  errors: number;
}

export interface LoadRun {
  stats: RunStats;
  result: autocannon.Result;
  /** No unexpected status, no error, and at least one expected response. */
  passed: boolean;
}

/**
 * Loads `target` with `request` for `durationSeconds` (pipelining 1) and reads the target process's CPU
 * time before and after. `expectStatus` undefined means any 2xx.
 */
export async function runLoad(
  target: RunningTarget,
  request: PreparedRequest,
  options: { connections: number; durationSeconds: number; expectStatus?: number | undefined },
): Promise<LoadRun> {
  const cpuBefore = processCpuTimes(target.pid);
  const result = await autocannon({
    url: target.url + request.path,
    method: request.method,
    headers: request.headers,
    body: request.body,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationSeconds,
    timeout: REQUEST_TIMEOUT_SECONDS,
  });
  const cpuAfter = processCpuTimes(target.pid);
  const stats: RunStats = {
    requestsPerSecond: result.requests.average,
    ...cpuPerRequest(cpuBefore, cpuAfter, result.requests.total),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    ...countExpected(result, options.expectStatus),
    errors: result.errors,
  };
  const passed =
    stats.unexpected === 0 && stats.errors === 0 && expectedCount(result, options.expectStatus) > 0;
  return { stats, result, passed };
}

function cpuPerRequest(
  before: ProcessCpuTimes | undefined,
  after: ProcessCpuTimes | undefined,
  requests: number,
): Pick<RunStats, 'cpuMicrosPerRequest' | 'userCpuMicrosPerRequest'> {
  if (before === undefined || after === undefined || requests === 0) return {};
  const userMs = after.userMs - before.userMs;
  const systemMs = after.systemMs - before.systemMs;
  return {
    cpuMicrosPerRequest: ((userMs + systemMs) * 1000) / requests,
    userCpuMicrosPerRequest: (userMs * 1000) / requests,
  };
}

/** Responses with the expected status: the given one, or any 2xx. */
export function expectedCount(result: autocannon.Result, expectStatus: number | undefined): number {
  if (expectStatus === undefined) return result['2xx'];
  return result.statusCodeStats?.[String(expectStatus) as keyof typeof result.statusCodeStats]?.count ?? 0;
}

export function countExpected(
  result: autocannon.Result,
  expectStatus: number | undefined,
): { unexpected: number } {
  const responses = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  return { unexpected: responses - expectedCount(result, expectStatus) };
}

export function medianStats(runs: RunStats[]): RunStats {
  const cpu = medianWhereAll(runs.map((run) => run.cpuMicrosPerRequest));
  const userCpu = medianWhereAll(runs.map((run) => run.userCpuMicrosPerRequest));
  return {
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    ...(cpu === undefined ? {} : { cpuMicrosPerRequest: cpu }),
    ...(userCpu === undefined ? {} : { userCpuMicrosPerRequest: userCpu }),
    latencyP50Ms: median(runs.map((run) => run.latencyP50Ms)),
    latencyP99Ms: median(runs.map((run) => run.latencyP99Ms)),
    unexpected: median(runs.map((run) => run.unexpected)),
    errors: median(runs.map((run) => run.errors)),
  };
}

/** The median, when every run has the value. */
function medianWhereAll(values: (number | undefined)[]): number | undefined {
  const present = values.filter((value): value is number => value !== undefined);
  return present.length === values.length ? median(present) : undefined;
}

/** One progress line: req/s, latencies and CPU per request. */
export function describeStats(stats: RunStats): string {
  const cpu =
    stats.cpuMicrosPerRequest === undefined
      ? ''
      : `, ${stats.cpuMicrosPerRequest.toFixed(1)} µs CPU/req (${stats.userCpuMicrosPerRequest?.toFixed(1)} user)`;
  return `${Math.round(stats.requestsPerSecond)} req/s, p50 ${stats.latencyP50Ms} ms, p99 ${stats.latencyP99Ms} ms${cpu}`;
}

export function prepareRequest(spec: HttpRequestSpec): PreparedRequest {
  if (!spec.path.startsWith('/')) throw new Error(`request path must start with "/": ${spec.path}`);
  const headers = { ...spec.headers };
  let body: string | undefined;
  if (typeof spec.body === 'string') body = spec.body;
  else if (spec.body !== undefined) {
    body = JSON.stringify(spec.body);
    const hasContentType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
    if (!hasContentType) headers['content-type'] = 'application/json';
  }
  return { method: spec.method ?? 'GET', path: spec.path, body, headers };
}
