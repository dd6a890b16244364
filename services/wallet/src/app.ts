import type { ServiceApp, TokenAuthority } from '@sysdesign/platform';
import type { Ledger } from './ledger.js';
import { registerAccountRoutes } from './routes/accounts.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerTransferRoutes } from './routes/transfers.js';

export interface AppDeps {
  ledger: Ledger;
  authority: TokenAuthority;
  batchMax: number;
  pageMax: number;
  pendingTimeoutMaxMs: number;
  conservationGraceMs: number;
}

/** The HTTP app over ready-made parts; `service.ts` makes the parts from configuration. */
export function registerApp(app: ServiceApp, deps: AppDeps): ServiceApp {
  const { ledger, authority } = deps;
  registerAccountRoutes(app, { ledger, authority, pageMax: deps.pageMax });
  registerTransferRoutes(app, {
    ledger,
    authority,
    batchMax: deps.batchMax,
    pendingTimeoutMaxMs: deps.pendingTimeoutMaxMs,
  });
  registerAuditRoutes(app, { ledger, authority, graceMs: deps.conservationGraceMs });
  return app;
}
