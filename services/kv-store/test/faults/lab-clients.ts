import { finalReadFunction, type History, type HistoryEvent } from '@sysdesign/testkit/faults';
import type { Lab, LabNode } from './lab-cluster.js';
import { replicaValues } from './lab-cluster.js';

/**
 * The lab's clients. Writers are Jepsen's client processes: each is bound to one node, writes one
 * value at a time and records it in the History: `ok` on a 204, `fail` only when the write
 * certainly did not happen (refused as invalid, or the node's port refused the connection),
 * `unknown` otherwise, since a 503 "quorum not met" may still have stored the value on a replica.
 *
 * Writes are blind (no X-Context): a blind write supersedes nothing, so every value a write stored
 * must survive, as a sibling. Each key takes a few writes from whichever clients come next, so
 * concurrent writes to one key from both sides of a partition are common.
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

export class Writers {
  private running = true;
  private invoked = 0;

  constructor(
    private readonly lab: Lab,
    private readonly history: History,
    private readonly clients: number,
  ) {}

  /** Runs every client until `stop`; resolves when the last write in flight has completed. */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.clients }, (_, index) => this.client(index)));
  }

  stop(): void {
    this.running = false;
  }

  /** Every key a write was invoked on. */
  keys(): string[] {
    const count = Math.ceil(this.invoked / WRITES_PER_KEY);
    return Array.from({ length: count }, (_, index) => keyOf(index));
  }

  private async client(index: number): Promise<void> {
    const node = this.lab.nodes[index % this.lab.nodes.length] as LabNode;
    const process = `c${index}`;
    let sequence = 0;
    while (this.running) {
      const key = keyOf(Math.floor(this.invoked++ / WRITES_PER_KEY));
      const value = `${process}-${sequence++}`;
      this.history.invoke(process, { f: 'write', key, value, node: node.name });
      const outcome = await blindWrite(node, key, value);
      if (outcome === 'ok') this.history.ok(process);
      else if (outcome === 'fail') this.history.fail(process);
      else this.history.unknown(process);
      if (outcome !== 'ok') await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS));
    }
  }
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

/** The `f` of a read made right after the heal, before hand-off: not a final read. */
export const EARLY_READ = 'read';

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
 * Reads made after every write completed that miss an acknowledged write of their key: stale
 * reads. At R + W > N with strict quorums there are none; sloppy quorum may acknowledge a write
 * that only fallbacks hold, which an R = N read of the home replicas misses until hand-off.
 */
export function staleReads(events: readonly HistoryEvent[], f: string): number {
  const acknowledged = new Map<string, string[]>();
  const completed = new Map<string, HistoryEvent>();
  for (const event of events) {
    if (event.f === 'write' && event.type === 'ok')
      acknowledged.set(event.key ?? '', [...(acknowledged.get(event.key ?? '') ?? []), String(event.value)]);
    if (event.f === f && event.type === 'ok') completed.set(event.process, event);
  }
  let stale = 0;
  for (const read of completed.values()) {
    const seen = new Set((read.value as string[]).map(String));
    if ((acknowledged.get(read.key ?? '') ?? []).some((value) => !seen.has(value))) stale++;
  }
  return stale;
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
