import { requireUser, type ServiceApp, type TokenAuthority, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import type { Collector } from '../store/collector.js';
import type { MetadataStore } from '../store/metadata.js';

/** The scope of operator tokens: running the collector. The embedded dev token has it. */
export const ADMIN_SCOPE = 'file-sync:admin';

export function registerAdminRoutes(
  app: ServiceApp,
  deps: {
    authority: TokenAuthority;
    collector: Collector;
    metadata: MetadataStore;
    quotaBytes: number;
    now: () => Date;
  },
): void {
  app.get(
    '/v1/usage',
    {
      schema: {
        tags: ['account'],
        summary: "The caller's used bytes (every kept revision) and quota",
        response: { 200: z.object({ usedBytes: z.number(), quotaBytes: z.number() }) },
      },
    },
    async (request) => ({
      usedBytes: (await deps.metadata.usage(userOf(request).id)).usedBytes,
      quotaBytes: deps.quotaBytes,
    }),
  );

  app.post(
    '/v1/admin/gc',
    {
      preHandler: requireUser(deps.authority, { scopes: [ADMIN_SCOPE] }),
      schema: {
        tags: ['admin'],
        summary: 'Run the garbage collector now and report what it freed (operator scope)',
        response: {
          200: z.object({
            filesPurged: z.number(),
            revisionsPurged: z.number(),
            blocksFreed: z.number(),
            bytesFreed: z.number(),
            durationMs: z.number(),
          }),
        },
      },
    },
    async () => deps.collector.collect(deps.now()),
  );
}
