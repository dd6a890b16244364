/**
 * Splitting a file into blocks. Two strategies, measured against each other in the bench:
 *
 * - `fixed`: 4 MiB blocks (the chapter's choice). An insertion of one byte in the middle shifts
 *   every later block boundary, so every later block is new.
 * - `fastcdc`: content-defined chunking (Xia et al., "FastCDC", USENIX ATC 2016). A rolling "gear"
 *   hash over the bytes picks boundaries where the hash's top bits are zero, so a boundary depends
 *   only on the 32 bytes before it: after an insertion the boundaries fall back into step within a
 *   block or two, and only those blocks are sent again. Normalised chunking (a stricter mask before
 *   the average size, a looser one after) keeps sizes near the average; every block is between a
 *   quarter and four times the average.
 *
 * The chunker is streaming: `push` bytes as they arrive, take the blocks that are complete,
 * `finish` for the rest. A cut depends only on the bytes from the block's start to at most its
 * maximum size, so cutting once `maxBytes` are buffered gives exactly the blocks of a one-shot pass.
 */

export type ChunkingStrategy = 'fastcdc' | 'fixed';

export const FIXED_BLOCK_BYTES = 4 * 1024 * 1024;
export const DEFAULT_AVG_BLOCK_BYTES = 1024 * 1024;
/** No strategy makes a block larger than this: the server refuses bigger ones. */
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024;

export interface ChunkingOptions {
  strategy: ChunkingStrategy;
  /** FastCDC's average, a power of two between 1 KiB and 1 MiB... 4 MiB / 4. */
  avgBytes?: number;
  /** Fixed blocks' size; defaults to FIXED_BLOCK_BYTES. */
  fixedBytes?: number;
}

/** The gear table: 256 pseudo-random 32-bit values from a fixed seed, so every client cuts alike. */
const GEAR = gearTable(0x9e3779b9);

function gearTable(seed: number): Uint32Array {
  const table = new Uint32Array(256);
  let state = seed >>> 0;
  for (let index = 0; index < 256; index++) {
    // splitmix32: a well-mixed sequence from a counter.
    state = (state + 0x9e3779b9) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 16), 0x85ebca6b) >>> 0;
    value = Math.imul(value ^ (value >>> 13), 0xc2b2ae35) >>> 0;
    table[index] = (value ^ (value >>> 16)) >>> 0;
  }
  return table;
}

/** A mask of the top `bits` bits of 32: the gear hash's high bits depend on the last 32 bytes. */
function topBitsMask(bits: number): number {
  return ((2 ** bits - 1) * 2 ** (32 - bits)) >>> 0;
}

interface CdcParams {
  minBytes: number;
  avgBytes: number;
  maxBytes: number;
  maskSmall: number;
  maskLarge: number;
}

function cdcParams(avgBytes: number): CdcParams {
  const bits = Math.log2(avgBytes);
  if (!Number.isInteger(bits) || avgBytes < 1024 || avgBytes > MAX_BLOCK_BYTES / 4) {
    throw new RangeError(`avgBytes must be a power of two in 1024..${MAX_BLOCK_BYTES / 4}, got ${avgBytes}`);
  }
  return {
    minBytes: avgBytes / 4,
    avgBytes,
    maxBytes: avgBytes * 4,
    maskSmall: topBitsMask(bits + 2),
    maskLarge: topBitsMask(bits - 2),
  };
}

/** The length of the next FastCDC block of `data` from `start` (the whole rest when it is short). */
export function fastCdcCut(data: Uint8Array, start: number, end: number, params: CdcParams): number {
  const available = end - start;
  if (available <= params.minBytes) return available;
  const limit = Math.min(available, params.maxBytes);
  const normal = Math.min(params.avgBytes, limit);
  let hash = 0;
  let offset = params.minBytes;
  for (; offset < normal; offset++) {
    hash = ((hash << 1) + GEAR[data[start + offset]!]!) >>> 0;
    if ((hash & params.maskSmall) === 0) return offset + 1;
  }
  for (; offset < limit; offset++) {
    hash = ((hash << 1) + GEAR[data[start + offset]!]!) >>> 0;
    if ((hash & params.maskLarge) === 0) return offset + 1;
  }
  return limit;
}

export class Chunker {
  private readonly cut: (data: Uint8Array, start: number, end: number) => number;
  /** Bytes needed in the buffer before a cut is final. */
  private readonly windowBytes: number;
  private buffer: Uint8Array = new Uint8Array(0);

  constructor(options: ChunkingOptions) {
    if (options.strategy === 'fixed') {
      const size = options.fixedBytes ?? FIXED_BLOCK_BYTES;
      if (!Number.isSafeInteger(size) || size < 1 || size > MAX_BLOCK_BYTES) {
        throw new RangeError(`fixedBytes must be in 1..${MAX_BLOCK_BYTES}, got ${size}`);
      }
      this.windowBytes = size;
      this.cut = (_data, start, end) => Math.min(size, end - start);
    } else {
      const params = cdcParams(options.avgBytes ?? DEFAULT_AVG_BLOCK_BYTES);
      this.windowBytes = params.maxBytes;
      this.cut = (data, start, end) => fastCdcCut(data, start, end, params);
    }
  }

  /** Adds bytes; answers the blocks that are now complete (copies, safe to keep). */
  push(bytes: Uint8Array): Uint8Array[] {
    this.buffer = this.buffer.byteLength === 0 ? bytes : concat(this.buffer, bytes);
    const blocks: Uint8Array[] = [];
    let start = 0;
    while (this.buffer.byteLength - start >= this.windowBytes) {
      const length = this.cut(this.buffer, start, this.buffer.byteLength);
      blocks.push(this.buffer.slice(start, start + length));
      start += length;
    }
    this.buffer = start === 0 ? this.buffer : this.buffer.slice(start);
    return blocks;
  }

  /** The remaining blocks; the chunker is empty afterwards. */
  finish(): Uint8Array[] {
    const blocks: Uint8Array[] = [];
    let start = 0;
    while (start < this.buffer.byteLength) {
      const length = this.cut(this.buffer, start, this.buffer.byteLength);
      blocks.push(this.buffer.slice(start, start + length));
      start += length;
    }
    this.buffer = new Uint8Array(0);
    return blocks;
  }
}

/** Every block of `data` in one pass. */
export function chunk(data: Uint8Array, options: ChunkingOptions): Uint8Array[] {
  const chunker = new Chunker(options);
  return [...chunker.push(data), ...chunker.finish()];
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.byteLength + second.byteLength);
  joined.set(first, 0);
  joined.set(second, first.byteLength);
  return joined;
}
