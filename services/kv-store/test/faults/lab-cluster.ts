import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { decodeResponse } from '@sysdesign/quorum/wire';
import { seededRandom, tempDir } from '@sysdesign/testkit';
import { Network, NodeProcess } from '@sysdesign/testkit/faults';
import { onTestFinished } from 'vitest';
import { ClusterRing } from '../../src/domain/ring.js';
import { TEST_CLUSTER_SECRET } from '../helpers.js';

/**
 * Five kv nodes as real processes (src/main.ts through tsx), every peer link through the fault
 * lab's loopback proxies: node i reaches node j at `network.addressFor(i, j)` through its
 * PEER_DIAL_MAP, while each advertises its real peer URL (its identity on the ring). Clients and
 * the final reads talk to the nodes directly. Timers are lowered so a fault shows within a second.
 */

const SERVICE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const NODE_NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;
export const REPLICATION = { n: 3, w: 2, r: 2 } as const;
const VNODES = 64;
/** tsx compiles the sources in each child: slow on a loaded machine. */
const START_TIMEOUT_MS = 90_000;

/** Failure detection within about a second; a member is never dropped from the ring during a run. */
export const LAB_TIMERS = {
  GOSSIP_INTERVAL_MS: 100,
  GOSSIP_SUSPECT_AFTER_MS: 1_000,
  GOSSIP_DEAD_AFTER_MS: 2_500,
  REQUEST_TIMEOUT_MS: 1_000,
  HANDOFF_INTERVAL_MS: 200,
  ANTI_ENTROPY_INTERVAL_MS: 500,
} as const;

/**
 * Ports for the nodes, chosen below Linux's ephemeral range (32768-60999 by default), where the
 * kernel picks ports for the twenty proxies' listeners and for every outgoing connection: a port
 * from there, released until the child binds it, is often taken meanwhile on a busy machine.
 */
const NODE_PORTS = { min: 20_000, max: 32_000 } as const;
const PORT_ATTEMPTS = 100;

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function nodePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count; attempt++) {
    if (attempt === PORT_ATTEMPTS)
      throw new Error(`no ${count} free ports in ${NODE_PORTS.min}-${NODE_PORTS.max}`);
    const port = NODE_PORTS.min + Math.floor(Math.random() * (NODE_PORTS.max - NODE_PORTS.min));
    if (!ports.includes(port) && (await isFree(port))) ports.push(port);
  }
  return ports;
}

export interface LabNode {
  name: string;
  /** The client API. */
  apiUrl: string;
  /** The advertised peer URL: the node's identity, reached directly only by the test. */
  peerUrl: string;
  process: NodeProcess;
}

export interface LabOptions {
  seed: number;
  sloppyQuorum: boolean;
  /** One node whose wall clock is off by `offsetMs` for the whole run. */
  skew: { node: string; offsetMs: number };
}

export interface Lab {
  nodes: LabNode[];
  network: Network;
  node(name: string): LabNode;
  /** The names of the N nodes that hold `key`, as every node's ring places it. */
  replicasOf(key: string): string[];
}

/** Starts the network and the five nodes; all of it is closed when the test ends, failed or not. */
export async function startLab(options: LabOptions): Promise<Lab> {
  const ports = await nodePorts(NODE_NAMES.length * 2);
  const apiPorts = ports.slice(0, NODE_NAMES.length);
  const peerPorts = ports.slice(NODE_NAMES.length);
  const peerUrls = peerPorts.map((port) => `http://127.0.0.1:${port}`);
  const network = await Network.start({
    nodes: Object.fromEntries(NODE_NAMES.map((name, index) => [name, peerPorts[index] as number])),
    random: seededRandom(options.seed),
  });
  onTestFinished(() => network.close());
  const nodes: LabNode[] = [];
  for (const [index, name] of NODE_NAMES.entries()) {
    const others = NODE_NAMES.map((_, other) => other).filter((other) => other !== index);
    const dialMap = others.map(
      (other) =>
        `${peerUrls[other]}=http://127.0.0.1:${network.addressFor(name, NODE_NAMES[other] as string)}`,
    );
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      NODE_ID: name,
      HOST: '127.0.0.1',
      PEER_HOST: '127.0.0.1',
      PORT: String(apiPorts[index]),
      PEER_PORT: String(peerPorts[index]),
      DATA_DIR: await tempDir(`kv-lab-${name}-`),
      CLUSTER_SECRET: TEST_CLUSTER_SECRET,
      SEEDS: others.map((other) => peerUrls[other]).join(','),
      PEER_DIAL_MAP: dialMap.join(','),
      N: String(REPLICATION.n),
      W: String(REPLICATION.w),
      R: String(REPLICATION.r),
      VNODES: String(VNODES),
      SLOPPY_QUORUM: String(options.sloppyQuorum),
      // A kill -9 ends the process, not the machine: bytes written are in the page cache.
      FSYNC: 'interval',
      FSYNC_INTERVAL_MS: '50',
      DEAD_MEMBER_REMOVAL_MS: '600000',
      ...Object.fromEntries(Object.entries(LAB_TIMERS).map(([key, value]) => [key, String(value)])),
      ...(options.skew.node === name ? { SYSDESIGN_CLOCK_OFFSET_MS: String(options.skew.offsetMs) } : {}),
    };
    const apiUrl = `http://127.0.0.1:${apiPorts[index]}`;
    const nodeProcess = new NodeProcess({
      script: 'src/main.ts',
      cwd: SERVICE_ROOT,
      env,
      readyUrl: `${apiUrl}/readyz`,
      startTimeoutMs: START_TIMEOUT_MS,
    });
    nodes.push({ name, apiUrl, peerUrl: peerUrls[index] as string, process: nodeProcess });
  }
  await Promise.all(nodes.map((node) => node.process.start()));
  const ring = new ClusterRing({ nodes: peerUrls, n: REPLICATION.n, vnodes: VNODES });
  const nameOf = new Map(nodes.map((node) => [node.peerUrl, node.name]));
  return {
    nodes,
    network,
    node: (name) => {
      const found = nodes.find((node) => node.name === name);
      if (found === undefined) throw new Error(`no lab node ${name}`);
      return found;
    },
    replicasOf: (key) => ring.replicasOf(key).map((url) => nameOf.get(url) as string),
  };
}

interface ClusterView {
  members: { url: string; state: string }[];
  hints: { keys: number };
}

async function clusterView(node: LabNode): Promise<ClusterView | undefined> {
  try {
    const response = await fetch(`${node.apiUrl}/v1/cluster`, { signal: AbortSignal.timeout(2_000) });
    return response.status === 200 ? ((await response.json()) as ClusterView) : undefined;
  } catch {
    return undefined;
  }
}

/** True when every node answers and sees all five members alive. */
export async function everyoneSeesEveryoneAlive(lab: Lab): Promise<boolean> {
  const views = await Promise.all(lab.nodes.map(clusterView));
  return views.every(
    (view) =>
      view !== undefined &&
      view.members.length === lab.nodes.length &&
      view.members.every((member) => member.state === 'alive'),
  );
}

/** Hints (coordinator-side and sloppy-quorum fallbacks') still held, over every node. */
export async function pendingHints(lab: Lab): Promise<number> {
  const views = await Promise.all(lab.nodes.map(clusterView));
  if (views.some((view) => view === undefined)) return Number.POSITIVE_INFINITY;
  return views.reduce((sum, view) => sum + (view?.hints.keys ?? 0), 0);
}

/**
 * Waits until no node holds a hint, for as long as the count keeps falling: hand-off of a long
 * outage's hints takes several rounds on a loaded machine, so only a stall fails the wait.
 */
export async function waitHintsHandedOff(lab: Lab, stallLimitMs: number): Promise<void> {
  let best = Number.POSITIVE_INFINITY;
  let lastProgressMs = Date.now();
  for (;;) {
    const pending = await pendingHints(lab);
    if (pending === 0) return;
    if (pending < best) {
      best = pending;
      lastProgressMs = Date.now();
    }
    if (Date.now() - lastProgressMs > stallLimitMs)
      throw new Error(`hinted hand-off stalled with ${pending} hints held for ${stallLimitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The live values `node` itself holds for `key`, read through its peer API (store and hints). */
export async function replicaValues(node: LabNode, key: string): Promise<string[]> {
  const response = await fetch(`${node.peerUrl}/internal/v1/peer`, {
    method: 'POST',
    body: JSON.stringify({ type: 'read', key }),
    headers: { 'content-type': 'application/json', 'x-cluster-secret': TEST_CLUSTER_SECRET },
    signal: AbortSignal.timeout(5_000),
  });
  if (response.status !== 200) throw new Error(`${node.name} answered ${response.status} to a peer read`);
  const decoded = decodeResponse(await response.json());
  if (decoded.type !== 'versions') throw new Error(`${node.name} answered ${decoded.type} to a peer read`);
  return decoded.versions
    .filter((version) => version.value !== null)
    .map((version) => Buffer.from(version.value as Uint8Array).toString('utf8'))
    .sort();
}

/** A metric's value summed over its label sets that contain `labels` (all when absent), on one node. */
export async function metricTotal(node: LabNode, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${node.apiUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !line.includes(labels)) continue;
    const rest = line.slice(name.length);
    if (rest.startsWith(' ') || rest.startsWith('{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
