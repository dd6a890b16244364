import { createService, type ServiceApp, type ServiceOptions } from '@sysdesign/platform';
import { z } from 'zod';
import { SERVICE_NAME } from './config.js';
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

export async function buildConsole(
  options: Omit<ServiceOptions, 'name'> & { services: () => ListedService[]; healthTimeoutMs: number },
): Promise<ServiceApp> {
  const app = await createService({
    name: SERVICE_NAME,
    description: 'Every service of this deployment and its health.',
    ...options,
  });
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const statuses = await statusesOf(options.services(), options.healthTimeoutMs);
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
    async () => ({ services: await statusesOf(options.services(), options.healthTimeoutMs) }),
  );
  return app;
}
