import { type HistoryEvent, type PairedOperation, pairOperations } from '../history.js';

/** The `f` of the reads a client makes after heal and quiesce, one per key and replica. */
export const finalReadFunction = 'final-read';

/** Final reads that completed `ok`, grouped by key in history order. */
export function finalReadsByKey(events: readonly HistoryEvent[]): Map<string, PairedOperation[]> {
  const byKey = new Map<string, PairedOperation[]>();
  for (const operation of pairOperations(events)) {
    if (operation.invoke.f !== finalReadFunction || operation.complete?.type !== 'ok') continue;
    const key = operation.invoke.key ?? '';
    const reads = byKey.get(key) ?? [];
    reads.push(operation);
    byKey.set(key, reads);
  }
  return byKey;
}

/** A read's result as a set of values: stores with siblings return an array, others one value. */
export function valuesRead(read: PairedOperation): unknown[] {
  const value = read.complete?.value;
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}
