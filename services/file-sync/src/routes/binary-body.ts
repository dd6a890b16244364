import type { Readable } from 'node:stream';
import type { ServiceApp } from '@sysdesign/platform';
import { errors } from '../errors.js';

/**
 * Routes that take raw bytes (a block, a whole file) get the request stream itself, whatever its
 * content type, so curl's `--data-binary` works as sent and a file is never held whole in memory.
 * Each route bounds what it reads.
 */
export function acceptRawBodies(scope: ServiceApp): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
}

/** The stream's bytes, or 413 once more than `maxBytes` arrived. */
export async function readBounded(stream: Readable, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const part of stream) {
    total += (part as Buffer).byteLength;
    if (total > maxBytes) {
      throw errors.FILESYNC_ERR_BLOCK_TOO_LARGE(`a block may hold at most ${maxBytes} bytes`, { maxBytes });
    }
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts);
}

/** The request body as a stream, when a body was sent at all. */
export function bodyStream(body: unknown): Readable | undefined {
  return body !== null && typeof body === 'object' && 'pipe' in body ? (body as Readable) : undefined;
}

/** No bytes: a PUT without a body is an empty file. */
export async function* emptyBody(): AsyncGenerator<Uint8Array> {}
