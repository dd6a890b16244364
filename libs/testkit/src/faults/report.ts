/**
 * The markdown report of one fault run: which faults were injected and when, how many operations
 * ended each way, and each checker's verdict with the smallest excerpt of the history that shows
 * each anomaly, so a reader can see the failure without rerunning it.
 */
import type { CheckResult } from './checkers/result.js';
import { type HistoryEvent, historyToJsonl, pairOperations } from './history.js';

/** A fault as the nemesis injected it; `endMs` is absent for one that was never healed. */
export interface FaultRecord {
  kind: string;
  /** What it hit: a node, a link, a group ("n1 -> n2", "{n1,n2} | {n3,n4,n5}"). */
  target: string;
  startMs: number;
  endMs?: number | undefined;
}

export interface ReportInput {
  title?: string | undefined;
  /** The seed that replays the run, printed first. */
  seed?: number | undefined;
  faults: readonly FaultRecord[];
  history: readonly HistoryEvent[];
  /** Each checker's result, by the checker's name. */
  results: Readonly<Record<string, CheckResult>>;
  /**
   * Anomalies shown per checker, the rest counted (a long run can find thousands of one kind);
   * every one is shown unless given.
   */
  anomaliesShownMax?: number | undefined;
}

const outcomes = ['ok', 'fail', 'unknown', 'pending'] as const;

export function renderReport({
  title = 'Fault run',
  seed,
  faults,
  history,
  results,
  anomaliesShownMax = Number.POSITIVE_INFINITY,
}: ReportInput): string {
  const sections = [
    `# ${title}`,
    seed === undefined ? undefined : `Seed: \`${seed}\``,
    faultsSection(faults),
    operationsSection(history),
    verdictsSection(results),
    anomaliesSection(results, anomaliesShownMax),
  ];
  return `${sections.filter((section) => section !== undefined).join('\n\n')}\n`;
}

function faultsSection(faults: readonly FaultRecord[]): string {
  if (faults.length === 0) return '## Faults\n\nNone injected.';
  const rows = faults.map(
    (fault) =>
      `| ${cell(fault.kind)} | ${cell(fault.target)} | ${milliseconds(fault.startMs)} | ${fault.endMs === undefined ? 'never healed' : milliseconds(fault.endMs)} |`,
  );
  return ['## Faults', '', '| fault | target | start | end |', '| --- | --- | ---: | ---: |', ...rows].join(
    '\n',
  );
}

function operationsSection(history: readonly HistoryEvent[]): string {
  const countsByFunction = new Map<string, Record<(typeof outcomes)[number], number>>();
  for (const operation of pairOperations(history)) {
    const counts = countsByFunction.get(operation.invoke.f) ?? { ok: 0, fail: 0, unknown: 0, pending: 0 };
    counts[
      operation.complete?.type === undefined
        ? 'pending'
        : (operation.complete.type as (typeof outcomes)[number])
    ] += 1;
    countsByFunction.set(operation.invoke.f, counts);
  }
  const rows = [...countsByFunction].map(
    ([f, counts]) => `| ${cell(f)} | ${outcomes.map((outcome) => counts[outcome]).join(' | ')} |`,
  );
  const header = `| operation | ${outcomes.join(' | ')} |`;
  return ['## Operations', '', header, `| --- |${' ---: |'.repeat(outcomes.length)}`, ...rows].join('\n');
}

function verdictsSection(results: Readonly<Record<string, CheckResult>>): string {
  const rows = Object.entries(results).map(
    ([checker, result]) =>
      `| ${cell(checker)} | ${result.valid ? 'valid' : 'INVALID'} | ${result.anomalies.length} |`,
  );
  return ['## Checkers', '', '| checker | verdict | anomalies |', '| --- | --- | ---: |', ...rows].join('\n');
}

function anomaliesSection(
  results: Readonly<Record<string, CheckResult>>,
  shownMax: number,
): string | undefined {
  const blocks: string[] = [];
  for (const [checker, result] of Object.entries(results)) {
    for (const anomaly of result.anomalies.slice(0, shownMax)) {
      blocks.push(
        `### ${checker}: ${anomaly.kind}\n\n${anomaly.message}\n\n\`\`\`jsonl\n${historyToJsonl(anomaly.excerpt)}\`\`\``,
      );
    }
    const hidden = result.anomalies.length - shownMax;
    if (hidden > 0)
      blocks.push(`### ${checker}: ${hidden} more\n\nNot shown: the first ${shownMax} are above.`);
  }
  return blocks.length === 0 ? undefined : ['## Anomalies', ...blocks].join('\n\n');
}

/** A pipe inside a table cell would end the cell: markdown wants it escaped. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function milliseconds(timeMs: number): string {
  return `${Math.round(timeMs)} ms`;
}
