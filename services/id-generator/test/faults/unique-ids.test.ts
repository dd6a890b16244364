import { History } from '@sysdesign/testkit/faults';
import { describe, expect, it } from 'vitest';
import { checkUniqueIds, mintFunction } from './unique-ids.js';

/** A history whose clock is the event count, so hand-made histories read the same every run. */
function historyOf(build: (history: History) => void) {
  let tick = 0;
  const history = new History(() => tick++);
  build(history);
  return history.events();
}

describe('checkUniqueIds', () => {
  it('passes ids unique across nodes, ignoring failed and timed-out mints', () => {
    const events = historyOf((history) => {
      history.invoke('a', { f: mintFunction, node: 'n1' });
      history.invoke('b', { f: mintFunction, node: 'n2' });
      history.ok('a', ['1', '2']);
      history.ok('b', ['3']);
      history.invoke('a', { f: mintFunction, node: 'n1' });
      history.fail('a');
      history.invoke('b', { f: mintFunction, node: 'n2' });
      history.unknown('b');
    });
    expect(checkUniqueIds(events)).toEqual({ valid: true, anomalies: [] });
  });

  it('flags an id two nodes both issued, with the two mints as the excerpt', () => {
    const events = historyOf((history) => {
      history.invoke('a', { f: mintFunction, node: 'n1' });
      history.ok('a', ['10', '11']);
      history.invoke('c', { f: 'decode' });
      history.ok('c', { workerId: 1 });
      history.invoke('b', { f: mintFunction, node: 'n2' });
      history.ok('b', ['11']);
    });
    const result = checkUniqueIds(events);
    expect(result.valid).toBe(false);
    expect(result.anomalies).toHaveLength(1);
    expect(result.anomalies[0]?.kind).toBe('duplicate-id');
    expect(result.anomalies[0]?.message).toBe('11 was issued by n1 and again by n2');
    expect(result.anomalies[0]?.excerpt.map((event) => event.index)).toEqual([0, 1, 4, 5]);
  });

  it('flags an id one node issued twice', () => {
    const events = historyOf((history) => {
      history.invoke('a', { f: mintFunction, node: 'n1' });
      history.ok('a', ['7']);
      history.invoke('a', { f: mintFunction, node: 'n1' });
      history.ok('a', ['7', '8']);
    });
    expect(checkUniqueIds(events).anomalies.map((anomaly) => anomaly.kind)).toEqual(['duplicate-id']);
  });
});
