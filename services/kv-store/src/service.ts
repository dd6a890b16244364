import type { EmbeddedInstance, ServiceApp, ServiceContext, ServiceDefinition } from '@sysdesign/platform';
import { createApp, registerApp } from './app.js';
import { type Config, clusterSettings, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { createKvMetrics } from './metrics.js';
import { KvNode } from './node.js';
import type { LinkFilter } from './transport/http-transport.js';

/** Test seams that configuration cannot express. */
export interface KvBuildOptions {
  /** Which links between nodes are up (in-process partition tests). */
  links?: LinkFilter;
}

const nodes = new WeakMap<ServiceApp, KvNode>();

/** The node behind an app built here (tests, operators' scripts). */
export function kvNodeOf(app: ServiceApp): KvNode {
  const node = nodes.get(app);
  if (node === undefined) throw new Error('this app was not built by the kv-store');
  return node;
}

/**
 * Builds one node from its configuration: storage (recovered), the quorum parts, the HTTP routes,
 * readiness checks; then starts gossip and the workers. Closing the app stops them and closes the
 * storage after the last request drained.
 */
export async function buildService(
  config: Config,
  context: ServiceContext,
  options: KvBuildOptions = {},
): Promise<ServiceApp> {
  const cluster = clusterSettings(config);
  const app = await createApp({
    logger: context.logger.child({ node: cluster.nodeId }),
    logLevel: config.LOG_LEVEL,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  const metrics = createKvMetrics(app.metrics);
  let node: KvNode;
  try {
    node = await KvNode.open({ config, cluster, logger: app.log, metrics, links: options.links });
  } catch (error) {
    await app.close();
    throw error;
  }
  try {
    nodes.set(app, node);
    await registerApp(app, { node, metrics, config });
    addReadiness(app, node);
    app.addHook('onClose', () => node.close());
    await node.start();
    app.log.info(
      { url: cluster.url, incarnation: node.incarnation, ...cluster.replication, seeds: cluster.seeds },
      'kv-store node started',
    );
    return app;
  } catch (error) {
    await node.close();
    await app.close();
    throw error;
  }
}

function addReadiness(app: ServiceApp, node: KvNode): void {
  for (const [name, engine] of [
    ['storage', node.engine],
    ['hint-storage', node.hintEngine],
  ] as const) {
    app.readiness.add(name, () => {
      const { state } = engine.stats();
      if (state !== 'open')
        throw new Error(
          `engine is ${state}${engine.failureReason ? `: ${engine.failureReason.message}` : ''}`,
        );
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

/** `pnpm start`: a three-node cluster in one process, each node with its own port and data. */
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
    ADVERTISE_URL: `http://127.0.0.1:${port}`,
    SEEDS: all
      .filter((_, other) => other !== index)
      .map(([, otherPort]) => `http://127.0.0.1:${otherPort}`)
      .join(','),
  },
}));

export const kvStore: ServiceDefinition<typeof configSchema> = {
  name: SERVICE_NAME,
  defaultPort: DEFAULT_PORT,
  configSchema,
  embeddedInstances: EMBEDDED_NODES,
  build: (config, context) => buildService(config, context),
};
