import { type ServiceApp, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import { InvalidCursorError } from '../domain/errors.js';
import type { ChangeNotifier } from '../store/change-notifier.js';
import type { MetadataStore } from '../store/metadata.js';
import { problemsDoc } from './schemas.js';

export const DEFAULT_CHANGES_LIMIT = 500;
export const MAX_CHANGES_LIMIT = 2000;
/** How often a waiting long poll re-reads the journal (commits made by other instances). */
const RECHECK_MS = 1000;
/** Told to a client whose poll timed out or was refused: wait this long before the next one. */
const BACKOFF_SECONDS = 1;

/** A cursor is the journal's sequence number the client has seen, as an opaque string. */
const cursor = z.string().regex(/^[0-9]{1,15}$/, 'must be a cursor this service returned');

export interface ChangeRouteDeps {
  metadata: MetadataStore;
  notifier: ChangeNotifier;
  longpollMaxSeconds: number;
}

export function registerChangeRoutes(app: ServiceApp, deps: ChangeRouteDeps): void {
  const { metadata, notifier } = deps;
  /** The cursor as a sequence number; a cursor ahead of the journal was not issued here. */
  async function sequenceOf(userId: string, value: string): Promise<number> {
    const seq = Number(value);
    if (seq > (await metadata.usage(userId)).seq) throw new InvalidCursorError();
    return seq;
  }

  app.get(
    '/v1/changes/latest',
    {
      schema: {
        tags: ['changes'],
        summary: 'The cursor of "now": a client that has just listed everything starts from it',
        response: { 200: z.object({ cursor: z.string() }) },
      },
    },
    async (request) => ({ cursor: String((await metadata.usage(userOf(request).id)).seq) }),
  );

  app.get(
    '/v1/changes',
    {
      schema: {
        tags: ['changes'],
        summary: 'The journal after a cursor, oldest first (cursor 0: from the beginning)',
        description: problemsDoc(['FILESYNC_ERR_INVALID_CURSOR']),
        querystring: z.strictObject({
          cursor,
          limit: z.coerce.number().int().min(1).max(MAX_CHANGES_LIMIT).optional(),
        }),
        response: {
          200: z.object({
            entries: z.array(
              z.object({
                path: z.string(),
                kind: z.enum(['put', 'delete']),
                revision: z.string(),
                size: z.number(),
                contentId: z.string(),
                at: z.string(),
              }),
            ),
            cursor: z.string(),
            hasMore: z.boolean(),
          }),
        },
      },
    },
    async (request) => {
      const user = userOf(request).id;
      const after = await sequenceOf(user, request.query.cursor);
      const limit = request.query.limit ?? DEFAULT_CHANGES_LIMIT;
      const entries = await metadata.changes(user, after, limit + 1);
      const page = entries.slice(0, limit);
      return {
        entries: page.map((entry) => ({
          path: entry.path,
          kind: entry.kind,
          revision: entry.revision,
          size: entry.size,
          contentId: entry.contentId,
          at: entry.at.toISOString(),
        })),
        cursor: String(page.length === 0 ? after : page[page.length - 1]!.seq),
        hasMore: entries.length > limit,
      };
    },
  );

  app.get(
    '/v1/changes/longpoll',
    {
      schema: {
        tags: ['changes'],
        summary: 'Answers as soon as the journal moves past the cursor, or after the timeout (Dropbox style)',
        description: problemsDoc(['FILESYNC_ERR_INVALID_CURSOR', 'FILESYNC_ERR_TOO_MANY_POLLS']),
        querystring: z.strictObject({
          cursor,
          timeoutSeconds: z.coerce.number().int().min(1).max(deps.longpollMaxSeconds).optional(),
        }),
        response: { 200: z.object({ changes: z.boolean(), backoffSeconds: z.number().optional() }) },
      },
    },
    async (request) => {
      const user = userOf(request).id;
      const after = await sequenceOf(user, request.query.cursor);
      const timeoutMs = (request.query.timeoutSeconds ?? Math.min(30, deps.longpollMaxSeconds)) * 1000;
      const gone = new AbortController();
      request.raw.once('close', () => gone.abort());
      const changes = await notifier.wait(
        user,
        { timeoutMs, recheckMs: RECHECK_MS, signal: gone.signal },
        async () => (await metadata.usage(user)).seq > after,
      );
      return changes ? { changes } : { changes, backoffSeconds: BACKOFF_SECONDS };
    },
  );
}
