import { SortedSetError } from './errors.js';

/**
 * Members and keys are JavaScript strings, and Redis compares members as bytes (memcmp of their
 * UTF-8). UTF-8 byte order is code point order, which UTF-16 code unit order (`<` on strings) is
 * not: U+FF61 sorts before U+1F600 by code units (0xFF61 > 0xD83D is false... the surrogate 0xD83D
 * is smaller), but after it by bytes. `compareMembers` orders by code points without encoding.
 *
 * A lone surrogate has no UTF-8 encoding (Node writes U+FFFD for it, so two different strings
 * would become one member in Redis): such strings are refused, by both adapters.
 */

/**
 * Moves code units so that their numeric order is code point order: surrogates (which encode
 * U+10000 and above) go above U+E000..U+FFFF. Only called where two strings first differ.
 */
function codePointOrderUnit(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/** Negative, zero or positive as `a` sorts before, equal to or after `b` by UTF-8 bytes. */
export function compareMembers(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const left = a.charCodeAt(index);
    const right = b.charCodeAt(index);
    if (left !== right) return codePointOrderUnit(left) - codePointOrderUnit(right);
  }
  return a.length - b.length;
}

/** The UTF-8 length of `text` in bytes, or -1 when it holds a lone surrogate. */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit < 0xd800 || unit >= 0xe000) bytes += 3;
    else if (unit < 0xdc00) {
      const low = text.charCodeAt(index + 1);
      if (!(low >= 0xdc00 && low < 0xe000)) return -1;
      bytes += 4;
      index++;
    } else return -1;
  }
  return bytes;
}

/** The UTF-8 length of a key or member, refused when ill-formed or over `maxBytes`. */
export function checkedByteLength(what: 'key' | 'member', text: string, maxBytes: number): number {
  const bytes = utf8ByteLength(text);
  if (bytes < 0) throw new SortedSetError('ZSET_ERR_BAD_STRING', `${what} holds a lone surrogate`);
  if (bytes > maxBytes) {
    throw new SortedSetError(
      'ZSET_ERR_BAD_STRING',
      `${what} is ${bytes} bytes, over the ${maxBytes} allowed`,
    );
  }
  return bytes;
}
