import { freePort } from './ports.js';
import { tempDir } from './temp-dir.js';

/**
 * Several nodes of one service in this test process, the way a cluster test needs them: each on
 * its own free port of 127.0.0.1, with its own data directory, knowing the others' URLs before
 * any of them listens. What a node is and how it starts is the service's: a factory makes it.
 */

/** Where one node of the cluster lives. */
export interface ClusterSlot {
  /** 0 for the first node. */
  index: number;
  port: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** An empty directory of its own, removed after the test. */
  dataDir: string;
  /** The other nodes' URLs, in slot order. */
  peerUrls: string[];
}

export interface ClusterNode {
  start(): Promise<void>;
  /** Must also accept a node that never started or failed to. */
  stop(): Promise<void>;
}

export interface LocalCluster<Node extends ClusterNode> {
  nodes: Node[];
  /** Stops every node, in parallel. */
  stop(): Promise<void>;
}

/**
 * Makes `size` nodes with `createNode` and starts them in parallel. When one fails to start, the
 * others are stopped and the first failure is thrown: a test never leaks half a cluster.
 */
export async function startLocalCluster<Node extends ClusterNode>(
  size: number,
  createNode: (slot: ClusterSlot) => Node,
  options: { dataDirPrefix?: string } = {},
): Promise<LocalCluster<Node>> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  const nodes: Node[] = [];
  for (const [index, port] of ports.entries()) {
    const dataDir = await tempDir(options.dataDirPrefix ?? 'cluster-node-');
    const peerUrls = urls.filter((_, other) => other !== index);
    nodes.push(createNode({ index, port, url: urls[index]!, dataDir, peerUrls }));
  }
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const started = await Promise.allSettled(nodes.map((node) => node.start()));
  const failure = started.find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) {
    await stop();
    throw failure.reason;
  }
  return { nodes, stop };
}
