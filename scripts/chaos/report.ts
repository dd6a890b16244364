/**
 * The report of a `pnpm chaos` run: a header naming the command, date, seed, duration and machine;
 * a summary table with one row per suite report (faults, operations by outcome, checkers and
 * anomalies), read back from the markdown the suites wrote with the fault lab's `renderReport`;
 * what the run's processes used; then the suites' reports themselves, under a heading per file.
 * Pure functions, so the layout is tested without running a suite.
 */

/** One fault suite report, as read from its `renderReport` markdown. */
export interface ReportSummary {
  title: string;
  /** Fault kinds with their counts, in the order they first appear. */
  faults: { kind: string; count: number }[];
  operations: { f: string; ok: number; fail: number; unknown: number; pending: number }[];
  checkers: { name: string; valid: boolean; anomalies: number }[];
}

/** What the processes of one suite used, sampled while it ran, and what was left after it. */
export interface ResourceSamples {
  samples: { elapsedMs: number; processes: number; rssMiB: number }[];
  /** Processes of the run still alive after the suite exited (killed by the run afterwards). */
  leftovers: { pid: number; command: string }[];
}

export interface SuiteRun {
  /** The test file, from the repository root. */
  file: string;
  exitCode: number;
  durationMs: number;
  /** What the suite appended to FAULT_REPORT; empty when it wrote nothing. */
  report: string;
  resources: ResourceSamples;
}

export interface ChaosRun {
  service: string;
  command: string;
  startedAt: Date;
  seed: number;
  seconds: number;
  cores: number;
  nodeVersion: string;
  suites: SuiteRun[];
}

/** Splits the concatenated reports at their titles (`# ...`) and reads each one's tables. */
export function summarizeReports(markdown: string): ReportSummary[] {
  const summaries: ReportSummary[] = [];
  let current: ReportSummary | undefined;
  let section = '';
  for (const line of markdownLines(markdown)) {
    if (line.startsWith('# ')) {
      current = { title: line.slice(2).trim(), faults: [], operations: [], checkers: [] };
      summaries.push(current);
      section = '';
    } else if (line.startsWith('## ')) {
      section = line.slice(3).trim();
    } else if (current !== undefined && isTableRow(line)) {
      readRow(current, section, tableCells(line));
    }
  }
  return summaries;
}

/** Lines outside fenced code blocks: an anomaly's JSONL excerpt is not a heading or a table. */
function markdownLines(markdown: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    else if (!fenced) lines.push(line);
  }
  return lines;
}

function isTableRow(line: string): boolean {
  return line.startsWith('|') && !/^\|\s*-{3}/.test(line);
}

/** The cells of a table row, with `\|` (a pipe inside a cell) kept as a pipe. */
function tableCells(line: string): string[] {
  return line
    .slice(1, line.endsWith('|') ? -1 : undefined)
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replaceAll('\\|', '|'));
}

function readRow(summary: ReportSummary, section: string, cells: string[]): void {
  const [first = '', second = '', third = '', fourth = '', fifth = ''] = cells;
  if (section === 'Faults' && first !== 'fault') {
    const known = summary.faults.find((entry) => entry.kind === first);
    if (known) known.count++;
    else summary.faults.push({ kind: first, count: 1 });
  } else if (section === 'Operations' && first !== 'operation') {
    const [ok, fail, unknown, pending] = [second, third, fourth, fifth].map(Number) as [
      number,
      number,
      number,
      number,
    ];
    summary.operations.push({ f: first, ok, fail, unknown, pending });
  } else if (section === 'Checkers' && first !== 'checker') {
    summary.checkers.push({ name: first, valid: second === 'valid', anomalies: Number(third) });
  }
}

const count = (value: number) => value.toLocaleString('en-US');

function faultsCell(summary: ReportSummary): string {
  if (summary.faults.length === 0) return 'none';
  return summary.faults.map((entry) => `${count(entry.count)} ${entry.kind}`).join(', ');
}

function operationsCell(summary: ReportSummary): string {
  if (summary.operations.length === 0) return 'none';
  return summary.operations
    .map(
      (entry) => `${entry.f} ${[entry.ok, entry.fail, entry.unknown, entry.pending].map(count).join(' / ')}`,
    )
    .join('; ');
}

function checkersCell(summary: ReportSummary): string {
  const invalid = summary.checkers.filter((checker) => !checker.valid).length;
  if (summary.checkers.length === 0) return 'none';
  return invalid === 0
    ? `${summary.checkers.length} valid`
    : `${invalid} of ${summary.checkers.length} INVALID`;
}

/** One row per report of each suite; a suite that wrote none gets a row that says so. */
export function summaryTable(suites: readonly SuiteRun[]): string {
  const rows: string[] = [];
  for (const suite of suites) {
    const result = suite.exitCode === 0 ? 'passed' : `FAILED (exit ${suite.exitCode})`;
    const summaries = summarizeReports(suite.report);
    if (summaries.length === 0) rows.push(`| ${suite.file} | no report written | ${result} | | | | |`);
    for (const summary of summaries) {
      const anomalies = summary.checkers.reduce((sum, checker) => sum + checker.anomalies, 0);
      rows.push(
        `| ${cell(suite.file)} | ${cell(summary.title)} | ${result} | ${cell(faultsCell(summary))} | ${cell(operationsCell(summary))} | ${checkersCell(summary)} | ${count(anomalies)} |`,
      );
    }
  }
  return [
    '| suite | report | result | faults | operations (ok / fail / unknown / pending) | checkers | anomalies |',
    '| --- | --- | --- | --- | --- | --- | ---: |',
    ...rows,
  ].join('\n');
}

/**
 * Processes and resident memory of each suite's process tree (vitest, its worker, the nodes it
 * started): a sample a minute and the peak, so growth over a long run shows, and what was left.
 */
export function resourcesSection(suites: readonly SuiteRun[]): string {
  const blocks = suites.map((suite) => {
    const { samples, leftovers } = suite.resources;
    const perMinute = samples.filter(
      (sample, index) =>
        index === 0 ||
        index === samples.length - 1 ||
        Math.floor(sample.elapsedMs / 60_000) > Math.floor((samples[index - 1]?.elapsedMs ?? 0) / 60_000),
    );
    const peak = samples.reduce<(typeof samples)[number] | undefined>(
      (best, sample) => (best === undefined || sample.rssMiB > best.rssMiB ? sample : best),
      undefined,
    );
    const rows = perMinute.map(
      (sample) =>
        `| ${Math.round(sample.elapsedMs / 1_000)} s | ${sample.processes} | ${count(Math.round(sample.rssMiB))} |`,
    );
    const left =
      leftovers.length === 0
        ? 'Left running after the suite exited: nothing.'
        : `Left running after the suite exited (killed by the run): ${leftovers.map((entry) => `${entry.pid} \`${entry.command}\``).join(', ')}.`;
    const peakLine =
      peak === undefined
        ? 'No samples.'
        : `Peak: ${count(Math.round(peak.rssMiB))} MiB at ${Math.round(peak.elapsedMs / 1_000)} s.`;
    return [
      `### ${suite.file}`,
      '',
      '| time | processes | RSS (MiB) |',
      '| ---: | ---: | ---: |',
      ...rows,
      '',
      `${peakLine} ${left}`,
    ].join('\n');
  });
  return ['## Processes and memory', ...blocks].join('\n\n');
}

/** The whole file: header, summary, resources, then each file's reports under its name. */
export function assembleReport(run: ChaosRun): string {
  const header = [
    `# Chaos run: ${run.service}`,
    '',
    '| | |',
    '| --- | --- |',
    `| command | \`${run.command}\` |`,
    `| date | ${run.startedAt.toISOString()} |`,
    `| seed | ${run.seed} |`,
    `| duration | ${run.seconds} s per suite (FAULT_SECONDS; never shorter than the suite's CI length) |`,
    `| machine | ${run.cores} cores (nproc), Node ${run.nodeVersion} |`,
    `| wall time | ${run.suites.map((suite) => `${suite.file} ${Math.round(suite.durationMs / 1_000)} s`).join(', ')} |`,
  ].join('\n');
  const reports = run.suites.map((suite) =>
    suite.report.trim() === ''
      ? `## ${suite.file}\n\nNo report written (exit ${suite.exitCode}).`
      : `## ${suite.file}\n\n${demoteHeadings(suite.report.trim())}`,
  );
  return `${[header, '## Summary', summaryTable(run.suites), resourcesSection(run.suites), ...reports].join('\n\n')}\n`;
}

/**
 * Every heading two levels down (outside code blocks): a suite's `# title` nests as `###` under
 * the `##` heading of its file, and its deepest heading (`###`) becomes `#####`.
 */
export function demoteHeadings(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (line.startsWith('```')) fenced = !fenced;
      return !fenced && /^#{1,4} /.test(line) ? `##${line}` : line;
    })
    .join('\n');
}

/** A pipe inside a table cell would end the cell. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}
