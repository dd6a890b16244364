import { type ServiceApp, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import { MAX_BLOCK_BYTES } from '../domain/chunker.js';
import type { FileSync } from '../file-sync.js';
import { acceptRawBodies, bodyStream, readBounded } from './binary-body.js';
import { blockHash, problemsDoc } from './schemas.js';

/** Hashes one "missing?" question may carry. */
export const MAX_MISSING_QUERY = 10_000;

export function registerBlockRoutes(app: ServiceApp, fileSync: FileSync): void {
  app.post(
    '/v1/blocks/missing',
    {
      schema: {
        tags: ['blocks'],
        summary: 'Which of these blocks must I upload? (the first step of a delta upload)',
        description: problemsDoc(['ERR_VALIDATION']),
        body: z.strictObject({ hashes: z.array(blockHash).min(1).max(MAX_MISSING_QUERY) }),
        response: { 200: z.object({ missing: z.array(z.string()) }) },
      },
    },
    async (request) => ({ missing: await fileSync.missingBlocks(userOf(request).id, request.body.hashes) }),
  );

  app.register(async (scope) => {
    const api = scope as unknown as ServiceApp;
    acceptRawBodies(api);
    api.put(
      '/v1/blocks/:hash',
      {
        schema: {
          tags: ['blocks'],
          summary: 'Upload one block; the server recomputes its SHA-256 and refuses a mismatch',
          description: problemsDoc([
            'FILESYNC_ERR_HASH_MISMATCH',
            'FILESYNC_ERR_BLOCK_TOO_LARGE',
            'FILESYNC_ERR_QUOTA_EXCEEDED',
            'FILESYNC_ERR_STORAGE_FULL',
          ]),
          params: z.object({ hash: blockHash }),
          response: { 200: z.object({ hash: z.string(), result: z.enum(['stored', 'deduplicated']) }) },
        },
        bodyLimit: MAX_BLOCK_BYTES + 1,
      },
      async (request) => {
        const stream = bodyStream(request.body);
        const bytes = stream === undefined ? Buffer.alloc(0) : await readBounded(stream, MAX_BLOCK_BYTES);
        const result = await fileSync.uploadBlock(userOf(request).id, request.params.hash, bytes);
        return { hash: request.params.hash, result };
      },
    );
  });

  app.get(
    '/v1/blocks/:hash',
    {
      schema: {
        tags: ['blocks'],
        summary: 'Download one block this user holds (the client fetches only blocks it lacks)',
        description: problemsDoc(['FILESYNC_ERR_BLOCK_NOT_FOUND']),
        params: z.object({ hash: blockHash }),
      },
    },
    async (request, reply) => {
      const bytes = await fileSync.readBlock(userOf(request).id, request.params.hash);
      return reply
        .type('application/octet-stream')
        .header('cache-control', 'private, max-age=31536000, immutable')
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );
}
