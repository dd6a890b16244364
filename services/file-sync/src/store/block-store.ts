import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants, gunzip, gzip } from 'node:zlib';
import type { BlobStore } from '@sysdesign/platform';
import { sha256Hex } from '../domain/blocks.js';
import { CorruptBlockError } from '../domain/errors.js';

/**
 * Block bytes at rest: one blob per block under `blocks/<first two hex>/<hash>`, compressed with
 * gzip or brotli (or kept raw when compression would not shrink it: media is already compressed).
 * Reads decompress and check the SHA-256 again, so a block that rotted on disk is an error and
 * never wrong bytes in a user's file.
 */

export type Compression = 'brotli' | 'gzip' | 'none';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const brotliAsync = promisify(brotliCompress);
const unbrotliAsync = promisify(brotliDecompress);
/** Brotli's default quality (11) runs at a few MB/s; 5 keeps most of its ratio at gzip-like speed. */
const BROTLI_QUALITY = 5;

export interface StoredBlock {
  storedSize: number;
  compression: Compression;
}

export class BlockStore {
  constructor(
    private readonly blobs: BlobStore,
    private readonly compression: Compression,
  ) {}

  static keyOf(hash: string): string {
    return `blocks/${hash.slice(0, 2)}/${hash}`;
  }

  async write(hash: string, bytes: Uint8Array): Promise<StoredBlock> {
    const compressed = await this.compress(bytes);
    const keep = compressed !== undefined && compressed.byteLength < bytes.byteLength;
    const body = keep ? compressed : bytes;
    await this.blobs.put(BlockStore.keyOf(hash), body);
    return { storedSize: body.byteLength, compression: keep ? this.compression : 'none' };
  }

  async read(hash: string, compression: Compression): Promise<Uint8Array> {
    const found = await this.blobs.get(BlockStore.keyOf(hash));
    if (found === undefined) throw new CorruptBlockError(hash);
    const parts: Buffer[] = [];
    for await (const part of found.body) parts.push(part as Buffer);
    const stored = Buffer.concat(parts);
    let bytes: Uint8Array;
    try {
      bytes = await decompress(stored, compression);
    } catch {
      throw new CorruptBlockError(hash);
    }
    if (sha256Hex(bytes) !== hash) throw new CorruptBlockError(hash);
    return bytes;
  }

  async delete(hash: string): Promise<void> {
    await this.blobs.delete(BlockStore.keyOf(hash));
  }

  private async compress(bytes: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.compression === 'gzip') return gzipAsync(bytes);
    if (this.compression === 'brotli') {
      return brotliAsync(bytes, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
          [constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength,
        },
      });
    }
    return undefined;
  }
}

function decompress(stored: Buffer, compression: Compression): Promise<Uint8Array> | Uint8Array {
  if (compression === 'gzip') return gunzipAsync(stored);
  if (compression === 'brotli') return unbrotliAsync(stored);
  return stored;
}
