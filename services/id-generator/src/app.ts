import type { ServiceApp, SnowflakeGenerator } from '@sysdesign/platform';
import type { IdBudgetLimits } from './domain/id-budget.js';
import { createStrategies } from './domain/strategy-registry.js';
import type { IdMetrics } from './metrics.js';
import { registerIdRoutes } from './routes/ids.js';
import type { TicketStore } from './store/ticket-store.js';

export interface AppDeps {
  snowflake: SnowflakeGenerator;
  tickets: TicketStore;
  metrics: IdMetrics;
  /** Defaults to `DEFAULT_ID_BUDGET`. */
  budget?: IdBudgetLimits;
}

/** The HTTP app over ready-made parts; `service.ts` makes the parts from configuration. */
export function registerApp(app: ServiceApp, deps: AppDeps): ServiceApp {
  const strategies = createStrategies({
    snowflake: deps.snowflake,
    tickets: deps.tickets,
    ...(deps.budget === undefined ? {} : { budget: deps.budget }),
  });
  registerIdRoutes(app, { strategies, snowflake: deps.snowflake, metrics: deps.metrics });
  return app;
}
