import { describe, expect, it } from 'vitest';
import { checkNoLostWrites } from '../../src/faults/checkers/lost-writes.js';
import { History } from '../../src/faults/history.js';
import { renderReport } from '../../src/faults/report.js';

describe('renderReport', () => {
  it('lists the faults with times, operations by outcome, verdicts and each anomaly with its excerpt', () => {
    // A lost write under a partition: the report names the fault, counts each outcome, and shows
    // the write and the final read that lost it as JSONL.
    let timeMs = 0;
    const history = new History(() => (timeMs += 10));
    history.invoke('c1', { f: 'write', key: 'x', value: 1 });
    history.ok('c1');
    history.invoke('c2', { f: 'write', key: 'x', value: 2 });
    history.unknown('c2');
    history.invoke('c3', { f: 'write', key: 'x', value: 3 });
    history.fail('c3');
    history.invoke('c1', { f: 'final-read', key: 'x' });
    history.ok('c1', null);
    history.invoke('c3', { f: 'write', key: 'x', value: 4 });
    const report = renderReport({
      title: 'KV store under partitions',
      seed: 42,
      faults: [
        { kind: 'partition', target: '{n1,n2} | {n3}', startMs: 5.4, endMs: 25 },
        { kind: 'pause', target: 'n3', startMs: 30 },
      ],
      history: history.events(),
      results: { 'no lost writes': checkNoLostWrites(history.events()) },
    });
    expect(report).toContain('# KV store under partitions\n\nSeed: `42`');
    expect(report).toContain('| partition | {n1,n2} \\| {n3} | 5 ms | 25 ms |');
    expect(report).toContain('| pause | n3 | 30 ms | never healed |');
    expect(report).toContain('| operation | ok | fail | unknown | pending |');
    expect(report).toContain('| write | 1 | 1 | 1 | 1 |');
    expect(report).toContain('| final-read | 1 | 0 | 0 | 0 |');
    expect(report).toContain('| no lost writes | INVALID | 1 |');
    expect(report).toContain('### no lost writes: lost-write');
    const excerpt = report.slice(report.indexOf('```jsonl\n') + 9, report.lastIndexOf('```'));
    expect(
      excerpt
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).index),
    ).toEqual([0, 1, 6, 7]);
  });

  it('says so when no fault was injected and leaves out the anomalies of a clean run', () => {
    const report = renderReport({
      faults: [],
      history: [],
      results: { 'no lost writes': { valid: true, anomalies: [] } },
    });
    expect(report).toContain('## Faults\n\nNone injected.');
    expect(report).toContain('| no lost writes | valid | 0 |');
    expect(report).not.toContain('## Anomalies');
  });

  it('shows at most anomaliesShownMax anomalies of a checker and counts them all', () => {
    // A long run can find thousands of one anomaly: the verdict counts every one, the report shows a few.
    const anomalies = Array.from({ length: 5 }, (_, index) => ({
      kind: 'stale-read',
      message: `read ${index} is stale`,
      excerpt: [],
    }));
    const report = renderReport({
      faults: [],
      history: [],
      results: { 'reads see writes': { valid: false, anomalies } },
      anomaliesShownMax: 2,
    });
    expect(report).toContain('| reads see writes | INVALID | 5 |');
    expect(report).toContain('read 1 is stale');
    expect(report).not.toContain('read 2 is stale');
    expect(report).toContain('### reads see writes: 3 more\n\nNot shown: the first 2 are above.');
  });
});
