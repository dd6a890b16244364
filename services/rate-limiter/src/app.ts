import type { ServiceApp } from '@sysdesign/platform';
import type { FailMode } from './domain/checker.js';
import type { RateLimiterMetrics } from './metrics.js';
import { registerCheckRoute } from './routes/check.js';
import { type RejectedReload, registerRulesRoute } from './routes/rules.js';
import type { LoadedRules } from './store/limiters.js';

export interface AppDeps {
  loaded: LoadedRules;
  failMode: FailMode;
  metrics: RateLimiterMetrics;
  lastRejectedReload: () => RejectedReload | undefined;
}

/** The HTTP app over ready-made parts; `service.ts` makes the parts from configuration. */
export function registerApp(app: ServiceApp, deps: AppDeps): ServiceApp {
  registerCheckRoute(app, {
    active: {
      get rules() {
        return deps.loaded.rules;
      },
      limiterFor: (ruleId) => deps.loaded.limiterFor(ruleId),
    },
    failMode: deps.failMode,
    metrics: deps.metrics,
  });
  registerRulesRoute(app, { loaded: deps.loaded, lastRejected: deps.lastRejectedReload });
  return app;
}
