import type { ServiceApp } from '@sysdesign/platform';
import type { Config } from './config.js';
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
