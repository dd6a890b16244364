import {
  type Clock,
  clockFromEnv,
  defineService,
  type EmbeddedInstance,
  type ServiceApp,
  type ServiceContext,
} from '@sysdesign/platform';
import { registerApp } from './app.js';
import {
  type Config,
  clusterSettings,
  configSchema,
  DEFAULT_PORT,
  PEER_PORT_OFFSET,
  SERVICE_NAME,
} from './config.js';
import { mapKvStoreError } from './errors.js';
import { createKvMetrics } from './metrics.js';
import { KvNode } from './node.js';
import { openNodeStorage } from './node-storage.js';
import type { LinkFilter } from './transport/http-transport.js';
import { loadPeerCredentials } from './transport/peer-credentials.js';

/** Test seams that configuration cannot express. */
export interface KvBuildOptions {
  /** Which links between nodes are up (in-process partition tests). */
  links: LinkFilter;
  /** Wall time; default the process's clock (`clockFromEnv`, skewed by SYSDESIGN_CLOCK_OFFSET_MS in fault tests). */
  clock: Clock;
}

const nodes = new WeakMap<ServiceApp, KvNode>();

/** The node behind an app built here (tests, operators' scripts). */
export function kvNodeOf(app: ServiceApp): KvNode {
  const node = nodes.get(app);
  if (node === undefined) throw new Error('this app was not built by the kv-store');
  return node;
}

/**
 * One node from its configuration: its peer credentials, storage (recovered), the quorum parts,
 * the HTTP routes (the peer API on its own listener, which listens from here on), readiness
 * checks; then gossip and the workers start. On close (or a failed start) the app's lifecycle
 * closes the peer listener, stops the node, then closes the storage, after the last request drained.
 */
async function setup(
  app: ServiceApp,
  config: Config,
  _context: ServiceContext,
  options: Partial<KvBuildOptions>,
): Promise<void> {
  const cluster = clusterSettings(config);
  const clock = options.clock ?? clockFromEnv(process.env);
  const metrics = createKvMetrics(app.metrics);
  const credentials = await loadPeerCredentials(config, app.log);
  const storage = await openNodeStorage(config, app.log, app.lifecycle, clock);
  const node = new KvNode(
    { config, cluster, logger: app.log, metrics, credentials, links: options.links, clock },
    storage,
  );
  nodes.set(app, node);
  app.lifecycle.defer('kv node', () => node.stop());
  await registerApp(app, { node, metrics, config });
  addReadiness(app, node);
  await node.start();
  app.log.info(
    { url: cluster.url, incarnation: node.incarnation, ...cluster.replication, seeds: cluster.seeds },
    'kv-store node started',
  );
}

function addReadiness(app: ServiceApp, node: KvNode): void {
  for (const [name, engine] of [
    ['storage', node.engine],
    ['hint-storage', node.hintEngine],
  ] as const) {
    app.readiness.add(name, () => {
      const { state, quarantinedKeys } = engine.stats();
      if (state !== 'open')
        throw new Error(
          `engine is ${state}${engine.failureReason ? `: ${engine.failureReason.message}` : ''}`,
        );
      if (quarantinedKeys > 0)
        throw new Error(`${quarantinedKeys} keys quarantined (undecodable records, see the log)`);
    });
  }
  const { n, w, r } = node.settings.replication;
  const needed = Math.max(w, r);
  app.readiness.add('quorum', () => {
    const alive = node.aliveReplicas();
    if (alive < needed) {
      throw new Error(
        `${alive} of ${node.ring.size} nodes alive; default W=${w}, R=${r} (N=${n}) need ${needed}`,
      );
    }
  });
}

/**
 * `pnpm start`: a three-node cluster in one process, each node with its own port, peer port and
 * data. They share one cluster secret, made by the first in a 0600 file beside their data.
 */
export const EMBEDDED_NODES: EmbeddedInstance[] = [
  ['kv-1', DEFAULT_PORT],
  ['kv-2', 3021],
  ['kv-3', 3022],
].map(([name, port], index, all) => ({
  name: name as string,
  port: port as number,
  env: {
    NODE_ID: name as string,
    DATA_DIR: `./data/${SERVICE_NAME}/${name}`,
    PEER_HOST: '127.0.0.1',
    CLUSTER_SECRET_FILE: `./data/${SERVICE_NAME}/cluster-secret`,
    SEEDS: all
      .filter((_, other) => other !== index)
      .map(([, otherPort]) => `http://127.0.0.1:${(otherPort as number) + PEER_PORT_OFFSET}`)
      .join(','),
  },
}));

export const kvStore = defineService<typeof configSchema, KvBuildOptions>({
  name: SERVICE_NAME,
  description:
    'A Dynamo-style key-value store: consistent hashing, N/W/R quorums per request, vector clocks with siblings, ' +
    'sloppy quorum and hinted handoff, Merkle-tree anti-entropy, gossip membership, an LSM storage engine per node.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  embeddedInstances: EMBEDDED_NODES,
  logBindings: (config) => ({ node: clusterSettings(config).nodeId }),
  mapError: mapKvStoreError,
  setup,
});

/** Builds one node from its configuration (tests pass `links`); closing the app closes the node. */
export const buildService = kvStore.build;
