import { describe, expect, it } from 'vitest';
import { clockFrom, decodeContext, EMPTY_CLOCK, encodeContext, InvalidContextError } from '../src/index.js';
import { Random } from '../src/testing.js';

const URL_ACTOR = 'http://127.0.0.1:3021#1732291200000';

function rawContext(bytes: number[]): string {
  return Buffer.from(bytes).toString('base64url');
}

function expectInvalid(encoded: string, reason: RegExp) {
  try {
    decodeContext(encoded);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidContextError);
    expect((error as InvalidContextError).code).toBe('QUORUM_ERR_INVALID_CONTEXT');
    expect((error as Error).message).toMatch(reason);
    return;
  }
  throw new Error(`decodeContext accepted ${JSON.stringify(encoded.slice(0, 60))}`);
}

describe('opaque context encoding', () => {
  it('round-trips clocks exactly, as short URL-safe text', () => {
    // Three URL-named actors with large counters and times, the X-Context of a 3-replica cluster.
    const clock = clockFrom([
      { actor: URL_ACTOR, counter: 123_456_789, timeMs: 1_732_291_200_123 },
      { actor: 'http://127.0.0.1:3002#7', counter: 1, timeMs: 0 },
      { actor: 'ünïcødé-node#1', counter: Number.MAX_SAFE_INTEGER, timeMs: 5 },
    ]);
    const encoded = encodeContext(clock);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encoded.length).toBeLessThan(200);
    expect(decodeContext(encoded)).toEqual(clock);
    expect(decodeContext(encodeContext(EMPTY_CLOCK))).toEqual([]);
  });

  it('gives one clock exactly one encoding', () => {
    // Entries are written sorted by actor, so equal clocks always produce equal strings.
    const a = clockFrom([
      { actor: 'b', counter: 1, timeMs: 1 },
      { actor: 'a', counter: 2, timeMs: 2 },
    ]);
    const b = clockFrom([
      { actor: 'a', counter: 2, timeMs: 2 },
      { actor: 'b', counter: 1, timeMs: 1 },
    ]);
    expect(encodeContext(a)).toBe(encodeContext(b));
  });

  it('rejects strings that are not base64url, empty, padded or too long', () => {
    // The header is client input: check the alphabet and size before decoding anything.
    expectInvalid('', /empty/);
    expectInvalid('AQA=', /base64url/);
    expectInvalid('AQA+', /base64url/);
    expectInvalid('A', /base64url/);
    expectInvalid('has spaces', /base64url/);
    expectInvalid('A'.repeat(8193), /more than 8192/);
  });

  it('rejects truncated, oversized and malformed binary contents', () => {
    // Each case is one byte-level defect in an otherwise well-formed context.
    const actor = [...Buffer.from('a')];
    expectInvalid(rawContext([2, 0]), /unknown format version 2/);
    expectInvalid(rawContext([1]), /truncated/);
    expectInvalid(rawContext([1, 1, 1, ...actor, 1]), /truncated/);
    expectInvalid(rawContext([1, 65]), /65 entries, more than 64/);
    expectInvalid(rawContext([1, 1, 0, 1, 1]), /empty actor/);
    expectInvalid(rawContext([1, 1, 0x81, 0x02, ...actor]), /actor is 257 bytes/);
    expectInvalid(rawContext([1, 1, 5, ...actor]), /truncated/);
    expectInvalid(rawContext([1, 1, 1, ...actor, 0, 0]), /counter 0/);
    expectInvalid(rawContext([1, 1, 1, ...actor, 1, 1, 9]), /trailing/);
    expectInvalid(rawContext([1, 1, 1, 0xff, 1, 1]), /UTF-8/);
    expectInvalid(rawContext([1, 2, 1, ...actor, 1, 1, 1, ...actor, 1, 1]), /out of order or duplicated/);
    expectInvalid(
      rawContext([1, 1, 1, ...actor, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1]),
      /too large/,
    );
    expectInvalid(rawContext([1, 1, 1, ...actor, 0x80, 0x00, 1]), /minimally/);
  });

  it('never throws anything but InvalidContextError on 5,000 random strings and mutated contexts', () => {
    // Fuzz: random base64url text, and valid contexts with one byte flipped; decode or refuse cleanly.
    const random = new Random(42);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const valid = Buffer.from(
      encodeContext(clockFrom([{ actor: URL_ACTOR, counter: 99, timeMs: 1_700_000_000_000 }])),
      'base64url',
    );
    for (let round = 0; round < 5000; round++) {
      let candidate: string;
      if (round % 2 === 0) {
        candidate = Array.from({ length: random.between(1, 80) }, () => random.pick([...alphabet])).join('');
      } else {
        const mutated = Buffer.from(valid);
        mutated[random.int(mutated.length)] = random.int(256);
        candidate = mutated.toString('base64url');
      }
      try {
        const clock = decodeContext(candidate);
        expect(decodeContext(encodeContext(clock))).toEqual(clock);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidContextError);
      }
    }
  });
});
