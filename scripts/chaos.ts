import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ChaosArgs, parseChaosArgs } from './chaos/args.js';
import { processesMarked, sampleTree } from './chaos/processes.js';
import { assembleReport, type ResourceSamples, type SuiteRun, summaryTable } from './chaos/report.js';
import { FAULT_SUITES, FAULTS_DIR, type FaultSuiteEntry, matchSuiteFiles } from './chaos/suites.js';

/**
 * `pnpm chaos <service> [--seconds N] [--seed S]`: runs the service's fault suites one after the
 * other through vitest, stretched to N seconds each (FAULT_SECONDS) with seed S (FAULT_SEED),
 * collects the reports they append to FAULT_REPORT, samples their processes and memory, checks
 * that nothing they started outlives them, writes load-tests/results/chaos-<service>.md and
 * prints the summary table. Exits 1 when a suite fails or leaves a process behind, 2 on a usage
 * error.
 */

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const vitestBin = join(repositoryRoot, 'node_modules/vitest/vitest.mjs');
const SAMPLE_INTERVAL_MS = 10_000;
/** A child killed with its parent may take a moment to go. */
const LEFTOVER_GRACE_MS = 2_000;
/** The run's marker, inherited by every process a suite spawns: how leftovers are found. */
const MARKER_NAME = 'SYSDESIGN_CHAOS_RUN';

function suiteFilesOf(entry: FaultSuiteEntry): string[] {
  const dir = join(repositoryRoot, entry.folder, FAULTS_DIR);
  return existsSync(dir) ? matchSuiteFiles(entry, readdirSync(dir)) : [];
}

async function runSuite(
  file: string,
  entry: FaultSuiteEntry,
  args: ChaosArgs,
  workDir: string,
): Promise<SuiteRun> {
  const reportFile = join(workDir, `${file.replaceAll('/', '_')}.md`);
  writeFileSync(reportFile, '');
  const runId = randomUUID();
  const marker = `${MARKER_NAME}=${runId}`;
  const startedMs = performance.now();
  process.stdout.write(`\n== ${file}: ${args.seconds} s, seed ${args.seed}\n`);
  const child = spawn(
    process.execPath,
    [vitestBin, 'run', '--root', repositoryRoot, '--project', entry.project, file],
    {
      cwd: repositoryRoot,
      stdio: 'inherit',
      env: {
        ...process.env,
        FAULT_SEED: String(args.seed),
        FAULT_SECONDS: String(args.seconds),
        FAULT_REPORT: reportFile,
        [MARKER_NAME]: runId,
      },
    },
  );
  const resources: ResourceSamples = { samples: [], leftovers: [] };
  const sample = () => {
    if (child.pid === undefined) return;
    resources.samples.push({ elapsedMs: performance.now() - startedMs, ...sampleTree(child.pid) });
  };
  const sampler = setInterval(sample, SAMPLE_INTERVAL_MS);
  const exitCode = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  clearInterval(sampler);
  const durationMs = performance.now() - startedMs;
  await new Promise((resolve) => setTimeout(resolve, LEFTOVER_GRACE_MS));
  resources.leftovers = processesMarked(marker);
  for (const leftover of resources.leftovers) {
    try {
      process.kill(leftover.pid, 'SIGKILL');
    } catch {
      // It went by itself meanwhile.
    }
  }
  return { file, exitCode, durationMs, report: readFileSync(reportFile, 'utf8'), resources };
}

async function main(): Promise<number> {
  const services = Object.keys(FAULT_SUITES)
    .sort()
    .map((name) => {
      const entry = FAULT_SUITES[name] as FaultSuiteEntry;
      const files = `${entry.folder}/${FAULTS_DIR}/${entry.pattern}`;
      return { name, ready: suiteFilesOf(entry).length > 0, files };
    });
  const parsed = parseChaosArgs(process.argv.slice(2), services);
  if (parsed.kind === 'help') {
    process.stdout.write(`${parsed.text}\n`);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`pnpm chaos: ${parsed.text}\n`);
    return 2;
  }
  const { args } = parsed;
  const entry = FAULT_SUITES[args.service] as FaultSuiteEntry;
  const files = suiteFilesOf(entry);
  const startedAt = new Date();
  const workDir = mkdtempSync(join(tmpdir(), `chaos-${args.service}-`));
  const suites: SuiteRun[] = [];
  try {
    for (const file of files) suites.push(await runSuite(file, entry, args, workDir));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  const output = join(repositoryRoot, 'load-tests/results', `chaos-${args.service}.md`);
  writeFileSync(
    output,
    assembleReport({
      service: args.service,
      command: `pnpm chaos ${args.service} --seconds ${args.seconds} --seed ${args.seed}`,
      startedAt,
      seed: args.seed,
      seconds: args.seconds,
      cores: availableParallelism(),
      nodeVersion: process.version,
      suites,
    }),
  );
  process.stdout.write(`\n${summaryTable(suites)}\n\nreport: ${output}\n`);
  const failed = suites.some((suite) => suite.exitCode !== 0 || suite.resources.leftovers.length > 0);
  return failed ? 1 : 0;
}

process.exitCode = await main();
