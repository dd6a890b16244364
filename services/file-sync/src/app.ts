import { requireUser, type ServiceApp, type TokenAuthority } from '@sysdesign/platform';
import type { FileSync } from './file-sync.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerBlockRoutes } from './routes/blocks.js';
import { registerChangeRoutes } from './routes/changes.js';
import { registerConflictRoutes } from './routes/conflicts.js';
import { registerFileRoutes } from './routes/files.js';
import type { ChangeNotifier } from './store/change-notifier.js';
import type { Collector } from './store/collector.js';
import type { MetadataStore } from './store/metadata.js';

export interface AppDeps {
  fileSync: FileSync;
  metadata: MetadataStore;
  notifier: ChangeNotifier;
  collector: Collector;
  authority: TokenAuthority;
  quotaBytes: number;
  longpollMaxSeconds: number;
  now: () => Date;
}

/**
 * Every /v1 route needs a signed-in user: a user's files are private, reads included. The check
 * runs on request, before the body is parsed or validated: a caller without a token learns nothing
 * about the API's shapes and costs us no parsing.
 */
export async function registerApp(app: ServiceApp, deps: AppDeps): Promise<void> {
  await app.register(async (scope) => {
    const api = scope as unknown as ServiceApp;
    api.addHook('onRequest', requireUser(deps.authority));
    registerBlockRoutes(api, deps.fileSync);
    registerFileRoutes(api, deps.fileSync);
    registerChangeRoutes(api, deps);
    registerConflictRoutes(api, deps.metadata, deps.now);
    registerAdminRoutes(api, deps);
  });
}
