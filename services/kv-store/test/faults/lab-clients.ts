import { seededRandom } from '@sysdesign/testkit';
import {
  type Anomaly,
  type CheckResult,
  excerptOf,
  finalReadFunction,
  type History,
  type HistoryEvent,
  type PairedOperation,
  pairOperations,
  resultOf,
} from '@sysdesign/testkit/faults';
import type { Lab, LabNode } from './lab-cluster.js';
import { replicaValues } from './lab-cluster.js';

/**
 * The lab's clients, Jepsen's client processes: each is bound to one node. A writer writes one
 * value at a time and records it in the History: `ok` on a 204, `fail` only when the write
 * certainly did not happen (refused as invalid, or the node's port refused the connection),
 * `unknown` otherwise, since a 503 "quorum not met" may still have stored the value on a replica.
 *
 * Writes are blind (no X-Context): a blind write supersedes nothing, so every value a write stored
 * must survive, as a sibling. Each key takes a few writes from whichever clients come next, so
 * concurrent writes to one key from both sides of a partition are common. Readers read, at the
 * default R, keys that have an acknowledged write.
 */

/** Blind writes per key, well under MAX_SIBLINGS (64). */
export const WRITES_PER_KEY = 8;
/** Longer than REQUEST_TIMEOUT_MS: the node answers 503 first unless it is paused or cut off. */
const CLIENT_TIMEOUT_MS = 3_000;
/** After a failed write, so a client of a dead node does not spin. */
const BACKOFF_MS = 50;
/** Parallel requests of the final reads. */
const READ_CONCURRENCY = 16;

type Outcome = 'ok' | 'fail' | 'unknown';

export class Clients {
  private running = true;
  private invoked = 0;
  private readonly acknowledgedKeys: string[] = [];
  private readonly random: () => number;

  constructor(
    private readonly lab: Lab,
    private readonly history: History,
    private readonly counts: { writers: number; readers: number; seed: number },
  ) {
    this.random = seededRandom(counts.seed);
  }

  /** Runs every client until `stop`; resolves when the last operation in flight has completed. */
  async run(): Promise<void> {
    await Promise.all([
      ...Array.from({ length: this.counts.writers }, (_, index) => this.writer(index)),
      ...Array.from({ length: this.counts.readers }, (_, index) => this.reader(index)),
    ]);
  }

  stop(): void {
    this.running = false;
  }

  /** Every key a write was invoked on. */
  keys(): string[] {
    const count = Math.ceil(this.invoked / WRITES_PER_KEY);
    return Array.from({ length: count }, (_, index) => keyOf(index));
  }

  private async writer(index: number): Promise<void> {
    const node = this.lab.nodes[index % this.lab.nodes.length] as LabNode;
    const process = `w${index}`;
    let sequence = 0;
    while (this.running) {
      const key = keyOf(Math.floor(this.invoked++ / WRITES_PER_KEY));
      const value = `${process}-${sequence++}`;
      this.history.invoke(process, { f: 'write', key, value, node: node.name });
      const outcome = await blindWrite(node, key, value);
      if (outcome === 'ok') {
        this.history.ok(process);
        if (this.acknowledgedKeys.at(-1) !== key) this.acknowledgedKeys.push(key);
      } else if (outcome === 'fail') this.history.fail(process);
      else this.history.unknown(process);
      if (outcome !== 'ok') await backOff();
    }
  }

  /** Reads at the default R of keys that have an acknowledged write, recorded as `read`. */
  private async reader(index: number): Promise<void> {
    const node = this.lab.nodes[index % this.lab.nodes.length] as LabNode;
    const process = `r${index}`;
    while (this.running) {
      const key = this.acknowledgedKeys[Math.floor(this.random() * this.acknowledgedKeys.length)];
      if (key === undefined) {
        await backOff();
        continue;
      }
      this.history.invoke(process, { f: READ, key, node: node.name });
      try {
        this.history.ok(process, await clientRead(node, key, ''));
      } catch {
        // A failed read changes nothing: whether it was refused or timed out does not matter here.
        this.history.fail(process);
        await backOff();
      }
    }
  }
}

function backOff(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, BACKOFF_MS));
}

function keyOf(index: number): string {
  return `k${index}`;
}

async function blindWrite(node: LabNode, key: string, value: string): Promise<Outcome> {
  try {
    const response = await fetch(`${node.apiUrl}/v1/kv/${key}`, {
      method: 'PUT',
      body: value,
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    if (response.status === 204) return 'ok';
    // Refused before any replica stored it: a bad request, a value too large, too many siblings.
    if ([400, 409, 413].includes(response.status)) return 'fail';
    return 'unknown';
  } catch (error) {
    // Nothing listens on the port (the node is down): the request never reached it.
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    return code === 'ECONNREFUSED' ? 'fail' : 'unknown';
  }
}

/** A read through a node's client API, the values sorted: one for a 200, each sibling's for a 300. */
async function clientRead(node: LabNode, key: string, query: string): Promise<string[]> {
  const response = await fetch(`${node.apiUrl}/v1/kv/${key}${query}`, {
    signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS * 2),
  });
  if (response.status === 404) return [];
  if (response.status === 200) return [await response.text()];
  if (response.status === 300) {
    const body = (await response.json()) as { omitted: number; siblings: { value: string }[] };
    if (body.omitted > 0) throw new Error(`${key}: ${body.omitted} siblings left out of the read`);
    return body.siblings.map((sibling) => Buffer.from(sibling.value, 'base64').toString('utf8')).sort();
  }
  throw new Error(`${key}: read answered ${response.status}: ${await response.text()}`);
}

/** The `f` of reads during the run and right after the heal, before hand-off: not final reads. */
export const READ = 'read';

/**
 * Reads every key at R = N through the nodes in turn: the coordinator merges all three replicas
 * and repairs the stale ones (read repair). Recorded as `f` (a final read only after hand-off).
 */
export async function readAllAtRN(
  lab: Lab,
  history: History,
  keys: readonly string[],
  f: string = finalReadFunction,
): Promise<void> {
  await inBatches(keys, async (key, index) => {
    const node = lab.nodes[index % lab.nodes.length] as LabNode;
    const process = `reader-${key}`;
    history.invoke(process, { f, key, node: `r=3 via ${node.name}` });
    try {
      history.ok(process, await clientRead(node, key, '?r=3'));
    } catch {
      history.unknown(process);
    }
  });
}

/**
 * Every `ok` read shows each write of its key acknowledged before the read was invoked: writes
 * are blind, so a later write never supersedes an earlier one. R + W > N promises it with strict
 * quorums; sloppy quorum may acknowledge a write that only fallbacks hold, which a read of the home
 * replicas misses until hand-off.
 */
export function checkReadsSeeAcknowledgedWrites(events: readonly HistoryEvent[]): CheckResult {
  const operations = pairOperations(events);
  const acknowledged = new Map<string, PairedOperation[]>();
  for (const write of operations) {
    if (write.invoke.f !== 'write' || write.complete?.type !== 'ok') continue;
    const key = write.invoke.key ?? '';
    acknowledged.set(key, [...(acknowledged.get(key) ?? []), write]);
  }
  const anomalies: Anomaly[] = [];
  for (const read of operations) {
    if (read.invoke.f !== READ || read.complete?.type !== 'ok') continue;
    const seen = new Set((read.complete.value as string[]).map(String));
    const missed = (acknowledged.get(read.invoke.key ?? '') ?? []).filter(
      (write) =>
        (write.complete?.index ?? Number.POSITIVE_INFINITY) < read.invoke.index &&
        !seen.has(String(write.invoke.value)),
    );
    if (missed.length === 0) continue;
    anomalies.push({
      kind: 'stale-read',
      message: `a read of ${read.invoke.key} through ${read.invoke.node} misses ${missed.length} write(s) acknowledged before it began`,
      excerpt: excerptOf([missed[0] as PairedOperation, read]),
    });
  }
  return resultOf(anomalies);
}

/** Each key's replicas' own values, by replica name. */
async function replicaViews(lab: Lab, key: string): Promise<Map<string, string[]>> {
  const views = new Map<string, string[]>();
  for (const name of lab.replicasOf(key)) views.set(name, await replicaValues(lab.node(name), key));
  return views;
}

function agree(views: Map<string, string[]>): boolean {
  return new Set([...views.values()].map((values) => JSON.stringify(values))).size === 1;
}

/**
 * Waits until the replicas of every key hold the same values (hand-off, read repair and
 * anti-entropy at work), up to `timeoutMs`; returns how long it took, or undefined if they never
 * agreed (the convergence checker then shows which keys differ).
 */
export async function waitReplicasAgree(
  lab: Lab,
  keys: readonly string[],
  timeoutMs: number,
): Promise<number | undefined> {
  const startMs = Date.now();
  let disagreeing = [...keys];
  while (Date.now() - startMs < timeoutMs) {
    const stillDisagreeing: string[] = [];
    await inBatches(disagreeing, async (key) => {
      if (!agree(await replicaViews(lab, key))) stillDisagreeing.push(key);
    });
    if (stillDisagreeing.length === 0) return Date.now() - startMs;
    disagreeing = stillDisagreeing;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return undefined;
}

/** One final read of each key from each of its replicas' own store, for the checkers. */
export async function readEveryReplica(lab: Lab, history: History, keys: readonly string[]): Promise<void> {
  await inBatches(keys, async (key) => {
    for (const name of lab.replicasOf(key)) {
      const process = `replica-${name}-${key}`;
      history.invoke(process, { f: finalReadFunction, key, node: name });
      try {
        history.ok(process, await replicaValues(lab.node(name), key));
      } catch {
        history.unknown(process);
      }
    }
  });
}

async function inBatches<Item>(
  items: readonly Item[],
  action: (item: Item, index: number) => Promise<void>,
): Promise<void> {
  for (let start = 0; start < items.length; start += READ_CONCURRENCY) {
    const batch = items.slice(start, start + READ_CONCURRENCY);
    await Promise.all(batch.map((item, offset) => action(item, start + offset)));
  }
}
