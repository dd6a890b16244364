import { describe, expect, it } from 'vitest';
import {
  History,
  type HistoryEvent,
  type PairedOperation,
  pairOperations,
} from '../../src/faults/history.js';
import { checkLinearizableRegister } from '../../src/faults/linearizability.js';
import { seededRandom } from '../../src/random.js';

function newHistory(): History {
  let timeMs = 0;
  return new History(() => timeMs++);
}

describe('checkLinearizableRegister, hand-made histories', () => {
  it('passes a read concurrent with a write that sees either the old or the new value', () => {
    for (const seen of [null, 1]) {
      const history = newHistory();
      history.invoke('c1', { f: 'write', key: 'x', value: 1 });
      history.invoke('c2', { f: 'read', key: 'x' });
      history.ok('c2', seen);
      history.ok('c1');
      expect(checkLinearizableRegister(history.events()).valid).toBe(true);
    }
  });

  it('flags a stale read after an acknowledged write, with the smallest excerpt that shows it', () => {
    // A read that overlaps nothing is first, then write 1 acked, then another key, then a read of null.
    const history = newHistory();
    history.invoke('c1', { f: 'read', key: 'x' });
    history.ok('c1', null);
    history.invoke('c1', { f: 'write', key: 'x', value: 1 });
    history.ok('c1');
    history.invoke('c2', { f: 'write', key: 'y', value: 7 });
    history.ok('c2');
    history.invoke('c2', { f: 'read', key: 'x' });
    history.ok('c2', null);
    const { valid, anomalies } = checkLinearizableRegister(history.events());
    expect(valid).toBe(false);
    expect(anomalies).toHaveLength(1);
    expect(anomalies[0]?.kind).toBe('not-linearizable');
    expect(anomalies[0]?.excerpt.map((event) => event.index)).toEqual([2, 3, 6, 7]);
  });

  it('lets an unknown write take effect late or never, and ignores a failed one', () => {
    const history = newHistory();
    history.invoke('c1', { f: 'write', key: 'x', value: 1 });
    history.unknown('c1');
    history.invoke('c2', { f: 'read', key: 'x' });
    history.ok('c2', null);
    history.invoke('c2', { f: 'read', key: 'x' });
    history.ok('c2', 1);
    history.invoke('c3', { f: 'write', key: 'y', value: 1 });
    history.fail('c3');
    history.invoke('c3', { f: 'read', key: 'y' });
    history.ok('c3', null);
    expect(checkLinearizableRegister(history.events()).valid).toBe(true);
  });

  it('flags a compare-and-set that succeeded against a value the register could not hold', () => {
    const history = newHistory();
    history.invoke('c1', { f: 'write', key: 'x', value: 1 });
    history.ok('c1');
    history.invoke('c1', { f: 'cas', key: 'x', value: [0, 2] });
    history.ok('c1');
    expect(checkLinearizableRegister(history.events()).valid).toBe(false);
  });

  it('checks a linearizable history of 2,000 operations by 3 processes within its step bound', () => {
    // The search walks the history once when each choice is right: length alone does not cost steps.
    const events = randomRegisterHistory(seededRandom(11), 2_000, false);
    expect(checkLinearizableRegister(events)).toEqual({ valid: true, anomalies: [] });
  });

  it('reports a search that passes its step bound as inconclusive, not as valid', () => {
    const history = newHistory();
    for (let process = 0; process < 8; process++)
      history.invoke(`c${process}`, { f: 'write', key: 'x', value: process });
    for (let process = 0; process < 8; process++) history.ok(`c${process}`);
    history.invoke('c0', { f: 'read', key: 'x' });
    history.ok('c0', 42);
    const result = checkLinearizableRegister(history.events(), { maxSteps: 10 });
    expect(result.valid).toBe(false);
    expect(result.anomalies[0]?.kind).toBe('inconclusive');
  });
});

/**
 * A register run by a few processes with random interleavings: each operation takes effect at a
 * random moment between its call and return on a real register, so the history is linearizable,
 * unless a read is then given a wrong result (`corrupt`, half the time). Unknown outcomes may or
 * may not take effect.
 */
function randomRegisterHistory(random: () => number, operationCount: number, corrupt = true): HistoryEvent[] {
  const history = newHistory();
  const processes = ['c0', 'c1', 'c2'];
  const inFlight = new Map<
    string,
    { f: string; value: unknown; applied: boolean; result: unknown; swapped: boolean }
  >();
  let register: unknown = null;
  let started = 0;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  for (let step = 0; step < operationCount * 40 && (started < operationCount || inFlight.size > 0); step++) {
    const process = pick(processes);
    const operation = inFlight.get(process);
    if (operation === undefined) {
      if (started >= operationCount) continue;
      started += 1;
      const f = pick(['read', 'write', 'cas']);
      const value =
        f === 'write' ? pick([0, 1, 2]) : f === 'cas' ? [pick([null, 0, 1, 2]), pick([0, 1, 2])] : undefined;
      inFlight.set(process, { f, value, applied: false, result: undefined, swapped: false });
      history.invoke(process, { f, key: 'x', value });
    } else if (!operation.applied && random() < 0.5) {
      operation.applied = true;
      if (operation.f === 'read') operation.result = register;
      if (operation.f === 'write') register = operation.value;
      if (operation.f === 'cas') {
        const [expected, next] = operation.value as [unknown, unknown];
        operation.swapped = register === expected;
        if (operation.swapped) register = next;
      }
    } else if (operation.applied || random() < 0.3) {
      inFlight.delete(process);
      completeRandomly(history, process, operation, random);
    }
  }
  return corrupt ? corruptOneRead([...history.events()], random) : [...history.events()];
}

function completeRandomly(
  history: History,
  process: string,
  operation: { f: string; applied: boolean; result: unknown; swapped: boolean },
  random: () => number,
): void {
  if (!operation.applied || random() < 0.15) history.unknown(process);
  else if (operation.f === 'cas' && !operation.swapped) history.fail(process);
  else if (operation.f === 'read') history.ok(process, operation.result);
  else history.ok(process);
}

function corruptOneRead(events: HistoryEvent[], random: () => number): HistoryEvent[] {
  const reads = events.filter((event) => event.f === 'read' && event.type === 'ok');
  if (reads.length === 0 || random() < 0.5) return events;
  const read = reads[Math.floor(random() * reads.length)] as HistoryEvent;
  const corrupted = { ...read, value: [null, 0, 1, 2][Math.floor(random() * 4)] };
  return events.map((event) => (event === read ? corrupted : event));
}

/** Tries every order of every subset that keeps all ok operations, with no pruning at all. */
function bruteForceLinearizable(events: readonly HistoryEvent[]): boolean {
  const operations = pairOperations(events).filter(
    (operation) =>
      operation.complete?.type !== 'fail' &&
      (operation.invoke.f !== 'read' || operation.complete?.type === 'ok'),
  );
  const mustPrecede = (first: PairedOperation, second: PairedOperation) =>
    first.complete?.type === 'ok' && first.complete.index < second.invoke.index;
  const search = (remaining: PairedOperation[], register: string): boolean => {
    if (remaining.every((operation) => operation.complete?.type !== 'ok')) return true;
    for (const candidate of remaining) {
      const others = remaining.filter((operation) => operation !== candidate);
      if (others.some((other) => mustPrecede(other, candidate))) continue;
      const next = applyToRegister(candidate, register);
      if (next !== undefined && search(others, next)) return true;
    }
    return false;
  };
  return search(operations, JSON.stringify(null));
}

function applyToRegister(operation: PairedOperation, register: string): string | undefined {
  const { f, value } = operation.invoke;
  if (f === 'write') return JSON.stringify(value);
  if (f === 'read')
    return JSON.stringify(operation.complete?.value ?? null) === register ? register : undefined;
  const [expected, next] = value as [unknown, unknown];
  return JSON.stringify(expected) === register ? JSON.stringify(next) : undefined;
}

describe('checkLinearizableRegister against a brute-force search', () => {
  it('agrees with every order of every subset on 400 small random histories of both verdicts', () => {
    // Seeded: 400 histories of 1 to 7 operations on one register by 3 processes; both verdicts
    // must occur often, so that agreement means something on each side.
    const random = seededRandom(2_026);
    const verdicts = { linearizable: 0, violation: 0 };
    for (let round = 0; round < 400; round++) {
      const events = randomRegisterHistory(random, 1 + Math.floor(random() * 7));
      const expected = bruteForceLinearizable(events);
      const { valid } = checkLinearizableRegister(events);
      if (valid !== expected) throw new Error(`round ${round} disagrees:\n${JSON.stringify(events)}`);
      verdicts[expected ? 'linearizable' : 'violation'] += 1;
    }
    expect(verdicts.linearizable).toBeGreaterThan(100);
    expect(verdicts.violation).toBeGreaterThan(50);
  });

  it('shows an excerpt that is itself not linearizable, for every violation found', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 200; round++) {
      const events = randomRegisterHistory(random, 1 + Math.floor(random() * 7));
      for (const anomaly of checkLinearizableRegister(events).anomalies) {
        expect(bruteForceLinearizable(anomaly.excerpt)).toBe(false);
        expect(anomaly.excerpt.length).toBeLessThanOrEqual(events.length);
      }
    }
  });
});
