import { excerptOf, type HistoryEvent, type PairedOperation, pairOperations } from '../history.js';
import { type Anomaly, type CheckResult, resultOf } from './result.js';

/** The `f` of a request whose effect must happen once; its value is the request's id. */
export const submitFunction = 'submit';
/** The `f` of the read, after quiesce, of every effect applied: its value lists ids, repeats kept. */
export const effectsFunction = 'effects';

/**
 * Each effect happens exactly once: in the final `effects` read, no id appears twice, every id
 * submitted `ok` appears, and no id appears that was never submitted or whose submit failed.
 * An `unknown` submit may appear once or not at all; a client may submit an id again after one.
 */
export function checkExactlyOnce(events: readonly HistoryEvent[]): CheckResult {
  const operations = pairOperations(events);
  const reads = operations.filter(
    (operation) => operation.invoke.f === effectsFunction && operation.complete?.type === 'ok',
  );
  const finalRead = reads.at(-1);
  if (finalRead === undefined) {
    return resultOf([
      { kind: 'no-final-read', message: 'the history has no ok effects read to check', excerpt: [] },
    ]);
  }
  const submits = submitsById(operations);
  const counts = countIds(finalRead);
  const anomalies: Anomaly[] = [];
  for (const [id, count] of counts) {
    const attempts = submits.get(id) ?? [];
    if (count > 1)
      anomalies.push(anomaly('duplicate-effect', `${id} was applied ${count} times`, attempts, finalRead));
    if (attempts.every((attempt) => attempt.complete?.type === 'fail')) {
      anomalies.push(
        anomaly(
          'unexpected-effect',
          `${id} was applied but no submit of it may have happened`,
          attempts,
          finalRead,
        ),
      );
    }
  }
  for (const [id, attempts] of submits) {
    const acknowledged = attempts.filter((attempt) => attempt.complete?.type === 'ok');
    if (acknowledged.length > 0 && !counts.has(id)) {
      anomalies.push(
        anomaly('missing-effect', `${id} was acknowledged but never applied`, acknowledged, finalRead),
      );
    }
  }
  return resultOf(anomalies);
}

function anomaly(kind: string, message: string, submits: PairedOperation[], read: PairedOperation): Anomaly {
  return { kind, message, excerpt: excerptOf([...submits, read]) };
}

/** Every submit of each id: a client may retry an id after an unknown outcome. */
function submitsById(operations: readonly PairedOperation[]): Map<string, PairedOperation[]> {
  const byId = new Map<string, PairedOperation[]>();
  for (const operation of operations) {
    if (operation.invoke.f !== submitFunction) continue;
    const id = String(operation.invoke.value);
    byId.set(id, [...(byId.get(id) ?? []), operation]);
  }
  return byId;
}

function countIds(read: PairedOperation): Map<string, number> {
  const ids = read.complete?.value;
  if (!Array.isArray(ids)) throw new Error(`event ${read.complete?.index}: an effects read must list ids`);
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(String(id), (counts.get(String(id)) ?? 0) + 1);
  return counts;
}
