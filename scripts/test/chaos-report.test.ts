import { describe, expect, it } from 'vitest';
// The report layout the summary reads is the fault lab's: tested against the real renderer.
import { History } from '../../libs/testkit/src/faults/history.js';
import { renderReport } from '../../libs/testkit/src/faults/report.js';
import {
  assembleReport,
  type ChaosRun,
  demoteHeadings,
  resourcesSection,
  type SuiteRun,
  summarizeReports,
  summaryTable,
} from '../chaos/report.js';

/** Two reports the way a suite appends them: a valid run and one with a lost write. */
function twoReports(): string {
  let timeMs = 0;
  const history = new History(() => (timeMs += 10));
  for (let click = 0; click < 3; click++) {
    history.invoke('c1', { f: 'submit', value: `code-${click}` });
    history.ok('c1');
  }
  history.invoke('c2', { f: 'submit', value: 'code-9' });
  history.unknown('c2');
  history.invoke('c3', { f: 'submit', value: 'code-8' });
  const valid = renderReport({
    title: 'Clicks | paused and killed',
    seed: 22,
    faults: [
      { kind: 'pause', target: 'url-shortener', startMs: 100, endMs: 1_500 },
      { kind: 'kill', target: 'url-shortener', startMs: 2_000, endMs: 2_300 },
      { kind: 'pause', target: 'url-shortener', startMs: 4_000, endMs: 5_500 },
    ],
    history: history.events(),
    results: { 'exactly once': { valid: true, anomalies: [] } },
  });
  const lost = new History(() => (timeMs += 10));
  lost.invoke('c1', { f: 'write', key: 'x', value: 1 });
  lost.ok('c1');
  lost.invoke('c1', { f: 'final-read', key: 'x' });
  lost.ok('c1', null);
  const invalid = renderReport({
    title: 'Second report',
    faults: [],
    history: lost.events(),
    results: {
      'no lost writes': {
        valid: false,
        anomalies: [{ kind: 'lost-write', message: 'x=1 lost', excerpt: [...lost.events()] }],
      },
      'bound, round 1': { valid: true, anomalies: [] },
    },
  });
  return `${valid}\n${invalid}\n`;
}

function suite(overrides: Partial<SuiteRun> = {}): SuiteRun {
  return {
    file: 'services/url-shortener/test/faults/click-consumer.test.ts',
    exitCode: 0,
    durationMs: 612_400,
    report: twoReports(),
    resources: {
      samples: [
        { elapsedMs: 10_000, processes: 4, rssMiB: 300.4 },
        { elapsedMs: 50_000, processes: 4, rssMiB: 320 },
        { elapsedMs: 70_000, processes: 5, rssMiB: 410.6 },
        { elapsedMs: 80_000, processes: 4, rssMiB: 330 },
      ],
      leftovers: [],
    },
    ...overrides,
  };
}

describe('summarizeReports', () => {
  it("reads each report's title, faults by kind, operations by outcome and checkers", () => {
    const [first, second, ...rest] = summarizeReports(twoReports());
    expect(rest).toEqual([]);
    expect(first).toEqual({
      title: 'Clicks | paused and killed',
      faults: [
        { kind: 'pause', count: 2 },
        { kind: 'kill', count: 1 },
      ],
      operations: [{ f: 'submit', ok: 3, fail: 0, unknown: 1, pending: 1 }],
      checkers: [{ name: 'exactly once', valid: true, anomalies: 0 }],
    });
    expect(second).toEqual({
      title: 'Second report',
      faults: [],
      operations: [
        { f: 'write', ok: 1, fail: 0, unknown: 0, pending: 0 },
        { f: 'final-read', ok: 1, fail: 0, unknown: 0, pending: 0 },
      ],
      checkers: [
        { name: 'no lost writes', valid: false, anomalies: 1 },
        { name: 'bound, round 1', valid: true, anomalies: 0 },
      ],
    });
  });

  it('finds nothing in an empty report', () => {
    expect(summarizeReports('')).toEqual([]);
  });
});

describe('summaryTable', () => {
  it('has a row per report with faults, operations, checkers and the anomaly count', () => {
    const table = summaryTable([suite()]);
    const file = 'services/url-shortener/test/faults/click-consumer.test.ts';
    expect(table.split('\n')).toEqual([
      '| suite | report | result | faults | operations (ok / fail / unknown / pending) | checkers | anomalies |',
      '| --- | --- | --- | --- | --- | --- | ---: |',
      `| ${file} | Clicks \\| paused and killed | passed | 2 pause, 1 kill | submit 3 / 0 / 1 / 1 | 1 valid | 0 |`,
      `| ${file} | Second report | passed | none | write 1 / 0 / 0 / 0; final-read 1 / 0 / 0 / 0 | 1 of 2 INVALID | 1 |`,
    ]);
  });

  it('says when a suite failed, and when it wrote no report', () => {
    const table = summaryTable([suite({ exitCode: 1, report: '' })]);
    expect(table.split('\n')[2]).toBe(
      '| services/url-shortener/test/faults/click-consumer.test.ts | no report written | FAILED (exit 1) | | | | |',
    );
  });
});

describe('resourcesSection', () => {
  it('shows a sample a minute, the last one and the peak, and what was left running', () => {
    const section = resourcesSection([
      suite({
        resources: { ...suite().resources, leftovers: [{ pid: 4242, command: 'redis-server *:0' }] },
      }),
    ]);
    expect(section).toContain('| 10 s | 4 | 300 |');
    expect(section).not.toContain('| 50 s |');
    expect(section).toContain('| 70 s | 5 | 411 |');
    expect(section).toContain('| 80 s | 4 | 330 |');
    expect(section).toContain('Peak: 411 MiB at 70 s.');
    expect(section).toContain(
      'Left running after the suite exited (killed by the run): 4242 `redis-server *:0`.',
    );
    expect(resourcesSection([suite()])).toContain('Left running after the suite exited: nothing.');
  });
});

describe('assembleReport', () => {
  const run: ChaosRun = {
    service: 'url-shortener',
    command: 'pnpm chaos url-shortener --seconds 600 --seed 22',
    startedAt: new Date('2026-12-07T19:00:00.000Z'),
    seed: 22,
    seconds: 600,
    cores: 2,
    nodeVersion: 'v20.20.2',
    suites: [suite()],
  };

  it('opens with the command, date, seed, duration and machine, then the summary', () => {
    const report = assembleReport(run);
    expect(report.startsWith('# Chaos run: url-shortener\n')).toBe(true);
    for (const line of [
      '| command | `pnpm chaos url-shortener --seconds 600 --seed 22` |',
      '| date | 2026-12-07T19:00:00.000Z |',
      '| seed | 22 |',
      "| duration | 600 s per suite (FAULT_SECONDS; never shorter than the suite's CI length) |",
      '| machine | 2 cores (nproc), Node v20.20.2 |',
      '| wall time | services/url-shortener/test/faults/click-consumer.test.ts 612 s |',
    ])
      expect(report).toContain(line);
    expect(report.indexOf('## Summary')).toBeLessThan(report.indexOf('## Processes and memory'));
    expect(report).toContain(summaryTable(run.suites));
  });

  it("nests each suite's reports under its file, and the summary reads the same from the whole file", () => {
    const report = assembleReport(run);
    expect(report).toContain(
      '## services/url-shortener/test/faults/click-consumer.test.ts\n\n### Clicks | paused and killed',
    );
    expect(report).toContain('#### Faults');
    expect(report).toContain('##### no lost writes: lost-write');
  });

  it('says so for a suite that wrote no report', () => {
    expect(assembleReport({ ...run, suites: [suite({ exitCode: 1, report: '' })] })).toContain(
      '## services/url-shortener/test/faults/click-consumer.test.ts\n\nNo report written (exit 1).',
    );
  });
});

describe('demoteHeadings', () => {
  it('moves headings two levels down, but not lines in code blocks', () => {
    expect(demoteHeadings('# a\n## b\n```text\n# not a heading\n```\n### c')).toBe(
      '### a\n#### b\n```text\n# not a heading\n```\n##### c',
    );
  });
});
