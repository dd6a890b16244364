import { describe, expect, it } from 'vitest';
import {
  clockFrom,
  InvalidMessageError,
  type PeerRequest,
  type PeerResponse,
  type Version,
} from '../src/index.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../src/wire.js';

const clock = clockFrom([
  { actor: 'http://127.0.0.1:3002#1', counter: 3, timeMs: 1_700_000_000_000 },
  { actor: 'http://127.0.0.1:3021#1', counter: 1, timeMs: 1_700_000_000_001 },
]);
const version: Version = {
  dot: { actor: 'http://127.0.0.1:3022#4', counter: 9, timeMs: 1_700_000_000_002 },
  clock,
  value: new Uint8Array([0, 1, 2, 250, 255]),
};
const tombstone: Version = { ...version, dot: { ...version.dot, counter: 10 }, value: null };

const roundTrip = <T>(encode: (message: T) => unknown, decode: (json: unknown) => T, message: T): T =>
  decode(JSON.parse(JSON.stringify(encode(message))));

describe('wire codec', () => {
  it('round-trips every request and response type through JSON', () => {
    // What the kv-store's HTTP transport does: encode, stringify, parse, decode.
    const requests: PeerRequest[] = [
      { type: 'read', key: 'user:42' },
      { type: 'mint', key: 'k', value: version.value, context: clock, writeId: 'w-1', hintFor: 'http://b' },
      { type: 'mint', key: 'k', value: null, context: [], writeId: 'w-2' },
      { type: 'store', items: [{ key: 'k', versions: [version, tombstone] }] },
      { type: 'store', items: [], hintFor: 'http://c' },
      { type: 'merkle-hashes', range: 'p3', depth: 10, level: 4, indexes: [0, 15] },
      { type: 'merkle-leaves', range: 'p3', depth: 10, leaves: [1, 1023], maxKeys: 100 },
      { type: 'fetch', keys: ['a', 'b'], maxBytes: 65_536 },
      { type: 'gossip', from: 'http://a', members: [{ node: 'http://a', incarnation: 2, heartbeat: 17 }] },
    ];
    for (const request of requests) expect(roundTrip(encodeRequest, decodeRequest, request)).toEqual(request);
    const responses: PeerResponse[] = [
      { type: 'versions', versions: [version, tombstone] },
      { type: 'minted', version, siblings: [version] },
      { type: 'stored', count: 2 },
      { type: 'hashes', hashes: [0, 2 ** 52 - 1] },
      { type: 'leaf-entries', entries: [{ key: 'a', digest: 12345 }], truncated: true },
      {
        type: 'fetched',
        items: [{ key: 'a', versions: [tombstone] }],
        skippedTombstones: 3,
        truncated: false,
      },
      { type: 'gossip', members: [] },
    ];
    for (const response of responses)
      expect(roundTrip(encodeResponse, decodeResponse, response)).toEqual(response);
  });

  it('names the offending field of a malformed request', () => {
    // Each case breaks one field; the error says which, so a 400 can name it.
    const cases: Array<[unknown, RegExp]> = [
      [null, /request must be an object/],
      [[], /request must be an object/],
      [{ type: 'nope' }, /request\.type is unknown/],
      [{ type: 'read' }, /request\.key must be a non-empty string/],
      [{ type: 'read', key: 'k'.repeat(1025) }, /request\.key must be at most 1024 bytes/],
      [{ type: 'read', key: 'é'.repeat(513) }, /at most 1024 bytes/],
      [
        { type: 'mint', key: 'k', value: 'not base64!', context: [], writeId: 'w' },
        /request\.value must be null or base64/,
      ],
      [
        { type: 'mint', key: 'k', value: null, context: [['a', 0, 1]], writeId: 'w' },
        /context\[0\]\[1\] must be an integer/,
      ],
      [
        {
          type: 'mint',
          key: 'k',
          value: null,
          context: [
            ['a', 1, 1],
            ['a', 2, 1],
          ],
          writeId: 'w',
        },
        /duplicated actor/,
      ],
      [
        { type: 'mint', key: 'k', value: null, context: [['a', 1]], writeId: 'w' },
        /must be \[actor, counter, timeMs\]/,
      ],
      [
        { type: 'mint', key: 'k', value: null, context: [], writeId: '' },
        /writeId must be a non-empty string/,
      ],
      [
        { type: 'store', items: [{ key: 'k', versions: [{ dot: ['a', 1, 1], clock: [], value: 5 }] }] },
        /items\[0\]\.versions\[0\]\.value/,
      ],
      [{ type: 'store', items: 'x' }, /request\.items must be an array/],
      [
        { type: 'merkle-hashes', range: 'r', depth: 99, level: 0, indexes: [] },
        /depth must be an integer in \[0, 30\]/,
      ],
      [{ type: 'merkle-hashes', range: 'r', depth: 4, level: 0, indexes: [-1] }, /indexes\[0\]/],
      [{ type: 'fetch', keys: ['a'], maxBytes: 0 }, /maxBytes/],
      [
        { type: 'gossip', from: 'a', members: [{ node: 'b', incarnation: 1.5, heartbeat: 0 }] },
        /members\[0\]\.incarnation/,
      ],
    ];
    for (const [json, message] of cases) {
      expect(() => decodeRequest(json), JSON.stringify(json).slice(0, 80)).toThrow(message);
      try {
        decodeRequest(json);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidMessageError);
      }
    }
  });

  it('enforces the size limits: value bytes, siblings per key, items per message', () => {
    // Limits are what keep a hostile or buggy peer from making a replica allocate without bound.
    const limits = {
      maxKeyBytes: 8,
      maxValueBytes: 4,
      maxVersionsPerKey: 1,
      maxItems: 2,
      maxClockEntries: 1,
      maxActorBytes: 4,
      maxIndexes: 2,
      maxMembers: 1,
      maxNameLength: 4,
    };
    const encodedVersion = (value: string) => ({ dot: ['a', 1, 0], clock: [], value });
    expect(() =>
      decodeRequest({ type: 'store', items: [{ key: 'k', versions: [encodedVersion('AAAAAAAA')] }] }, limits),
    ).toThrow(/at most 4 bytes/);
    expect(() =>
      decodeRequest(
        { type: 'store', items: [{ key: 'k', versions: [encodedVersion('AA=='), encodedVersion('AA==')] }] },
        limits,
      ),
    ).toThrow(/more than 1 items/);
    expect(() => decodeRequest({ type: 'fetch', keys: ['a', 'b', 'c'], maxBytes: 1 }, limits)).toThrow(
      /more than 2 items/,
    );
    expect(() =>
      decodeRequest(
        { type: 'mint', key: 'k', value: null, context: [['toolong', 1, 0]], writeId: 'w' },
        limits,
      ),
    ).toThrow(/at most 4 bytes/);
    expect(
      decodeRequest({ type: 'store', items: [{ key: 'k', versions: [encodedVersion('AAAA')] }] }, limits),
    ).toEqual({
      type: 'store',
      items: [
        {
          key: 'k',
          versions: [{ dot: { actor: 'a', counter: 1, timeMs: 0 }, clock: [], value: new Uint8Array(3) }],
        },
      ],
    });
  });

  it('ignores inherited properties and does not let __proto__ through', () => {
    // JSON.parse makes "__proto__" an own property; it must not become a field or a prototype.
    const hostile = JSON.parse('{"type":"read","key":"k","__proto__":{"hintFor":"x"}}');
    const decoded = decodeRequest(hostile);
    expect(decoded).toEqual({ type: 'read', key: 'k' });
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });
});
