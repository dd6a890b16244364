/**
 * Linearizability of registers (read, write, compare-and-set), checked by Wing & Gong's search
 * with Lowe's memoization: walk the history's calls and returns in order; linearize a call whose
 * effect the register allows; on reaching the return of an operation not yet linearized, undo the
 * last choice and try the next call. Lowe's cache of (set of linearized operations, register
 * state) prunes every configuration already explored. Each key is a register of its own
 * (linearizability is local), checked apart.
 *
 * An `unknown` operation returns "at infinity": it may be linearized at any point after its call,
 * or never, which is the same as after everything else. A `fail` never happened and is dropped,
 * as is a read whose result was not seen.
 */

import type { Anomaly, CheckResult } from './checkers/result.js';
import {
  canonicalJson,
  excerptOf,
  type HistoryEvent,
  type PairedOperation,
  pairOperations,
} from './history.js';

export interface LinearizabilityOptions {
  /** The register's value before any write; a read of an absent key reports `null`. */
  initialValue?: unknown;
  /** A bound on search steps per key; the search is exponential in the worst case. */
  maxSteps?: number | undefined;
}

type Verdict = 'linearizable' | 'violation' | 'step-limit';

interface RegisterCall {
  operation: PairedOperation;
  definite: boolean;
  /** Returns the register's next state, or undefined when the register cannot allow the call. */
  apply: (state: string) => string | undefined;
}

interface Entry {
  call: RegisterCall | undefined;
  id: number;
  isCall: boolean;
  match: Entry | undefined;
  previous: Entry | undefined;
  next: Entry | undefined;
}

const defaultMaxSteps = 2_000_000;

export function checkLinearizableRegister(
  events: readonly HistoryEvent[],
  { initialValue = null, maxSteps = defaultMaxSteps }: LinearizabilityOptions = {},
): CheckResult {
  const initialState = canonicalJson(initialValue);
  const anomalies: Anomaly[] = [];
  for (const [key, keyEvents] of eventsByKey(events)) {
    const verdict = searchLinearization(registerCalls(keyEvents), initialState, maxSteps);
    if (verdict === 'linearizable') continue;
    if (verdict === 'step-limit') {
      anomalies.push({
        kind: 'inconclusive',
        message: `the search for ${key} passed ${maxSteps} steps`,
        excerpt: [],
      });
      continue;
    }
    const excerpt = smallestViolation(keyEvents, initialState, maxSteps);
    anomalies.push({
      kind: 'not-linearizable',
      message: `no order of the operations on ${key} respects real time and a register's rules`,
      excerpt: excerptOf(excerpt),
    });
  }
  return { valid: anomalies.length === 0, anomalies };
}

function eventsByKey(events: readonly HistoryEvent[]): Map<string, HistoryEvent[]> {
  const byKey = new Map<string, HistoryEvent[]>();
  for (const event of events) {
    if (!['read', 'write', 'cas'].includes(event.f)) continue;
    const key = event.key ?? '';
    byKey.set(key, [...(byKey.get(key) ?? []), event]);
  }
  return byKey;
}

function registerCalls(events: readonly HistoryEvent[]): RegisterCall[] {
  const calls: RegisterCall[] = [];
  for (const operation of pairOperations(events)) {
    const outcome = operation.complete?.type;
    if (outcome === 'fail' || (operation.invoke.f === 'read' && outcome !== 'ok')) continue;
    calls.push({ operation, definite: outcome === 'ok', apply: registerRule(operation) });
  }
  return calls;
}

function registerRule(operation: PairedOperation): (state: string) => string | undefined {
  const { f, value, index } = operation.invoke;
  if (f === 'write') {
    const written = canonicalJson(value);
    return () => written;
  }
  if (f === 'read') {
    const seen = canonicalJson(operation.complete?.value ?? null);
    return (state) => (state === seen ? state : undefined);
  }
  if (!Array.isArray(value) || value.length !== 2)
    throw new Error(`event ${index}: a cas value is [expected, next]`);
  const expected = canonicalJson(value[0]);
  const next = canonicalJson(value[1]);
  return (state) => (state === expected ? next : undefined);
}

/** Calls and returns in history order; returns of unknown operations go last, at infinity. */
function buildEntries(calls: readonly RegisterCall[]): Entry {
  const timed: { position: number; entry: Entry }[] = [];
  for (const [id, call] of calls.entries()) {
    const callEntry: Entry = {
      call,
      id,
      isCall: true,
      match: undefined,
      previous: undefined,
      next: undefined,
    };
    const returnEntry: Entry = {
      call,
      id,
      isCall: false,
      match: undefined,
      previous: undefined,
      next: undefined,
    };
    callEntry.match = returnEntry;
    const returnPosition = call.definite ? (call.operation.complete?.index ?? 0) : Number.MAX_SAFE_INTEGER;
    timed.push({ position: call.operation.invoke.index, entry: callEntry });
    timed.push({ position: returnPosition, entry: returnEntry });
  }
  timed.sort((first, second) => first.position - second.position || first.entry.id - second.entry.id);
  const head: Entry = {
    call: undefined,
    id: -1,
    isCall: false,
    match: undefined,
    previous: undefined,
    next: undefined,
  };
  let last = head;
  for (const { entry } of timed) {
    entry.previous = last;
    last.next = entry;
    last = entry;
  }
  return head;
}

function lift(call: Entry): void {
  for (const entry of [call, call.match as Entry]) {
    (entry.previous as Entry).next = entry.next;
    if (entry.next !== undefined) entry.next.previous = entry.previous;
  }
}

function unlift(call: Entry): void {
  for (const entry of [call.match as Entry, call]) {
    (entry.previous as Entry).next = entry;
    if (entry.next !== undefined) entry.next.previous = entry;
  }
}

function searchLinearization(
  calls: readonly RegisterCall[],
  initialState: string,
  maxSteps: number,
): Verdict {
  const head = buildEntries(calls);
  const linearized = new Uint32Array(Math.ceil(calls.length / 32) + 1);
  const explored = new Set<string>();
  const stack: { entry: Entry; state: string }[] = [];
  let definiteLeft = calls.filter((call) => call.definite).length;
  let state = initialState;
  let entry = head.next;
  for (let step = 0; definiteLeft > 0; step++) {
    if (step >= maxSteps) return 'step-limit';
    if (entry === undefined) throw new Error('the search ran past the last return with operations left');
    const call = entry.call as RegisterCall;
    if (entry.isCall) {
      const nextState = call.apply(state);
      if (nextState !== undefined && remember(explored, linearized, entry.id, nextState)) {
        stack.push({ entry, state });
        state = nextState;
        if (call.definite) definiteLeft -= 1;
        lift(entry);
        entry = head.next;
      } else entry = entry.next;
      continue;
    }
    const undone = stack.pop();
    if (undone === undefined) return 'violation';
    state = undone.state;
    toggle(linearized, undone.entry.id);
    if (undone.entry.call?.definite) definiteLeft += 1;
    unlift(undone.entry);
    entry = undone.entry.next;
  }
  return 'linearizable';
}

/** Marks `id` linearized; true when (linearized set, state) is new, else the mark is undone. */
function remember(explored: Set<string>, linearized: Uint32Array, id: number, state: string): boolean {
  toggle(linearized, id);
  const configuration = `${linearized.join(',')}|${state}`;
  if (explored.has(configuration)) {
    toggle(linearized, id);
    return false;
  }
  explored.add(configuration);
  return true;
}

function toggle(bits: Uint32Array, id: number): void {
  const word = id >>> 5;
  bits[word] = (bits[word] ?? 0) ^ (1 << (id & 31));
}

/**
 * The smallest excerpt that is still not linearizable: the shortest prefix of the key's history
 * (operations still running at its end count as unknown, which can only make it easier), then
 * without each read that is not needed (dropping a read can only make it easier too).
 */
function smallestViolation(
  events: readonly HistoryEvent[],
  initialState: string,
  maxSteps: number,
): PairedOperation[] {
  const violates = (calls: readonly RegisterCall[]) =>
    searchLinearization(calls, initialState, maxSteps) === 'violation';
  let shortest = events.length;
  let longestPassing = 0;
  while (shortest - longestPassing > 1) {
    const middle = Math.floor((shortest + longestPassing) / 2);
    if (violates(registerCalls(events.slice(0, middle)))) shortest = middle;
    else longestPassing = middle;
  }
  let calls = registerCalls(events.slice(0, shortest));
  for (const candidate of [...calls]) {
    if (candidate.operation.invoke.f !== 'read') continue;
    const without = calls.filter((call) => call !== candidate);
    if (violates(without)) calls = without;
  }
  return calls.map((call) => call.operation);
}
