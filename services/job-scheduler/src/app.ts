import type { ServiceApp } from '@sysdesign/platform';
import type { RouteContext } from './routes/context.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerLeaseRoutes } from './routes/leases.js';
import { registerQueueRoutes } from './routes/queues.js';
import { registerScheduleRoutes } from './routes/schedules.js';
import { type PushRoutesContext, registerWorkerRoutes } from './routes/workers.js';

/** The HTTP app over ready-made parts; `service.ts` makes the parts from configuration. */
export function registerApp(app: ServiceApp, context: RouteContext, push: PushRoutesContext): ServiceApp {
  registerJobRoutes(app, context);
  registerQueueRoutes(app, context);
  registerScheduleRoutes(app, context);
  registerLeaseRoutes(app, context);
  registerWorkerRoutes(app, context, push);
  registerDashboardRoutes(app);
  return app;
}
