/**
 * Base62 (0-9, a-z, A-Z): the alphabet of short codes. Seven characters hold 62^7 ≈ 3.5 trillion
 * codes; a 64-bit snowflake id needs at most eleven.
 */

export const BASE62_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const BASE = 62n;

/** The base62 text of a non-negative integer, most significant digit first (`0` for zero). */
export function encodeBase62(value: bigint): string {
  if (value < 0n) throw new RangeError('base62 encodes non-negative integers only');
  if (value === 0n) return '0';
  let rest = value;
  let text = '';
  while (rest > 0n) {
    text = BASE62_ALPHABET[Number(rest % BASE)]! + text;
    rest /= BASE;
  }
  return text;
}

/** The integer a base62 text stands for; throws on a character outside the alphabet. */
export function decodeBase62(text: string): bigint {
  if (text.length === 0) throw new RangeError('empty base62 text');
  let value = 0n;
  for (const character of text) {
    const digit = BASE62_ALPHABET.indexOf(character);
    if (digit === -1) throw new RangeError(`${JSON.stringify(character)} is not a base62 digit`);
    value = value * BASE + BigInt(digit);
  }
  return value;
}

/** `value` in exactly `length` base62 digits: left-padded with zeros, reduced modulo 62^length. */
export function fixedBase62(value: bigint, length: number): string {
  const reduced = value % BASE ** BigInt(length);
  return encodeBase62(reduced).padStart(length, '0');
}
