import type { Clock } from '@sysdesign/platform';
import { pooledRandom, type RandomSource } from './random.js';

/**
 * ULID: 48 bits of Unix milliseconds and 80 random bits, written as 26 characters of Crockford's
 * base32, so the text sorts like the time. Monotonic as the spec's `monotonicFactory`: within the
 * same millisecond (or when the clock goes back) the random part of the last ULID is incremented
 * by one instead of drawn again. An overflow of those 80 bits (2^80 ULIDs in a millisecond) is not
 * reachable in practice; the spec says to fail, and so does this.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_MAX = 2 ** 48 - 1;

export class UlidOverflowError extends Error {
  override name = 'UlidOverflowError';
}

export class UlidGenerator {
  private lastMs = -1;
  /** The 80 random bits as 16 base32 digits (5 bits each), most significant first. */
  private readonly randomDigits = new Uint8Array(16);

  constructor(
    private readonly clock: Clock = { nowMs: Date.now },
    private readonly random: RandomSource = pooledRandom(),
  ) {}

  next(): string {
    let ms = this.clock.nowMs();
    if (ms > this.lastMs) {
      const bytes = this.random(16);
      for (let index = 0; index < 16; index += 1) this.randomDigits[index] = bytes[index]! & 0x1f;
      this.lastMs = ms;
    } else {
      ms = this.lastMs;
      this.increment();
    }
    if (ms > TIME_MAX) throw new RangeError('ULID time overflow');
    return encodeTime(ms) + encodeDigits(this.randomDigits);
  }

  private increment(): void {
    for (let index = 15; index >= 0; index -= 1) {
      if (this.randomDigits[index]! < 31) {
        this.randomDigits[index]! += 1;
        return;
      }
      this.randomDigits[index] = 0;
    }
    throw new UlidOverflowError('ULID random part overflowed within one millisecond');
  }
}

function encodeTime(ms: number): string {
  let text = '';
  let rest = ms;
  for (let index = 0; index < 10; index += 1) {
    text = ALPHABET[rest % 32] + text;
    rest = Math.floor(rest / 32);
  }
  return text;
}

function encodeDigits(digits: Uint8Array): string {
  let text = '';
  for (const digit of digits) text += ALPHABET[digit];
  return text;
}

/** The millisecond timestamp of a ULID. */
export function ulidTimestamp(ulid: string): number {
  let ms = 0;
  for (const char of ulid.slice(0, 10)) ms = ms * 32 + ALPHABET.indexOf(char);
  return ms;
}
