/**
 * `pnpm --filter @sysdesign/load-tests run bench:floor`: what the platform costs a request. Bare Fastify
 * (logger off) beside a `createService` app answering a no-op route (validated query, zod response
 * schema) at LOG_LEVEL=warn and at info, and beside the same app composed with one platform part left
 * out at a time. Alternated rounds, medians; written to `load-tests/results/platform-floor.md`.
 * `FLOOR_TARGETS=bare,service` measures only the named rows; `BENCH_PROCESSES` sets the processes a row.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type ComparedResult,
  type ComparedTarget,
  type ComparisonOptions,
  runComparison,
} from './compare.js';
import { medianStats, type RunStats } from './load-run.js';
import { repoRoot, resultsPath } from './paths.js';
import { PLATFORM_FLOOR_TARGET } from './platform-floor.js';
import { describeEnvironment } from './report.js';
import { numberFromEnv } from './stats.js';

const floorTarget = PLATFORM_FLOOR_TARGET.modulePath;
const variants = pathToFileURL(join(repoRoot, 'libs/platform/scripts/floor-variants.ts'));
const FLOOR_PATH = '/floor?name=bench';

interface Row extends ComparedTarget {
  /** What the row leaves out of the service app, or what it is. */
  description: string;
}

const variant = (name: string, exportName: string, description: string): Row => ({
  name,
  target: { modulePath: variants, exportName },
  path: FLOOR_PATH,
  description,
});

const ROWS: Row[] = [
  {
    name: 'bare',
    target: { modulePath: new URL('./baseline-target.ts', import.meta.url) },
    path: '/baseline',
    description: 'bare Fastify, logger off, no hooks, no schemas',
  },
  {
    name: 'service',
    target: { modulePath: floorTarget },
    path: FLOOR_PATH,
    description: '`createService`, every platform part on, LOG_LEVEL=warn: **the floor**',
  },
  {
    name: 'service, info',
    target: { modulePath: floorTarget, exportName: 'createInfoBenchTarget' },
    path: FLOOR_PATH,
    description: 'the same at LOG_LEVEL=info (two log lines a request, to /dev/null)',
  },
  variant('composed', 'createComposedTarget', 'the same parts composed by the bench: must match `service`'),
  variant(
    '- request ids',
    'createWithoutRequestIdsTarget',
    'without `genReqId` and the `x-request-id` header',
  ),
  variant('- logger', 'createWithoutLoggerChildTarget', 'without a logger (no per-request child)'),
  variant('- metrics', 'createWithoutMetricsTarget', 'without the duration histogram and `/metrics`'),
  variant('- zod', 'createWithoutZodTarget', 'without zod validation and serialisation (no schemas)'),
  variant('- problems', 'createWithoutProblemHandlerTarget', 'without the problem error and 404 handlers'),
  variant('- swagger', 'createWithoutSwaggerTarget', 'without swagger and swagger-ui registered'),
  variant(
    '- server options',
    'createWithoutServerOptionsTarget',
    'without body limit, timeouts, trailing slash',
  ),
];

function selectedRows(): Row[] {
  const only = process.env.FLOOR_TARGETS?.split(',').map((name) => name.trim());
  if (!only) return ROWS;
  const rows = ROWS.filter((row) => only.includes(row.name));
  if (!rows.some((row) => row.name === 'bare')) rows.unshift(ROWS[0]!);
  return rows;
}

const micros = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(1));

/** What a left-out part costs a request: `composed` minus the row, total CPU and user CPU. */
function partCost(row: Row, stats: RunStats, composed: RunStats | undefined): string {
  if (!row.name.startsWith('- ') || composed === undefined) return '';
  const difference = (whole: number | undefined, part: number | undefined) =>
    whole === undefined || part === undefined ? undefined : whole - part;
  const total = difference(composed.cpuMicrosPerRequest, stats.cpuMicrosPerRequest);
  const user = difference(composed.userCpuMicrosPerRequest, stats.userCpuMicrosPerRequest);
  return `${micros(total)} / ${micros(user)}`;
}

function renderReport(rows: Row[], results: ComparedResult[], settings: string): string {
  const bare = results.find((result) => result.name === 'bare')!.stats;
  // The variants are composed by the bench, so each one's cost is read against the composed row.
  const composed = results.find((result) => result.name === 'composed')?.stats;
  const lines = [
    '# platform floor benchmarks',
    '',
    `Measured ${describeEnvironment().date} on Node ${process.version}. ${settings}`,
    '',
    "| row | what it is | req/s | CPU µs/req | user µs/req | ratio | CPU cost × | part's CPU / user µs/req |",
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  rows.forEach((row, index) => {
    const stats = results[index]!.stats;
    const cpu = stats.cpuMicrosPerRequest;
    const cells = [
      row.name,
      row.description,
      Math.round(stats.requestsPerSecond).toLocaleString('en-US'),
      micros(cpu),
      micros(stats.userCpuMicrosPerRequest),
      (stats.requestsPerSecond / bare.requestsPerSecond).toFixed(2),
      cpu === undefined || bare.cpuMicrosPerRequest === undefined
        ? '-'
        : (cpu / bare.cpuMicrosPerRequest).toFixed(2),
      partCost(row, stats, composed),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  });
  lines.push(
    '',
    'Medians over every run of every process of a row. **ratio** = req/s ÷ bare req/s; **CPU cost ×** = CPU µs/req ÷ bare CPU µs/req ' +
      '(the steadier figure on a shared machine). **user µs/req** is the part of the CPU spent in the ' +
      "process's own code: the kernel's socket writes are most of a small request's CPU and swing with the " +
      "machine's load, so differences in JavaScript show there first. **part's CPU / user µs/req** = " +
      '`composed` minus the row: what that one part costs a request. Every row answers `{"ok":true}`; the ' +
      'service rows on `GET ' +
      FLOOR_PATH +
      '`, bare Fastify on `GET /baseline`.',
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Each row runs in several processes, and its figures are the medians over every run of every one.
 * Two processes of the same app settle at CPU costs up to 3 µs apart (the JIT's choices differ from
 * start to start), more than most parts cost, so one process a row would measure its luck.
 */
async function measureRows(rows: Row[], processes: number, options: Omit<ComparisonOptions, 'targets'>) {
  const copies = rows.flatMap((row) =>
    Array.from({ length: processes }, (_, copy) => ({ ...row, name: `${row.name} #${copy + 1}` })),
  );
  const results = await runComparison({ ...options, targets: copies });
  return rows.map((row, index): ComparedResult => {
    const runs = results.slice(index * processes, (index + 1) * processes).flatMap((result) => result.runs);
    return { name: row.name, path: row.path, stats: medianStats(runs), runs };
  });
}

const rows = selectedRows();
const durationSeconds = numberFromEnv('BENCH_DURATION_SECONDS', 4);
const rounds = numberFromEnv('BENCH_ROUNDS', 3, { integer: true });
const processes = numberFromEnv('BENCH_PROCESSES', 3, { integer: true });
const warmupSeconds = numberFromEnv('BENCH_WARMUP_SECONDS', 1, { allowZero: true });
const connections = numberFromEnv('BENCH_CONNECTIONS', 50, { integer: true });
const results = await measureRows(rows, processes, {
  request: { method: 'GET' },
  durationSeconds,
  rounds,
  warmupSeconds,
  connections,
  log: (line) => process.stderr.write(`[floor] ${line}\n`),
});
const settings =
  `autocannon, ${connections} connections, pipelining 1; each row in ${processes} processes, ${rounds} rounds ` +
  `of ${durationSeconds} s per process after ${warmupSeconds} s of warmup, rounds alternating over every ` +
  'process; LOG_LEVEL=warn unless the row says otherwise.';
const markdown = renderReport(rows, results, settings);
process.stdout.write(markdown);
await writeFile(resultsPath('platform-floor'), markdown);
