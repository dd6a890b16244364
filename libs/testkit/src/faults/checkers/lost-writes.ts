import {
  canonicalJson,
  excerptOf,
  type HistoryEvent,
  type PairedOperation,
  pairOperations,
} from '../history.js';
import { finalReadsByKey, valuesRead } from './final-reads.js';
import { type Anomaly, type CheckResult, resultOf } from './result.js';

/**
 * No acknowledged write is lost: every `final-read` of a key shows each `ok` `write` of that key,
 * or the value of a write that may have come after it (one that did not complete before the lost
 * one was invoked). `unknown` writes may or may not appear; a value no `ok` or `unknown` write
 * wrote (a failed write, an invented value) is a phantom. Write values must be unique per key.
 */
export function checkNoLostWrites(events: readonly HistoryEvent[]): CheckResult {
  const writesByKey = writesThatMayHaveHappened(events);
  const anomalies: Anomaly[] = [];
  for (const [key, reads] of finalReadsByKey(events)) {
    const writes = writesByKey.get(key) ?? new Map<string, PairedOperation[]>();
    for (const read of reads) anomalies.push(...anomaliesOfRead(key, read, writes));
  }
  return resultOf(anomalies);
}

function anomaliesOfRead(
  key: string,
  read: PairedOperation,
  writes: Map<string, PairedOperation[]>,
): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const seenWrites: PairedOperation[] = [];
  for (const value of valuesRead(read)) {
    const writers = writes.get(canonicalJson(value));
    if (writers === undefined) {
      anomalies.push({
        kind: 'phantom-value',
        message: `a final read of ${key} shows ${canonicalJson(value)}, which no ok or unknown write wrote`,
        excerpt: excerptOf([read]),
      });
    } else seenWrites.push(...writers);
  }
  for (const write of acknowledgedWrites(writes)) {
    if (seenWrites.some((seen) => seen === write || !completedBefore(seen, write))) continue;
    anomalies.push({
      kind: 'lost-write',
      message: `the acknowledged write of ${canonicalJson(write.invoke.value)} to ${key} is missing from a final read, and nothing it shows came after it`,
      excerpt: excerptOf([write, read]),
    });
  }
  return anomalies;
}

function writesThatMayHaveHappened(
  events: readonly HistoryEvent[],
): Map<string, Map<string, PairedOperation[]>> {
  const byKey = new Map<string, Map<string, PairedOperation[]>>();
  for (const operation of pairOperations(events)) {
    if (operation.invoke.f !== 'write' || operation.complete?.type === 'fail') continue;
    const key = operation.invoke.key ?? '';
    const byValue = byKey.get(key) ?? new Map<string, PairedOperation[]>();
    const value = canonicalJson(operation.invoke.value);
    byValue.set(value, [...(byValue.get(value) ?? []), operation]);
    byKey.set(key, byValue);
  }
  return byKey;
}

function acknowledgedWrites(writes: Map<string, PairedOperation[]>): PairedOperation[] {
  return [...writes.values()].flat().filter((write) => write.complete?.type === 'ok');
}

/** True when `first` was acknowledged before `second` was invoked: `second` cannot precede it. */
function completedBefore(first: PairedOperation, second: PairedOperation): boolean {
  return first.complete?.type === 'ok' && first.complete.index < second.invoke.index;
}
