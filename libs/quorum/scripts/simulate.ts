/**
 * The simulation from the command line.
 *
 *   pnpm --filter @sysdesign/quorum run simulate                       measure, write the tables
 *   pnpm --filter @sysdesign/quorum run simulate --seed 42 --r 1    one run, printed
 *   pnpm --filter @sysdesign/quorum run simulate --sweep 200        seeds 1..200, failures listed
 *   pnpm --filter @sysdesign/quorum run simulate --replay '{...}'   replay a reported run exactly
 *
 * Measuring writes load-tests/results/quorum.md and the same tables into the package README
 * (between the quorum-simulation markers). SIM_SEEDS (default 30) and SIM_OPERATIONS (default 400)
 * size it. Exit status 1 when any run breaks an invariant.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Aggregate,
  type ConsistencyRow,
  measureConsistency,
  percentile,
  runBatch,
  type SimulationOptions,
  type SimulationReport,
  simulate,
} from '../src/testing.js';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../../load-tests/results/quorum.md', import.meta.url));
const START_MARKER = '<!-- quorum-simulation:start -->';
const END_MARKER = '<!-- quorum-simulation:end -->';

/** The workload every measured run shares: few hot keys, many clients, so writes collide. */
const WORKLOAD = { nodes: 5, clients: 8, keys: 4, operations: 400 } as const;

// `pnpm run simulate -- --seed 1` passes the `--` through; parseArgs would take it for a positional.
const argv = process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--'));
const { values } = parseArgs({
  args: argv,
  options: {
    replay: { type: 'string' },
    seed: { type: 'string' },
    sweep: { type: 'string' },
    nodes: { type: 'string' },
    n: { type: 'string' },
    r: { type: 'string' },
    w: { type: 'string' },
    clients: { type: 'string' },
    operations: { type: 'string' },
    keys: { type: 'string' },
    strict: { type: 'boolean' },
    'no-faults': { type: 'boolean' },
    serialize: { type: 'boolean' },
  },
});

function optionsFromFlags(seed: number): SimulationOptions {
  const number = (text: string | undefined) => (text === undefined ? undefined : Number(text));
  const options: SimulationOptions = { seed };
  const fields: Array<[keyof SimulationOptions, number | undefined]> = [
    ['nodes', number(values.nodes)],
    ['N', number(values.n)],
    ['R', number(values.r)],
    ['W', number(values.w)],
    ['clients', number(values.clients)],
    ['operations', number(values.operations)],
    ['keys', number(values.keys)],
  ];
  for (const [name, value] of fields) if (value !== undefined) Object.assign(options, { [name]: value });
  if (values.strict) options.sloppy = false;
  if (values['no-faults']) options.faults = false;
  if (values.serialize) options.serialize = true;
  return options;
}

function printReport(report: SimulationReport): void {
  const { options, violations, replay, ...numbers } = report;
  console.log(JSON.stringify(numbers, null, 2));
  console.log(
    report.ok ? `seed ${report.seed}: ok` : `seed ${report.seed}: FAILED\n  ${violations.join('\n  ')}`,
  );
  console.log(`replay: ${replay}`);
}

async function single(options: SimulationOptions): Promise<number> {
  const report = await simulate(options);
  printReport(report);
  return report.ok ? 0 : 1;
}

async function sweep(seeds: number): Promise<number> {
  const failed: SimulationReport[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const report = await simulate(optionsFromFlags(seed));
    if (!report.ok) {
      failed.push(report);
      console.log(`seed ${seed} FAILED: ${report.violations[0]}\n  replay: ${report.replay}`);
    }
  }
  console.log(`${seeds - failed.length} of ${seeds} seeds passed`);
  return failed.length === 0 ? 0 : 1;
}

async function measure(): Promise<number> {
  const seeds = Number(process.env.SIM_SEEDS ?? 30);
  const operations = Number(process.env.SIM_OPERATIONS ?? WORKLOAD.operations);
  const base = { ...WORKLOAD, operations };
  let runs = 0;
  const onRun = () => {
    runs++;
    if (runs % 50 === 0) console.log(`  ${runs} runs...`);
  };
  const started = performance.now();
  console.log(`measuring: ${seeds} seeds per cell, ${operations} operations per run`);
  const noFaults = await measureConsistency({ seeds, base, onRun }, { faults: false });
  const sloppy = await measureConsistency({ seeds, base, onRun }, { sloppy: true });
  const strict = await measureConsistency({ seeds, base, onRun }, { sloppy: false });
  const convergence: Array<[string, Aggregate]> = [];
  for (const [name, variant] of [
    ['anti-entropy + hinted handoff', { antiEntropy: true, hintedHandoff: true }],
    ['anti-entropy only', { antiEntropy: true, hintedHandoff: false }],
    ['hinted handoff only', { antiEntropy: false, hintedHandoff: true }],
    ['neither (read repair only)', { antiEntropy: false, hintedHandoff: false }],
  ] as const) {
    convergence.push([
      name,
      await runBatch({ seeds, base, onRun }, { ...variant, convergenceLimitMs: 20_000 }),
    ]);
  }
  const seconds = (performance.now() - started) / 1000;
  const markdown = render({ seeds, operations, noFaults, sloppy, strict, convergence, runs, seconds });
  await writeAtomically(RESULTS, `# quorum simulation\n\n${markdown}`);
  const readme = await readFile(README, 'utf8');
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`README lacks the ${START_MARKER} ... ${END_MARKER} markers`);
  await writeAtomically(
    README,
    `${readme.slice(0, start + START_MARKER.length)}\n${markdown}${readme.slice(end)}`,
  );
  console.log(markdown);
  console.log(`wrote ${RESULTS} and the README tables (${runs} runs in ${seconds.toFixed(1)} s)`);
  return 0;
}

interface Results {
  seeds: number;
  operations: number;
  noFaults: ConsistencyRow[];
  sloppy: ConsistencyRow[];
  strict: ConsistencyRow[];
  convergence: Array<[string, Aggregate]>;
  runs: number;
  seconds: number;
}

function render(results: Results): string {
  const { seeds, operations } = results;
  const lines = [
    `Measured ${new Date().toISOString()} on Node ${process.version} (${cpus()[0]?.model.trim() ?? 'unknown CPU'}); ` +
      `${results.runs} simulated runs in ${results.seconds.toFixed(0)} s. The runs are deterministic: the same ` +
      'seeds give the same numbers on any machine.',
    '',
    `Workload per run: ${WORKLOAD.nodes} nodes, ${WORKLOAD.clients} concurrent clients on ${WORKLOAD.keys} hot keys, ` +
      `${operations} operations (40% reads; writes are read-modify-writes, 10% of them blind; 10% deletes), ` +
      'through random coordinators; one-way latency uniform in 1-10 ms, 200 ms deadline per operation. ' +
      `${seeds} seeds per cell. Times are virtual milliseconds of that latency model.`,
    '',
    '**Stale read**: a successful read whose answer lacks a write acknowledged before the read began ' +
      '(neither that version nor one that superseded it came back). **Faults**: about once a second a ' +
      'node crashes (keeping its disk) for about a second, at most one at a time; about every two seconds ' +
      'the network splits in two for about 0.7 s; 3% of messages are lost and 2% of requests delivered ' +
      'twice. Gossip suspects a silent node after 300 ms. A latency of 0 means the coordinator was itself ' +
      'a replica and answered from its own store.',
    '',
    '### Concurrent writes, no faults',
    '',
    '| N | R | W | R+W>N | stale reads | siblings per read (mean / max) | read p50 / p99 ms | write p50 / p99 ms |',
    '|---|---|---|---|---:|---:|---:|---:|',
  ];
  for (const row of results.noFaults) {
    const result = row.result;
    lines.push(
      `| ${row.n} | ${row.r} | ${row.w} | ${row.overlapping ? 'yes' : 'no'} | ` +
        `${rate(result.staleReads, result.readsSucceeded)} | ${result.meanSiblings.toFixed(2)} / ${result.maxSiblings} | ` +
        `${result.readP50Ms} / ${result.readP99Ms} | ${result.writeP50Ms} / ${result.writeP99Ms} |`,
    );
  }
  lines.push(
    '',
    '### Under faults: sloppy quorum (hinted handoff) against strict quorum',
    '',
    '| N | R | W | R+W>N | stale reads, sloppy | stale reads, strict | writes acknowledged, sloppy | writes acknowledged, strict | reads answered, sloppy | reads answered, strict |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|',
  );
  results.sloppy.forEach((sloppyRow, index) => {
    const strictRow = results.strict[index]!;
    const a = sloppyRow.result;
    const b = strictRow.result;
    lines.push(
      `| ${sloppyRow.n} | ${sloppyRow.r} | ${sloppyRow.w} | ${sloppyRow.overlapping ? 'yes' : 'no'} | ` +
        `${rate(a.staleReads, a.readsSucceeded)} | ${rate(b.staleReads, b.readsSucceeded)} | ` +
        `${rate(a.writesAcknowledged, a.writes)} | ${rate(b.writesAcknowledged, b.writes)} | ` +
        `${rate(a.readsSucceeded, a.reads)} | ${rate(b.readsSucceeded, b.reads)} |`,
    );
  });
  lines.push(
    '',
    '### Convergence after the faults stop (N=3, R=2, W=2, sloppy quorum)',
    '',
    'Time from the last fault (every node back, network healed, no loss) until the N replicas of every key ' +
      'hold every version that exists anywhere, hints included; anti-entropy and handoff rounds every 100 ms, ' +
      'no client traffic. Times are over the runs that converged: without anti-entropy, only runs whose ' +
      'divergence handoff (or nothing) could repair converge, and quickly; the others never do.',
    '',
    '| repair | runs converged (20 s limit) | median ms | p95 ms | max ms | keys divergent when faults stop (mean) |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const [name, result] of results.convergence) {
    const times = result.convergenceMs;
    lines.push(
      `| ${name} | ${result.convergedRuns} / ${result.runs} | ${ms(percentile(times, 0.5))} | ` +
        `${ms(percentile(times, 0.95))} | ${ms(Math.max(...times))} | ${result.divergentKeysAtStop.toFixed(1)} |`,
    );
  }
  lines.push(
    '',
    'Every run above also passed the invariant checks: no acknowledged write missing from any replica, ' +
      'nor from a quorum read after convergence; none missing from any read with R+W>N under strict quorum; ' +
      'no value nobody wrote; siblings bounded, and resolved by one write over a full read.',
    '',
  );
  return lines.join('\n');
}

function rate(part: number, whole: number): string {
  if (whole === 0) return 'n/a';
  const percent = (100 * part) / whole;
  return `${percent < 10 && percent > 0 ? percent.toFixed(2) : percent.toFixed(1)}% (${part} / ${whole})`;
}

function ms(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value)) : 'n/a';
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

async function main(): Promise<number> {
  if (values.replay !== undefined) return single(JSON.parse(values.replay) as SimulationOptions);
  if (values.seed !== undefined) return single(optionsFromFlags(Number(values.seed)));
  if (values.sweep !== undefined) return sweep(Number(values.sweep));
  return measure();
}

process.exitCode = await main();
