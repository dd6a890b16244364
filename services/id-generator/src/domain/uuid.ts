import type { Clock } from '@sysdesign/platform';
import { pooledRandom, type RandomSource } from './random.js';

/**
 * UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then randomness. Sortable by time like
 * Snowflake, but 128 bits and needing no worker id at all.
 *
 * Monotonic within a millisecond (RFC 9562 section 6.2, method 1): the 12 bits of `rand_a` and
 * the top 30 bits of `rand_b` form a 42-bit counter, seeded at random (top bit clear, leaving
 * room to count) at each new millisecond and incremented by one per UUID within it. If the
 * counter overflows, or the clock goes backwards, the timestamp of the last UUID is carried
 * forward, so every UUID this generator returns sorts after the previous one.
 *
 *    0                   1                   2                   3
 *   |           unix_ts_ms (48)             |ver| counter hi (12) |var| counter lo (30) | random (32) |
 */

const COUNTER_MAX = 2 ** 42 - 1;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export class UuidV7Generator {
  private lastMs = -1;
  private counter = 0;
  private readonly bytes = new Uint8Array(16);

  constructor(
    private readonly clock: Clock = { nowMs: Date.now },
    private readonly random: RandomSource = pooledRandom(),
  ) {}

  next(): string {
    let ms = this.clock.nowMs();
    if (ms > this.lastMs) {
      this.counter = this.seedCounter();
    } else {
      // Same millisecond, or the clock went back: stay on the last timestamp and count up.
      ms = this.lastMs;
      this.counter += 1;
      if (this.counter > COUNTER_MAX) {
        ms += 1;
        this.counter = this.seedCounter();
      }
    }
    this.lastMs = ms;
    return this.format(ms);
  }

  private seedCounter(): number {
    const seed = this.random(6);
    // 41 random bits: the counter's top bit starts clear so it can count 2^41 times in a millisecond.
    return (
      (seed[0]! & 0x01) * 2 ** 40 +
      seed[1]! * 2 ** 32 +
      ((seed[2]! << 24) >>> 0) +
      (seed[3]! << 16) +
      (seed[4]! << 8) +
      seed[5]!
    );
  }

  private format(ms: number): string {
    const bytes = this.bytes;
    const high = Math.floor(ms / 2 ** 16);
    bytes[0] = (high >>> 24) & 0xff;
    bytes[1] = (high >>> 16) & 0xff;
    bytes[2] = (high >>> 8) & 0xff;
    bytes[3] = high & 0xff;
    bytes[4] = (ms >>> 8) & 0xff;
    bytes[5] = ms & 0xff;
    const counterHigh = Math.floor(this.counter / 2 ** 30);
    const counterLow = this.counter % 2 ** 30;
    bytes[6] = 0x70 | ((counterHigh >>> 8) & 0x0f);
    bytes[7] = counterHigh & 0xff;
    bytes[8] = 0x80 | ((counterLow >>> 24) & 0x3f);
    bytes[9] = (counterLow >>> 16) & 0xff;
    bytes[10] = (counterLow >>> 8) & 0xff;
    bytes[11] = counterLow & 0xff;
    bytes.set(this.random(4), 12);
    return formatUuid(bytes);
  }
}

export function formatUuid(bytes: Uint8Array): string {
  let text = '';
  for (let index = 0; index < 16; index += 1) {
    if (index === 4 || index === 6 || index === 8 || index === 10) text += '-';
    text += HEX[bytes[index]!];
  }
  return text;
}

/** The millisecond timestamp of a UUIDv7. */
export function uuidV7Timestamp(uuid: string): number {
  return Number.parseInt(uuid.replace(/-/g, '').slice(0, 12), 16);
}
