import type { Version } from '@sysdesign/quorum';
import { describe, expect, it } from 'vitest';
import {
  CorruptRecordError,
  decodeHint,
  decodeVersions,
  encodeHint,
  encodeVersions,
} from '../../src/store/version-codec.js';

/** The on-disk layout of sibling sets and hints: exact round trips, and corruption detected rather than misread. */

const actor = (node: number, incarnation = 1_795_000_000) => `http://kv-${node}:3002#${incarnation}`;

function version(
  node: number,
  counter: number,
  value: string | null,
  clock: Array<[number, number]> = [],
): Version {
  return {
    dot: { actor: actor(node), counter, timeMs: 1_795_000_000_000 + (counter % 1000) },
    clock: clock.map(([clockNode, clockCounter]) => ({
      actor: actor(clockNode),
      counter: clockCounter,
      timeMs: 2 ** 45 + clockCounter,
    })),
    value: value === null ? null : new TextEncoder().encode(value),
  };
}

describe('sibling sets', () => {
  it('round-trips siblings, tombstones, empty and binary values, unicode actors and counters up to 2^53 - 1', () => {
    // Proves every field survives encoding exactly, including the extremes of each.
    const binary = Uint8Array.from({ length: 300 }, (_, index) => index % 256);
    const versions: Version[] = [
      version(1, 1, 'milk', [[2, 7]]),
      version(2, Number.MAX_SAFE_INTEGER, null, [
        [1, 1],
        [3, 2 ** 40],
      ]),
      { ...version(3, 5, ''), dot: { actor: 'http://ключ:1#😀', counter: 5, timeMs: 0 } },
      { ...version(1, 9, null), value: binary },
    ];
    const decoded = decodeVersions(encodeVersions(versions));
    expect(decoded.map((v) => ({ ...v, value: v.value === null ? null : [...v.value] }))).toEqual(
      versions.map((v) => ({ ...v, value: v.value === null ? null : [...v.value] })),
    );
    expect(decodeVersions(encodeVersions([]))).toEqual([]);
  });

  it('writes each actor once per set, so a set costs a fraction of its JSON form', () => {
    // Proves the actor table: 3 siblings whose clocks name the same 3 actors take under a third of JSON's bytes.
    const versions = [1, 2, 3].map((node) =>
      version(node, node, 'v', [
        [1, 4],
        [2, 4],
        [3, 4],
      ]),
    );
    const json = JSON.stringify(
      versions.map((v) => ({ ...v, value: Buffer.from(v.value!).toString('base64') })),
    );
    expect(encodeVersions(versions).byteLength).toBeLessThan(json.length / 3);
  });

  it('refuses truncated, extended and mislabelled records instead of misreading them', () => {
    // Proves decoding checks every length: any cut or trailing byte is a CorruptRecordError.
    const bytes = encodeVersions([version(1, 1, 'value', [[2, 3]]), version(2, 4, null)]);
    for (let length = 0; length < bytes.length; length++) {
      expect(() => decodeVersions(bytes.subarray(0, length)), `cut at ${length}`).toThrow(CorruptRecordError);
    }
    expect(() => decodeVersions(Uint8Array.from([...bytes, 0]))).toThrow(CorruptRecordError);
    expect(() => decodeVersions(Uint8Array.from([9, ...bytes.subarray(1)]))).toThrow(/format/);
  });
});

describe('hint records', () => {
  it('round-trips owners, age and versions', () => {
    // Proves a hint keeps which replicas are still owed it and when it was last updated.
    const record = {
      owners: ['http://kv-2:3002', 'http://kv-3:3002'],
      updatedAtMs: 1_795_000_000_123,
      versions: [version(1, 3, 'x')],
    };
    const decoded = decodeHint(encodeHint(record));
    expect(decoded.owners).toEqual(record.owners);
    expect(decoded.updatedAtMs).toBe(record.updatedAtMs);
    expect(Buffer.from(decoded.versions[0]!.value!).toString()).toBe('x');
  });
});
