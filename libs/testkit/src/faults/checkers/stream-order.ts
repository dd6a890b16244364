import { excerptOf, type HistoryEvent, type PairedOperation, pairOperations } from '../history.js';
import { type Anomaly, type CheckResult, resultOf } from './result.js';

/** The `f` of a delivery to a consumer: `key` is the stream, `value` a sequence number or a batch of them. */
export const receiveFunction = 'receive';

/**
 * Each consumer (process) sees each stream in order, without gaps or duplicates: the sequence
 * numbers it receives run `firstSequence`, `firstSequence + 1`, ... across all its `ok` receives,
 * reconnects included.
 */
export function checkStreamOrder(
  events: readonly HistoryEvent[],
  { firstSequence = 1 }: { firstSequence?: number | undefined } = {},
): CheckResult {
  const anomalies: Anomaly[] = [];
  const lastByStream = new Map<string, { sequence: number; receive: PairedOperation | undefined }>();
  for (const receive of pairOperations(events)) {
    if (receive.invoke.f !== receiveFunction || receive.complete?.type !== 'ok') continue;
    const stream = `${receive.invoke.key ?? ''}`;
    const consumerStream = `${receive.process}\u0000${stream}`;
    for (const sequence of sequencesOf(receive.complete)) {
      const last = lastByStream.get(consumerStream) ?? { sequence: firstSequence - 1, receive: undefined };
      const anomaly = orderAnomaly(stream, receive, sequence, last);
      if (anomaly !== undefined) anomalies.push(anomaly);
      if (sequence > last.sequence) lastByStream.set(consumerStream, { sequence, receive });
    }
  }
  return resultOf(anomalies);
}

function orderAnomaly(
  stream: string,
  receive: PairedOperation,
  sequence: number,
  last: { sequence: number; receive: PairedOperation | undefined },
): Anomaly | undefined {
  const excerpt = excerptOf(
    last.receive === undefined || last.receive === receive ? [receive] : [last.receive, receive],
  );
  const consumer = `consumer ${receive.process} on ${stream}`;
  if (sequence <= last.sequence) {
    return {
      kind: 'duplicate-or-reorder',
      message: `${consumer} received ${sequence} after ${last.sequence}`,
      excerpt,
    };
  }
  if (sequence > last.sequence + 1) {
    return {
      kind: 'gap',
      message: `${consumer} received ${sequence} after ${last.sequence}: ${last.sequence + 1} is missing`,
      excerpt,
    };
  }
  return undefined;
}

function sequencesOf(event: HistoryEvent): number[] {
  const sequences = Array.isArray(event.value) ? event.value : [event.value];
  if (!sequences.every((sequence) => Number.isInteger(sequence))) {
    throw new Error(`event ${event.index}: a receive must carry integer sequence numbers`);
  }
  return sequences as number[];
}
