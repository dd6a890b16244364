import { canonicalJson, excerptOf, type HistoryEvent, type PairedOperation } from '../history.js';
import { finalReadsByKey, valuesRead } from './final-reads.js';
import { type Anomaly, type CheckResult, resultOf } from './result.js';

/**
 * Replicas converge: after heal and quiesce, the `final-read`s of a key from every replica
 * (`node`) show the same value, or the same set of siblings in any order.
 */
export function checkConvergence(events: readonly HistoryEvent[]): CheckResult {
  const anomalies: Anomaly[] = [];
  for (const [key, reads] of finalReadsByKey(events)) {
    const firstReadOfEachValue = new Map<string, PairedOperation>();
    for (const read of reads) {
      const seen = siblingSet(read);
      if (!firstReadOfEachValue.has(seen)) firstReadOfEachValue.set(seen, read);
    }
    if (firstReadOfEachValue.size <= 1) continue;
    const disagreeing = [...firstReadOfEachValue.values()];
    const views = disagreeing.map((read) => `${read.invoke.node ?? read.process} sees ${siblingSet(read)}`);
    anomalies.push({
      kind: 'divergent-replicas',
      message: `replicas disagree on ${key} after heal: ${views.join('; ')}`,
      excerpt: excerptOf(disagreeing),
    });
  }
  return resultOf(anomalies);
}

function siblingSet(read: PairedOperation): string {
  return `[${valuesRead(read).map(canonicalJson).sort().join(',')}]`;
}
