import { type ServiceApp, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import { errors } from '../errors.js';
import type { MetadataStore } from '../store/metadata.js';
import { problemsDoc } from './schemas.js';

const MAX_CONFLICTS_LIMIT = 500;
const conflictId = z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be a conflict id');

export function registerConflictRoutes(app: ServiceApp, metadata: MetadataStore, now: () => Date): void {
  app.get(
    '/v1/conflicts',
    {
      schema: {
        tags: ['conflicts'],
        summary: 'Open conflicts: where each losing upload was kept, oldest first',
        querystring: z.strictObject({
          cursor: conflictId.optional(),
          limit: z.coerce.number().int().min(1).max(MAX_CONFLICTS_LIMIT).optional(),
        }),
        response: {
          200: z.object({
            conflicts: z.array(
              z.object({
                id: z.string(),
                path: z.string(),
                conflictPath: z.string(),
                device: z.string(),
                baseRevision: z.string().nullable(),
                headRevision: z.string(),
                conflictRevision: z.string(),
                createdAt: z.string(),
              }),
            ),
            nextCursor: z.string().optional(),
          }),
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 100;
      const found = await metadata.openConflicts(userOf(request).id, request.query.cursor ?? '0', limit + 1);
      const page = found.slice(0, limit);
      return {
        conflicts: page.map((conflict) => ({ ...conflict, createdAt: conflict.createdAt.toISOString() })),
        ...(found.length > limit ? { nextCursor: page[page.length - 1]!.id } : {}),
      };
    },
  );

  app.post(
    '/v1/conflicts/:id/resolve',
    {
      schema: {
        tags: ['conflicts'],
        summary: 'Mark a conflict handled (the copy stays a normal file until deleted)',
        description: problemsDoc(['FILESYNC_ERR_CONFLICT_NOT_FOUND']),
        params: z.object({ id: conflictId }),
        response: { 200: z.object({ id: z.string(), resolved: z.boolean() }) },
      },
    },
    async (request) => {
      if (!(await metadata.resolveConflict(userOf(request).id, request.params.id, now()))) {
        throw errors.FILESYNC_ERR_CONFLICT_NOT_FOUND(`no open conflict ${request.params.id}`);
      }
      return { id: request.params.id, resolved: true };
    },
  );
}
