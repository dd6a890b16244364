import type { ServiceApp } from '@sysdesign/platform';
import { z } from 'zod';
import { type ListedService, statusesOf } from './health.js';
import { renderPage } from './page.js';

const serviceStatus = z.object({
  name: z.string(),
  url: z.string(),
  docsUrl: z.string(),
  state: z.enum(['ready', 'not-ready', 'down', 'failed-to-start']),
  detail: z.string().optional(),
  latencyMs: z.number().optional(),
});

export interface ConsoleDeps {
  /** Read on every request: start-all adds services to the list as they start. */
  services: () => ListedService[];
  healthTimeoutMs: number;
}

/** The page and its JSON twin, both asking every listed service how it is. */
export function registerConsoleRoutes(app: ServiceApp, deps: ConsoleDeps): void {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const statuses = await statusesOf(deps.services(), deps.healthTimeoutMs);
    return reply.type('text/html; charset=utf-8').send(renderPage(statuses, new Date()));
  });
  app.get(
    '/v1/services',
    {
      schema: {
        summary: 'Every service and its health',
        response: { 200: z.object({ services: z.array(serviceStatus) }) },
      },
    },
    async () => ({ services: await statusesOf(deps.services(), deps.healthTimeoutMs) }),
  );
}
