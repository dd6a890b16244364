import { cpuTimeMs as processCpuTimeMs } from '@sysdesign/load-tests';
import { Pool } from 'undici';

/**
 * A closed-loop HTTP load generator for requests that change on every call. The harness's
 * autocannon runs replay one fixed request, and a key-value store cannot be measured that way:
 * blind PUTs of one key pile up siblings (a Dynamo store keeps every concurrent write), so each PUT
 * here writes a new key, and each GET reads one of the keys written before. Like the harness:
 * C connections, pipelining 1, every response's status checked, latency per request, and the
 * target processes' CPU time per request from /proc.
 */

export interface LoadRequest {
  method: 'GET' | 'PUT';
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationMs: number;
  /** The n-th request of this run (n counts across connections). */
  request: (sequence: number) => LoadRequest;
  expectStatus: number;
  /** Processes whose CPU time is charged to this run (a cluster's three nodes). */
  pids: number[];
}

export interface LoadStats {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  cpuMicrosPerRequest: number | undefined;
  unexpected: number;
  errors: number;
  requests: number;
}

/** Latencies kept per run; beyond this a uniform reservoir keeps percentiles honest. */
const MAX_LATENCY_SAMPLES = 200_000;
const REQUEST_TIMEOUT_MS = 10_000;

export async function runLoad(options: LoadOptions): Promise<LoadStats> {
  const pool = new Pool(options.url, { connections: options.connections, pipelining: 1 });
  const latencies: number[] = [];
  let completed = 0;
  let unexpected = 0;
  let errors = 0;
  let sequence = 0;
  let firstFailure: string | undefined;
  const cpuBefore = cpuTimeMs(options.pids);
  const started = performance.now();
  const deadline = started + options.durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const spec = options.request(sequence++);
      const sent = performance.now();
      try {
        const response = await pool.request({
          method: spec.method,
          path: spec.path,
          ...(spec.body === undefined ? {} : { body: spec.body }),
          ...(spec.headers === undefined ? {} : { headers: spec.headers }),
          headersTimeout: REQUEST_TIMEOUT_MS,
          bodyTimeout: REQUEST_TIMEOUT_MS,
        });
        const body = await response.body.text();
        if (response.statusCode !== options.expectStatus) {
          unexpected++;
          firstFailure ??= `${spec.method} ${spec.path} answered ${response.statusCode}: ${body.slice(0, 300)}`;
        }
      } catch (error) {
        errors++;
        firstFailure ??= `${spec.method} ${spec.path} failed: ${String(error)}`;
      }
      const latency = performance.now() - sent;
      completed++;
      if (latencies.length < MAX_LATENCY_SAMPLES) latencies.push(latency);
      else {
        const slot = Math.floor(Math.random() * completed);
        if (slot < MAX_LATENCY_SAMPLES) latencies[slot] = latency;
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  const elapsedMs = performance.now() - started;
  const cpuAfter = cpuTimeMs(options.pids);
  await pool.close();
  if (unexpected > 0 || errors > 0) {
    throw new Error(
      `${unexpected} unexpected answers and ${errors} errors of ${completed}; first: ${firstFailure}`,
    );
  }
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: (completed * 1000) / elapsedMs,
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    cpuMicrosPerRequest:
      cpuBefore !== undefined && cpuAfter !== undefined && completed > 0
        ? ((cpuAfter - cpuBefore) * 1000) / completed
        : undefined,
    unexpected,
    errors,
    requests: completed,
  };
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const value = sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
  return Math.round(value * 100) / 100;
}

/** User plus system CPU milliseconds of the processes, from /proc (Linux); undefined elsewhere. */
function cpuTimeMs(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const ms = processCpuTimeMs(pid);
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total;
}
