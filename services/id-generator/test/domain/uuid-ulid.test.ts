import { describe, expect, it } from 'vitest';
import { UlidGenerator, ulidTimestamp } from '../../src/domain/ulid.js';
import { UuidV7Generator, uuidV7Timestamp } from '../../src/domain/uuid.js';

const fixedClock = (ms: number) => ({ nowMs: () => ms });
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('UUIDv7 (RFC 9562)', () => {
  it('sets version 7 and the RFC variant, and carries the millisecond timestamp', () => {
    const now = Date.UTC(2026, 10, 22, 12, 0, 0, 123);
    const uuid = new UuidV7Generator(fixedClock(now)).next();
    expect(uuid).toMatch(UUID_V7);
    expect(uuidV7Timestamp(uuid)).toBe(now);
  });

  it('stays strictly increasing for 100,000 UUIDs within one millisecond', () => {
    // Monotonic counter method: the same millisecond must never reorder or repeat.
    const generator = new UuidV7Generator(fixedClock(1_800_000_000_000));
    let previous = '';
    for (let index = 0; index < 100_000; index += 1) {
      const uuid = generator.next();
      if (uuid <= previous) throw new Error(`${uuid} after ${previous}`);
      previous = uuid;
    }
  });

  it('keeps increasing when the clock moves backwards', () => {
    let now = 1_800_000_000_000;
    const generator = new UuidV7Generator({ nowMs: () => now });
    const before = generator.next();
    now -= 5_000;
    const after = generator.next();
    expect(after > before).toBe(true);
    expect(uuidV7Timestamp(after)).toBe(1_800_000_000_000);
  });

  it('moves to the next millisecond when the 42-bit counter overflows', () => {
    // 2^41 increments would take too long, so the counter is set just below its limit.
    const generator = new UuidV7Generator(fixedClock(1_000));
    const first = generator.next();
    expect(uuidV7Timestamp(first)).toBe(1_000);
    (generator as unknown as { counter: number }).counter = 2 ** 42 - 1;
    const overflowed = generator.next();
    expect(uuidV7Timestamp(overflowed)).toBe(1_001);
    expect(overflowed > first).toBe(true);
  });
});

describe('ULID', () => {
  const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

  it('is 26 Crockford base32 characters with the millisecond timestamp up front', () => {
    const now = Date.UTC(2026, 10, 22, 12, 0, 0, 0);
    const ulid = new UlidGenerator(fixedClock(now)).next();
    expect(ulid).toMatch(ULID);
    expect(ulidTimestamp(ulid)).toBe(now);
  });

  it('sorts in generation order within one millisecond (monotonic factory)', () => {
    const generator = new UlidGenerator(fixedClock(1_800_000_000_000));
    const ulids = Array.from({ length: 50_000 }, () => generator.next());
    expect(new Set(ulids).size).toBe(50_000);
    expect([...ulids].sort()).toEqual(ulids);
  });

  it('fails rather than wrap when the 80 random bits are exhausted', () => {
    const allMax = (bytes: number) => new Uint8Array(bytes).fill(0x1f);
    const generator = new UlidGenerator(fixedClock(1_000), allMax);
    generator.next();
    expect(() => generator.next()).toThrow(/overflowed/);
  });
});
