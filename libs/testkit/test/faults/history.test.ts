import { describe, expect, it } from 'vitest';
import { History, pairOperations, parseHistory } from '../../src/faults/history.js';

function countingClock(): () => number {
  let timeMs = 100;
  return () => timeMs++;
}

describe('History', () => {
  it('records invoke and completion with the process, the operation and times from its start', () => {
    // A write acknowledged, then a read that saw it: four events, times counted from creation.
    const history = new History(countingClock());
    history.invoke('c1', { f: 'write', key: 'x', value: 1 });
    history.ok('c1');
    history.invoke('c1', { f: 'read', key: 'x' });
    history.ok('c1', 1);
    expect(history.events()).toEqual([
      { index: 0, type: 'invoke', process: 'c1', timeMs: 1, f: 'write', key: 'x', value: 1 },
      { index: 1, type: 'ok', process: 'c1', timeMs: 2, f: 'write', key: 'x', value: 1 },
      { index: 2, type: 'invoke', process: 'c1', timeMs: 3, f: 'read', key: 'x' },
      { index: 3, type: 'ok', process: 'c1', timeMs: 4, f: 'read', key: 'x', value: 1 },
    ]);
  });

  it('refuses a second invocation while the process has one in flight, and a completion of nothing', () => {
    const history = new History(countingClock());
    expect(() => history.ok('c1')).toThrow(/never invoked/);
    history.invoke('c1', { f: 'read', key: 'x' });
    expect(() => history.invoke('c1', { f: 'read', key: 'y' })).toThrow(/in flight/);
  });

  it('runs an action as ok, as fail when the error is definite, and as unknown otherwise', async () => {
    // Three runs: a result, a definite refusal, a timeout; the outcomes follow.
    const history = new History(countingClock());
    await history.run('c1', { f: 'write', key: 'x', value: 1 }, async () => 'stored');
    const refused = new Error('refused');
    await history.run(
      'c1',
      { f: 'write', key: 'x', value: 2 },
      async () => Promise.reject(refused),
      (error) => error === refused,
    );
    await history.run('c1', { f: 'write', key: 'x', value: 3 }, async () =>
      Promise.reject(new Error('timeout')),
    );
    const outcomes = pairOperations(history.events()).map((operation) => operation.complete?.type);
    expect(outcomes).toEqual(['ok', 'fail', 'unknown']);
  });

  it('writes JSONL that reads back to the same events, pending invocations included', () => {
    const history = new History(countingClock());
    history.invoke('c1', { f: 'write', key: 'x', value: { nested: [1, 2] }, node: 'n1' });
    history.unknown('c1');
    history.invoke('c2', { f: 'read', key: 'x' });
    const read = parseHistory(history.toJsonl());
    expect(read).toEqual(history.events());
    expect(pairOperations(read)[1]?.complete).toBeUndefined();
  });

  it('refuses a malformed JSONL line, naming its line number', () => {
    const good = '{"index":0,"type":"invoke","process":"c1","timeMs":0,"f":"read"}';
    expect(() => parseHistory(`${good}\nnot json\n`)).toThrow(/line 2 is not JSON/);
    expect(() =>
      parseHistory(`${good}\n{"index":1,"type":"maybe","process":"c1","timeMs":0,"f":"read"}`),
    ).toThrow(/line 2 is not a history event/);
  });
});
