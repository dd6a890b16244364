import type { ServiceApp } from '@sysdesign/platform';
import type { RouteContext } from './routes/context.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerLeaseRoutes } from './routes/leases.js';
import { registerQueueRoutes } from './routes/queues.js';
import { registerScheduleRoutes } from './routes/schedules.js';

/** The HTTP app over ready-made parts; `service.ts` makes the parts from configuration. */
export function registerApp(app: ServiceApp, context: RouteContext): ServiceApp {
  registerJobRoutes(app, context);
  registerQueueRoutes(app, context);
  registerScheduleRoutes(app, context);
  registerLeaseRoutes(app, context);
  registerDashboardRoutes(app);
  return app;
}
