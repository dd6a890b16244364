import { createService, type ServiceApp, type ServiceOptions } from '@sysdesign/platform';
import { type Config, SERVICE_NAME } from './config.js';
import type { KvMetrics } from './metrics.js';
import type { KvNode } from './node.js';
import { registerClusterRoutes } from './routes/cluster.js';
import { registerKvRoutes } from './routes/kv.js';
import { registerPeerRoutes } from './routes/peer.js';

export interface AppDeps {
  node: KvNode;
  metrics: KvMetrics;
  config: Config;
}

/** The HTTP app over a ready node; `service.ts` makes the node from configuration. */
export async function registerApp(app: ServiceApp, deps: AppDeps): Promise<ServiceApp> {
  const { node, config } = deps;
  await registerKvRoutes(app, deps);
  registerClusterRoutes(app, node, config);
  await registerPeerRoutes(app, node, config);
  // The library's and the engines' running totals are copied into the metrics when they are scraped.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.routeOptions.url === '/metrics') node.refreshMetrics();
    done();
  });
  return app;
}

export async function createApp(options: Omit<ServiceOptions, 'name'>): Promise<ServiceApp> {
  return createService({
    name: SERVICE_NAME,
    description:
      'A Dynamo-style key-value store: consistent hashing, N/W/R quorums per request, vector clocks with siblings, ' +
      'sloppy quorum and hinted handoff, Merkle-tree anti-entropy, gossip membership, an LSM storage engine per node.',
    ...options,
  });
}
