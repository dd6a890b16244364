import { InvalidTextError, MessageTooLargeError } from './errors.js';

/**
 * Text a user sends is stored and relayed to other users' screens, so it must be well-formed
 * Unicode (no lone surrogates, which Postgres and many clients reject) without C0 controls other
 * than tab and newline, and within a byte bound (not a character bound: storage costs bytes).
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Lone surrogates: a high one not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function checkText(text: string, field: string): void {
  if (LONE_SURROGATE.test(text) || CONTROL.test(text)) throw new InvalidTextError(field);
}

export function checkBody(body: string, bytesMax: number): void {
  checkText(body, 'body');
  if (Buffer.byteLength(body, 'utf8') > bytesMax) throw new MessageTooLargeError(bytesMax);
}
