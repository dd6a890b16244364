import { mkdir, rename, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import type { HttpBenchResult, ScenarioResult } from './http-bench.js';
import type { MicroResult } from './micro.js';
import { resultsDir, resultsPath } from './paths.js';

/** Everything one service's bench produced; any part may be absent. */
export interface BenchReport {
  service: string;
  http?: HttpBenchResult;
  micro?: MicroResult[];
  /** Free sentences printed under the header: what was configured, what to read into the numbers. */
  notes?: string[];
}

export interface BenchEnvironment {
  /** ISO 8601. */
  date: string;
  nodeVersion: string;
  cpuModel: string;
  cores: number;
}

export function describeEnvironment(): BenchEnvironment {
  return {
    date: new Date().toISOString(),
    nodeVersion: process.version,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: availableParallelism(),
  };
}

/** The report as markdown: a header, the HTTP table (if any), the micro-benchmark table (if any). */
export function renderMarkdown(
  report: BenchReport,
  environment: BenchEnvironment = describeEnvironment(),
): string {
  const lines = [
    `# ${report.service} benchmarks`,
    '',
    `Measured ${environment.date} on Node ${environment.nodeVersion}, ${environment.cpuModel} ` +
      `(${environment.cores} cores).`,
  ];
  if (report.http) {
    const { durationSeconds, rounds, warmupSeconds, connections } = report.http.settings;
    const warmup = warmupSeconds > 0 ? `after ${warmupSeconds} s of warmup` : 'without warmup';
    lines.push(
      `HTTP: autocannon, ${connections} connections, pipelining 1, ${plural(rounds, 'round')} of ` +
        `${durationSeconds} s per side ${warmup}.`,
    );
  }
  for (const note of report.notes ?? []) lines.push('', note);
  if (report.http) {
    const { floor, scenarios } = report.http;
    lines.push('', ...renderHttpSection(floor ? [floor, ...scenarios] : scenarios));
  }
  if (report.micro && report.micro.length > 0) lines.push('', ...renderMicroSection(report.micro));
  return `${lines.join('\n')}\n`;
}

function renderHttpSection(scenarios: ScenarioResult[]): string[] {
  const lines = [
    '## HTTP',
    '',
    '| scenario | req/s | p50 ms | p99 ms | CPU µs/req | baseline req/s | baseline p50 | baseline p99 | baseline CPU µs/req | ratio | CPU cost × |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const scenario of scenarios) {
    const { service, baseline } = scenario;
    const cells = [
      escapeCell(scenario.name),
      formatRate(service.requestsPerSecond),
      formatMs(service.latencyP50Ms),
      formatMs(service.latencyP99Ms),
      formatCpu(service.cpuMicrosPerRequest),
      formatRate(baseline.requestsPerSecond),
      formatMs(baseline.latencyP50Ms),
      formatMs(baseline.latencyP99Ms),
      formatCpu(baseline.cpuMicrosPerRequest),
      scenario.ratio.toFixed(2),
      scenario.cpuRatio === undefined ? '-' : scenario.cpuRatio.toFixed(2),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    'Medians over the rounds. **ratio** = service req/s ÷ baseline req/s: 1.00 is as fast as a bare Fastify ' +
      'app (no logging, no hooks, no schemas) answering the same method and body from its own process, ' +
      'measured in the same run, alternating with the service round by round. Latencies have 1 ms resolution. ' +
      "**CPU µs/req** is the server process's CPU time over the run divided by the requests it served, and " +
      '**CPU cost ×** = service CPU µs/req ÷ baseline CPU µs/req: on a shared machine req/s swings with whatever ' +
      'else runs (the load generator shares the cores), while CPU per request stays put, so this is the steadier ' +
      'comparison.',
    '',
  );
  for (const scenario of scenarios) {
    lines.push(
      `- ${escapeCell(scenario.name)}: \`${scenario.method} ${scenario.path}\` vs \`${scenario.method} ${scenario.baselinePath}\`, ` +
        `${scenario.connections} connections`,
    );
  }
  return lines;
}

function formatCpu(micros: number | undefined): string {
  return micros === undefined ? '-' : micros.toFixed(1);
}

function renderMicroSection(results: MicroResult[]): string[] {
  const lines = ['## Micro-benchmarks', '', '| benchmark | ops/s | note |', '|---|---:|---|'];
  for (const result of results) {
    lines.push(
      `| ${escapeCell(result.name)} | ${formatRate(result.opsPerSecond)} | ${escapeCell(result.note ?? '')} |`,
    );
  }
  lines.push('', 'Median ops/s over the samples, measured in the bench process after a warmup.');
  return lines;
}

/**
 * Renders the report, prints it to stdout and writes it to `load-tests/results/<service>.md` (found from
 * this file, whatever the working directory). Returns the file's path.
 */
export async function writeReport(report: BenchReport): Promise<string> {
  const path = resultsPath(report.service);
  const markdown = renderMarkdown(report);
  process.stdout.write(markdown);
  await mkdir(resultsDir, { recursive: true });
  // Write beside and rename, so an interrupted run never leaves half a report.
  const temporaryPath = `${path}.${process.pid}.tmp`;
  await writeFile(temporaryPath, markdown);
  await rename(temporaryPath, path);
  return path;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 100) return Math.round(perSecond).toLocaleString('en-US');
  return perSecond.toFixed(1);
}

function formatMs(milliseconds: number): string {
  return Number.isInteger(milliseconds) ? String(milliseconds) : milliseconds.toFixed(1);
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
