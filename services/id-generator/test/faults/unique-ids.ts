import {
  type Anomaly,
  type CheckResult,
  excerptOf,
  type HistoryEvent,
  type PairedOperation,
  pairOperations,
  resultOf,
} from '@sysdesign/testkit/faults';

/** The `f` of a request for ids; its `ok` value lists the ids issued, as decimal strings. */
export const mintFunction = 'mint';

/**
 * No id is issued twice, by one node or by two: every id in every `ok` mint of the whole history
 * appears once. A failed or timed-out mint issued nothing the client saw, so it proves nothing
 * either way. Each anomaly's excerpt is the two mints that returned the same id.
 */
export function checkUniqueIds(events: readonly HistoryEvent[]): CheckResult {
  const firstMintOf = new Map<string, PairedOperation>();
  const anomalies: Anomaly[] = [];
  for (const operation of pairOperations(events)) {
    if (operation.invoke.f !== mintFunction || operation.complete?.type !== 'ok') continue;
    for (const id of idsOf(operation.complete)) {
      const earlier = firstMintOf.get(id);
      if (earlier === undefined) {
        firstMintOf.set(id, operation);
        continue;
      }
      anomalies.push({
        kind: 'duplicate-id',
        message: `${id} was issued by ${earlier.invoke.node ?? earlier.process} and again by ${operation.invoke.node ?? operation.process}`,
        excerpt: excerptOf([earlier, operation]),
      });
    }
  }
  return resultOf(anomalies);
}

function idsOf(event: HistoryEvent): string[] {
  if (!Array.isArray(event.value)) throw new Error(`mint at event ${event.index} has no list of ids`);
  return event.value.map(String);
}
