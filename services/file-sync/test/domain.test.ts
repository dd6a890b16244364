import { describe, expect, it } from 'vitest';
import { blocksInRange, contentIdOf, sha256Hex } from '../src/domain/blocks.js';
import { Chunker, chunk } from '../src/domain/chunker.js';
import { conflictCopyPath, InvalidPathError, MAX_SEGMENT_BYTES, normalisePath } from '../src/domain/paths.js';
import { randomBytesOf } from './helpers.js';

const cdc = { strategy: 'fastcdc' as const, avgBytes: 4096 };

describe('FastCDC chunking', () => {
  it('cuts a stream fed in odd pieces exactly as one pass over the whole', () => {
    const data = randomBytesOf(300_000, 7);
    const whole = chunk(data, cdc).map(sha256Hex);
    const chunker = new Chunker(cdc);
    const streamed: Uint8Array[] = [];
    for (let offset = 0; offset < data.length; offset += 7_777) {
      streamed.push(...chunker.push(data.subarray(offset, offset + 7_777)));
    }
    streamed.push(...chunker.finish());
    expect(streamed.map(sha256Hex)).toEqual(whole);
    expect(Buffer.concat(streamed).equals(data)).toBe(true);
  });

  it('keeps every block between a quarter and four times the average, and averages near it', () => {
    const blocks = chunk(randomBytesOf(2_000_000, 8), cdc);
    for (const block of blocks.slice(0, -1)) {
      expect(block.byteLength).toBeGreaterThanOrEqual(1024);
      expect(block.byteLength).toBeLessThanOrEqual(16_384);
    }
    const average = 2_000_000 / blocks.length;
    expect(average).toBeGreaterThan(2048);
    expect(average).toBeLessThan(8192);
  });

  it('re-cuts only the blocks around a one-byte insertion, where fixed blocks re-cut everything after it', () => {
    const data = randomBytesOf(1_000_000, 9);
    const edited = Buffer.concat([data.subarray(0, 500_000), Buffer.from([42]), data.subarray(500_000)]);
    const newBlocks = (options: Parameters<typeof chunk>[1]) => {
      const before = new Set(chunk(data, options).map(sha256Hex));
      return chunk(edited, options).filter((block) => !before.has(sha256Hex(block))).length;
    };
    expect(newBlocks(cdc)).toBeLessThanOrEqual(3);
    const fixed = newBlocks({ strategy: 'fixed', fixedBytes: 4096 });
    expect(fixed).toBeGreaterThan(100);
  });

  it('refuses an average that is not a power of two', () => {
    expect(() => new Chunker({ strategy: 'fastcdc', avgBytes: 5000 })).toThrow(RangeError);
  });
});

describe('blocks', () => {
  it('selects the blocks a byte range overlaps, with the offsets inside each', () => {
    const blocks = [
      { hash: 'a', size: 10 },
      { hash: 'b', size: 10 },
      { hash: 'c', size: 10 },
    ];
    expect(blocksInRange(blocks, 5, 14)).toEqual([
      { block: blocks[0], from: 5, to: 9 },
      { block: blocks[1], from: 0, to: 4 },
    ]);
    expect(blocksInRange(blocks, 29, 29)).toEqual([{ block: blocks[2], from: 9, to: 9 }]);
  });

  it('gives equal block lists equal content ids and different ones different ids', () => {
    const one = [{ hash: 'a'.repeat(64), size: 3 }];
    expect(contentIdOf(one)).toBe(contentIdOf([{ hash: 'a'.repeat(64), size: 3 }]));
    expect(contentIdOf(one)).not.toBe(contentIdOf([{ hash: 'a'.repeat(64), size: 4 }]));
  });
});

describe('paths', () => {
  it('normalises Unicode to NFC and drops a leading slash', () => {
    expect(normalisePath('/docs/cafe\u0301.txt')).toBe('docs/caf\u00e9.txt');
  });

  it.each([
    ['../etc/passwd', '. or ..'],
    ['a/./b', '. or ..'],
    ['a//b', 'empty segment'],
    ['a/', 'empty segment'],
    ['', 'empty'],
    ['a\\b', 'may not contain'],
    ['nul\u0000byte', 'may not contain'],
    ['CON', 'reserved'],
    ['lpt1.txt', 'reserved'],
    ['trailing.', 'end with a dot'],
    ['trailing ', 'end with a dot or a space'],
    ['\ud800lone', 'well-formed'],
    ['x'.repeat(256), 'longer than 255'],
    [Array.from({ length: 40 }, () => 'd').join('/'), 'deeper'],
    ['é'.repeat(600), 'longer than 1024'],
  ])('refuses %j (%s)', (raw, reason) => {
    expect(() => normalisePath(raw)).toThrow(InvalidPathError);
    expect(() => normalisePath(raw)).toThrow(reason);
  });

  it('names conflicted copies like Dropbox, numbered when taken, and always valid', () => {
    const date = new Date('2026-12-07T10:00:00Z');
    expect(conflictCopyPath('a/notes.txt', 'laptop', date, 1)).toBe(
      'a/notes (conflicted copy from laptop 2026-12-07).txt',
    );
    expect(conflictCopyPath('notes', 'phone', date, 2)).toBe(
      'notes (conflicted copy from phone 2026-12-07 2)',
    );
    const long = conflictCopyPath(`${'n'.repeat(250)}.txt`, 'laptop', date, 1);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(MAX_SEGMENT_BYTES);
    expect(normalisePath(long)).toBe(long);
  });
});
