import { type ByteRange, resolveRange, type ServiceApp, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import { InvalidCursorError } from '../domain/errors.js';
import { normalisePath } from '../domain/paths.js';
import type { FileSync } from '../file-sync.js';
import type { CommitResult } from '../store/metadata.js';
import { acceptRawBodies, bodyStream, emptyBody } from './binary-body.js';
import {
  blockList,
  device,
  fileResponse,
  problemsDoc,
  rawPath,
  revisionId,
  revisionJson,
  revisionResponse,
} from './schemas.js';

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
const DEFAULT_DEVICE = 'web';

const commitResponse = z.object({
  path: z.string(),
  revision: revisionResponse,
  replayed: z.boolean(),
  conflict: z.object({ id: z.string(), path: z.string(), headRevision: z.string() }).optional(),
});

function commitJson(result: CommitResult) {
  return {
    path: result.path,
    revision: revisionJson(result.revision),
    replayed: result.replayed,
    ...(result.conflict ? { conflict: result.conflict } : {}),
  };
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n`; anything else (several ranges) serves the whole file. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (match === null || (match[1] === '' && match[2] === '')) return undefined;
  let range: ByteRange;
  if (match[1] === '') range = { start: Math.max(0, size - Number(match[2])), end: size - 1 };
  else range = { start: Number(match[1]), ...(match[2] === '' ? {} : { end: Number(match[2]) }) };
  return resolveRange(range, size);
}

function pathOfCursor(cursor: string): string {
  const path = Buffer.from(cursor, 'base64url').toString('utf8');
  if (Buffer.from(path, 'utf8').toString('base64url') !== cursor) throw new InvalidCursorError();
  return path;
}

export function registerFileRoutes(app: ServiceApp, fileSync: FileSync): void {
  app.post(
    '/v1/commit',
    {
      schema: {
        tags: ['files'],
        summary:
          'Commit a revision: a block list naming its parent revision (a stale parent makes a conflicted copy)',
        description: problemsDoc([
          'FILESYNC_ERR_INVALID_PATH',
          'FILESYNC_ERR_UNKNOWN_BLOCKS',
          'FILESYNC_ERR_BLOCK_SIZE_MISMATCH',
          'FILESYNC_ERR_QUOTA_EXCEEDED',
          'FILESYNC_ERR_FILE_TOO_LARGE',
        ]),
        body: z.strictObject({
          path: rawPath,
          parentRevision: revisionId.nullable(),
          blocks: blockList,
          device: device.optional(),
        }),
        response: { 200: commitResponse },
      },
    },
    async (request) => {
      const body = request.body;
      const result = await fileSync.commit(userOf(request).id, {
        path: normalisePath(body.path),
        parentRevision: body.parentRevision,
        blocks: body.blocks,
        device: body.device ?? DEFAULT_DEVICE,
      });
      return commitJson(result);
    },
  );

  app.register(async (scope) => {
    const api = scope as unknown as ServiceApp;
    acceptRawBodies(api);
    api.put(
      '/v1/content',
      {
        schema: {
          tags: ['files'],
          summary: 'Upload a whole file; the server chunks it, stores new blocks and commits',
          description: problemsDoc([
            'FILESYNC_ERR_INVALID_PATH',
            'FILESYNC_ERR_FILE_TOO_LARGE',
            'FILESYNC_ERR_QUOTA_EXCEEDED',
          ]),
          querystring: z.strictObject({
            path: rawPath,
            parent: revisionId
              .optional()
              .describe('The revision this content replaces; absent for a new file'),
            device: device.optional(),
          }),
          response: { 200: commitResponse },
        },
      },
      async (request) => {
        const stream = bodyStream(request.body);
        const result = await fileSync.putContent(userOf(request).id, {
          path: normalisePath(request.query.path),
          parentRevision: request.query.parent ?? null,
          device: request.query.device ?? DEFAULT_DEVICE,
          body: stream ?? emptyBody(),
        });
        return commitJson(result);
      },
    );
  });

  app.get(
    '/v1/content',
    {
      schema: {
        tags: ['files'],
        summary: 'Download a file (its head or a revision), whole or a byte range',
        description: problemsDoc([
          'FILESYNC_ERR_NOT_FOUND',
          'FILESYNC_ERR_REVISION_NOT_FOUND',
          'BLOB_ERR_RANGE_NOT_SATISFIABLE',
        ]),
        querystring: z.strictObject({ path: rawPath, revision: revisionId.optional() }),
      },
    },
    async (request, reply) => {
      const user = userOf(request).id;
      const path = normalisePath(request.query.path);
      const { revision } = await fileSync.fileOf(user, path, request.query.revision);
      const range = parseRange(request.headers.range, revision.size);
      const read = await fileSync.readContent(user, path, {
        revisionId: revision.id,
        ...(range ? { range } : {}),
      });
      reply
        .type('application/octet-stream')
        .header('accept-ranges', 'bytes')
        .header('etag', `"${revision.contentId}"`)
        .header('x-revision', revision.id);
      if (range === undefined) return reply.header('content-length', revision.size).send(read.body);
      return reply
        .code(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${revision.size}`)
        .header('content-length', range.end - range.start + 1)
        .send(read.body);
    },
  );

  app.get(
    '/v1/files',
    {
      schema: {
        tags: ['files'],
        summary: 'List live files by path, cursor-paginated',
        querystring: z.strictObject({
          prefix: z.string().max(1024).optional(),
          cursor: z.string().max(1400).optional().describe('nextCursor of the previous page'),
          limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).optional(),
        }),
        response: {
          200: z.object({ files: z.array(fileResponse), nextCursor: z.string().optional() }),
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_LIST_LIMIT;
      const after = request.query.cursor === undefined ? '' : pathOfCursor(request.query.cursor);
      const prefix = request.query.prefix === undefined ? '' : request.query.prefix.normalize('NFC');
      const files = await fileSync.list(userOf(request).id, { prefix, after, limit: limit + 1 });
      const page = files.slice(0, limit);
      const last = page[page.length - 1];
      return {
        files: page.map((file) => ({
          path: file.path,
          deleted: file.deleted,
          revision: revisionJson(file.head),
        })),
        ...(files.length > limit && last
          ? { nextCursor: Buffer.from(last.path, 'utf8').toString('base64url') }
          : {}),
      };
    },
  );

  app.get(
    '/v1/files/metadata',
    {
      schema: {
        tags: ['files'],
        summary: "A file's head (or a revision) with its block list, for block-level downloads",
        description: problemsDoc(['FILESYNC_ERR_NOT_FOUND', 'FILESYNC_ERR_REVISION_NOT_FOUND']),
        querystring: z.strictObject({ path: rawPath, revision: revisionId.optional() }),
        response: {
          200: fileResponse.extend({
            blocks: z.array(z.object({ hash: z.string(), size: z.number() })),
          }),
        },
      },
    },
    async (request) => {
      const path = normalisePath(request.query.path);
      const { file, revision } = await fileSync.fileOf(userOf(request).id, path, request.query.revision);
      return { path, deleted: file.deleted, revision: revisionJson(revision), blocks: revision.blocks };
    },
  );

  app.delete(
    '/v1/files',
    {
      schema: {
        tags: ['files'],
        summary: 'Delete a file (a tombstone: restorable until the collector purges it)',
        description: problemsDoc(['FILESYNC_ERR_NOT_FOUND', 'FILESYNC_ERR_STALE_REVISION']),
        querystring: z.strictObject({
          path: rawPath,
          parent: revisionId.optional().describe('Refuse (409) unless this is still the head'),
        }),
        response: { 200: fileResponse },
      },
    },
    async (request) => {
      const deleted = await fileSync.deleteFile(
        userOf(request).id,
        normalisePath(request.query.path),
        request.query.parent,
      );
      return { path: deleted.path, deleted: true, revision: revisionJson(deleted.head) };
    },
  );

  app.get(
    '/v1/revisions',
    {
      schema: {
        tags: ['revisions'],
        summary: "A file's kept revisions, newest first (deleted files too, until purged)",
        description: problemsDoc(['FILESYNC_ERR_NOT_FOUND']),
        querystring: z.strictObject({ path: rawPath }),
        response: { 200: z.object({ path: z.string(), revisions: z.array(revisionResponse) }) },
      },
    },
    async (request) => {
      const path = normalisePath(request.query.path);
      const revisions = await fileSync.revisions(userOf(request).id, path);
      return { path, revisions: revisions.map(revisionJson) };
    },
  );

  app.post(
    '/v1/restore',
    {
      schema: {
        tags: ['revisions'],
        summary: 'Make an old revision the head again (as a new revision; also undeletes)',
        description: problemsDoc(['FILESYNC_ERR_NOT_FOUND', 'FILESYNC_ERR_REVISION_NOT_FOUND']),
        body: z.strictObject({ path: rawPath, revision: revisionId, device: device.optional() }),
        response: { 200: commitResponse },
      },
    },
    async (request) => {
      const body = request.body;
      const result = await fileSync.restore(
        userOf(request).id,
        normalisePath(body.path),
        body.revision,
        body.device ?? DEFAULT_DEVICE,
      );
      return commitJson(result);
    },
  );
}
