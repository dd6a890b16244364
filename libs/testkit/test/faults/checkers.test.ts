import { describe, expect, it } from 'vitest';
import { checkConservedSum } from '../../src/faults/checkers/conserved-sum.js';
import { checkConvergence } from '../../src/faults/checkers/convergence.js';
import { checkExactlyOnce } from '../../src/faults/checkers/exactly-once.js';
import { checkNoLostWrites } from '../../src/faults/checkers/lost-writes.js';
import { checkStreamOrder } from '../../src/faults/checkers/stream-order.js';
import { History, type Operation } from '../../src/faults/history.js';

type Outcome = 'ok' | 'fail' | 'unknown';

/** Records one whole operation of `process`: invoke, then its outcome with its result. */
function record(
  history: History,
  process: string,
  operation: Operation,
  outcome: Outcome,
  result?: unknown,
): void {
  history.invoke(process, operation);
  if (outcome === 'ok') history.ok(process, result);
  else if (outcome === 'fail') history.fail(process);
  else history.unknown(process);
}

function newHistory(): History {
  let timeMs = 0;
  return new History(() => timeMs++);
}

describe('checkNoLostWrites', () => {
  it('passes when final reads show the last acknowledged write or a concurrent one', () => {
    // x: 1 then 2 acknowledged in order, the final read shows 2. y: 3 and 4 concurrent, it shows 3.
    const history = newHistory();
    record(history, 'c1', { f: 'write', key: 'x', value: 1 }, 'ok');
    record(history, 'c1', { f: 'write', key: 'x', value: 2 }, 'ok');
    history.invoke('c1', { f: 'write', key: 'y', value: 3 });
    history.invoke('c2', { f: 'write', key: 'y', value: 4 });
    history.ok('c2');
    history.ok('c1');
    record(history, 'c1', { f: 'final-read', key: 'x' }, 'ok', 2);
    record(history, 'c1', { f: 'final-read', key: 'y' }, 'ok', 3);
    expect(checkNoLostWrites(history.events())).toEqual({ valid: true, anomalies: [] });
  });

  it('lets an unknown write appear or not, and refuses the value of a failed one', () => {
    const history = newHistory();
    record(history, 'c1', { f: 'write', key: 'x', value: 1 }, 'ok');
    record(history, 'c1', { f: 'write', key: 'x', value: 2 }, 'unknown');
    record(history, 'c1', { f: 'write', key: 'y', value: 5 }, 'fail');
    record(history, 'c1', { f: 'final-read', key: 'x', node: 'n1' }, 'ok', 2);
    record(history, 'c1', { f: 'final-read', key: 'x', node: 'n2' }, 'ok', 1);
    expect(checkNoLostWrites(history.events()).valid).toBe(true);
    record(history, 'c1', { f: 'final-read', key: 'y' }, 'ok', 5);
    const { anomalies } = checkNoLostWrites(history.events());
    expect(anomalies.map((anomaly) => anomaly.kind)).toEqual(['phantom-value']);
  });

  it('flags an acknowledged write that a final read lost, with the write and the read as excerpt', () => {
    // 2 was acknowledged after 1; the final read shows 1, which completed before 2 began.
    const history = newHistory();
    record(history, 'c1', { f: 'write', key: 'x', value: 1 }, 'ok');
    record(history, 'c2', { f: 'write', key: 'x', value: 2 }, 'ok');
    record(history, 'c1', { f: 'final-read', key: 'x' }, 'ok', 1);
    const { valid, anomalies } = checkNoLostWrites(history.events());
    expect(valid).toBe(false);
    expect(anomalies).toHaveLength(1);
    expect(anomalies[0]?.kind).toBe('lost-write');
    expect(anomalies[0]?.excerpt.map((event) => event.index)).toEqual([2, 3, 4, 5]);
  });

  it('accepts siblings that hold every concurrent acknowledged write', () => {
    const history = newHistory();
    history.invoke('c1', { f: 'write', key: 'x', value: 'a' });
    history.invoke('c2', { f: 'write', key: 'x', value: 'b' });
    history.ok('c1');
    history.ok('c2');
    record(history, 'c1', { f: 'final-read', key: 'x' }, 'ok', ['b', 'a']);
    expect(checkNoLostWrites(history.events()).valid).toBe(true);
  });
});

describe('checkConvergence', () => {
  it('passes when every replica reads the same value, siblings in any order', () => {
    const history = newHistory();
    record(history, 'c1', { f: 'final-read', key: 'x', node: 'n1' }, 'ok', ['a', 'b']);
    record(history, 'c1', { f: 'final-read', key: 'x', node: 'n2' }, 'ok', ['b', 'a']);
    record(history, 'c1', { f: 'final-read', key: 'y', node: 'n1' }, 'ok', 1);
    record(history, 'c1', { f: 'final-read', key: 'y', node: 'n2' }, 'ok', 1);
    expect(checkConvergence(history.events())).toEqual({ valid: true, anomalies: [] });
  });

  it('flags replicas that still disagree after heal, naming each view', () => {
    const history = newHistory();
    record(history, 'c1', { f: 'final-read', key: 'x', node: 'n1' }, 'ok', 1);
    record(history, 'c1', { f: 'final-read', key: 'x', node: 'n2' }, 'ok', 1);
    record(history, 'c1', { f: 'final-read', key: 'x', node: 'n3' }, 'ok', 2);
    const { valid, anomalies } = checkConvergence(history.events());
    expect(valid).toBe(false);
    expect(anomalies[0]?.message).toBe('replicas disagree on x after heal: n1 sees [1]; n3 sees [2]');
    expect(anomalies[0]?.excerpt.map((event) => event.node)).toEqual(['n1', 'n1', 'n3', 'n3']);
  });
});

describe('checkConservedSum', () => {
  it('passes balances that always sum to the total, none negative', () => {
    const history = newHistory();
    record(history, 'c1', { f: 'balances' }, 'ok', { a: 50, b: 50 });
    record(history, 'c2', { f: 'transfer', value: { from: 'a', to: 'b', amount: 30 } }, 'ok');
    record(history, 'c1', { f: 'balances' }, 'ok', { a: 20, b: 80 });
    expect(checkConservedSum(history.events(), { total: 100 })).toEqual({ valid: true, anomalies: [] });
  });

  it('flags money created and a negative balance', () => {
    // A transfer applied twice: b gains twice what a lost once, then a goes below zero.
    const history = newHistory();
    record(history, 'c1', { f: 'balances' }, 'ok', { a: 20, b: 110 });
    record(history, 'c1', { f: 'balances' }, 'ok', { a: -10, b: 110 });
    const { anomalies } = checkConservedSum(history.events(), { total: 100 });
    expect(anomalies.map((anomaly) => anomaly.kind)).toEqual(['sum-not-conserved', 'negative-balance']);
    expect(anomalies[1]?.excerpt.map((event) => event.index)).toEqual([2, 3]);
  });
});

describe('checkExactlyOnce', () => {
  it('passes when each acknowledged id is applied once and an unknown one at most once', () => {
    const history = newHistory();
    record(history, 'c1', { f: 'submit', value: 'j1' }, 'ok');
    record(history, 'c1', { f: 'submit', value: 'j2' }, 'unknown');
    record(history, 'c1', { f: 'submit', value: 'j2' }, 'ok');
    record(history, 'c1', { f: 'submit', value: 'j3' }, 'unknown');
    record(history, 'c1', { f: 'effects' }, 'ok', ['j2', 'j1']);
    expect(checkExactlyOnce(history.events())).toEqual({ valid: true, anomalies: [] });
  });

  it('flags a double apply, a lost acknowledged effect and the effect of a failed submit', () => {
    const history = newHistory();
    record(history, 'c1', { f: 'submit', value: 'j1' }, 'ok');
    record(history, 'c1', { f: 'submit', value: 'j2' }, 'ok');
    record(history, 'c1', { f: 'submit', value: 'j3' }, 'fail');
    record(history, 'c1', { f: 'effects' }, 'ok', ['j1', 'j3', 'j1']);
    const { valid, anomalies } = checkExactlyOnce(history.events());
    expect(valid).toBe(false);
    expect(anomalies.map((anomaly) => `${anomaly.kind}: ${anomaly.message}`)).toEqual([
      'duplicate-effect: j1 was applied 2 times',
      'unexpected-effect: j3 was applied but no submit of it may have happened',
      'missing-effect: j2 was acknowledged but never applied',
    ]);
  });

  it('refuses to call a history valid when it has no effects read', () => {
    const history = newHistory();
    record(history, 'c1', { f: 'submit', value: 'j1' }, 'ok');
    expect(checkExactlyOnce(history.events()).anomalies[0]?.kind).toBe('no-final-read');
  });
});

describe('checkStreamOrder', () => {
  it('passes consecutive deliveries per consumer and stream, in batches and across reconnects', () => {
    const history = newHistory();
    record(history, 'c1', { f: 'receive', key: 'room-1' }, 'ok', [1, 2]);
    record(history, 'c2', { f: 'receive', key: 'room-1' }, 'ok', 1);
    record(history, 'c1', { f: 'receive', key: 'room-1' }, 'unknown');
    record(history, 'c1', { f: 'receive', key: 'room-1' }, 'ok', 3);
    record(history, 'c1', { f: 'receive', key: 'room-2' }, 'ok', 1);
    expect(checkStreamOrder(history.events())).toEqual({ valid: true, anomalies: [] });
  });

  it('flags a gap and a duplicate with the two deliveries that show each', () => {
    const history = newHistory();
    record(history, 'c1', { f: 'receive', key: 'room-1' }, 'ok', 1);
    record(history, 'c1', { f: 'receive', key: 'room-1' }, 'ok', 3);
    record(history, 'c1', { f: 'receive', key: 'room-1' }, 'ok', 3);
    const { anomalies } = checkStreamOrder(history.events());
    expect(anomalies.map((anomaly) => anomaly.message)).toEqual([
      'consumer c1 on room-1 received 3 after 1: 2 is missing',
      'consumer c1 on room-1 received 3 after 3',
    ]);
    expect(anomalies[0]?.excerpt.map((event) => event.index)).toEqual([0, 1, 2, 3]);
    expect(anomalies[1]?.excerpt.map((event) => event.index)).toEqual([2, 3, 4, 5]);
  });
});
