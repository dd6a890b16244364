import { InvalidContextError } from './errors.js';
import { type ClockEntry, clockFrom, type VectorClock } from './vector-clock.js';

/**
 * The opaque context a client gets with a read and sends back with its next write (the kv-store's
 * `X-Context` header): base64url (no padding) of a compact binary form of the vector clock.
 *
 *   byte      format version (1)
 *   varint    number of entries
 *   entries:  varint actor length, actor (UTF-8), varint counter, varint timeMs
 *
 * Varints are unsigned LEB128. Entries are sorted by actor with no duplicates, so one clock has
 * exactly one encoding. `decodeContext` treats its input as hostile: it checks the alphabet,
 * every length against the bytes left, every bound below, and that nothing trails the last entry.
 */

const FORMAT_VERSION = 1;

export interface ContextLimits {
  /** Longest accepted encoded context, in characters. 8192 fits in Node's 16 KiB header limit. */
  maxChars: number;
  /** Most clock entries accepted (pruned clocks have 10; a merge of siblings can have more). */
  maxEntries: number;
  /** Longest actor name, in UTF-8 bytes. */
  maxActorBytes: number;
}

export const DEFAULT_CONTEXT_LIMITS: ContextLimits = Object.freeze({
  maxChars: 8192,
  maxEntries: 64,
  maxActorBytes: 256,
});

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** 8 varint bytes carry 56 bits, enough for any safe integer; a 9th byte is never valid. */
const MAX_VARINT_BYTES = 8;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeContext(clock: VectorClock): string {
  const bytes: number[] = [FORMAT_VERSION];
  writeVarint(bytes, clock.length);
  for (const entry of clock) {
    const actor = utf8.encode(entry.actor);
    writeVarint(bytes, actor.length);
    for (const byte of actor) bytes.push(byte);
    writeVarint(bytes, entry.counter);
    writeVarint(bytes, Math.max(0, Math.floor(entry.timeMs)));
  }
  return Buffer.from(bytes).toString('base64url');
}

/** The clock inside an encoded context; throws `InvalidContextError` saying what is wrong. */
export function decodeContext(encoded: string, limits: ContextLimits = DEFAULT_CONTEXT_LIMITS): VectorClock {
  if (typeof encoded !== 'string') throw new InvalidContextError('must be a string');
  if (encoded.length === 0) throw new InvalidContextError('is empty');
  if (encoded.length > limits.maxChars) {
    throw new InvalidContextError(`is ${encoded.length} characters, more than ${limits.maxChars}`);
  }
  if (!BASE64URL.test(encoded) || encoded.length % 4 === 1) {
    throw new InvalidContextError('is not base64url (A-Z a-z 0-9 - _, no padding)');
  }
  const reader = new Reader(Buffer.from(encoded, 'base64url'));
  const format = reader.byte('format version');
  if (format !== FORMAT_VERSION) throw new InvalidContextError(`has unknown format version ${format}`);
  const count = reader.varint('entry count');
  if (count > limits.maxEntries)
    throw new InvalidContextError(`has ${count} entries, more than ${limits.maxEntries}`);
  const entries: ClockEntry[] = [];
  let previousActor: string | undefined;
  for (let index = 0; index < count; index++) {
    const actorBytes = reader.varint(`entry ${index} actor length`);
    if (actorBytes === 0) throw new InvalidContextError(`entry ${index} has an empty actor`);
    if (actorBytes > limits.maxActorBytes) {
      throw new InvalidContextError(
        `entry ${index} actor is ${actorBytes} bytes, more than ${limits.maxActorBytes}`,
      );
    }
    const actor = reader.text(actorBytes, `entry ${index} actor`);
    if (previousActor !== undefined && !(previousActor < actor)) {
      throw new InvalidContextError(`entry ${index} is out of order or duplicated`);
    }
    const counter = reader.varint(`entry ${index} counter`);
    if (counter < 1) throw new InvalidContextError(`entry ${index} has counter 0`);
    const timeMs = reader.varint(`entry ${index} time`);
    entries.push({ actor, counter, timeMs });
    previousActor = actor;
  }
  if (!reader.done) throw new InvalidContextError(`has ${reader.remaining} unexpected trailing bytes`);
  return clockFrom(entries);
}

function writeVarint(bytes: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
}

class Reader {
  private offset = 0;

  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.offset === this.bytes.length;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  byte(what: string): number {
    const byte = this.bytes[this.offset];
    if (byte === undefined) throw new InvalidContextError(`is truncated (missing ${what})`);
    this.offset++;
    return byte;
  }

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let index = 0; index < MAX_VARINT_BYTES; index++) {
      const byte = this.byte(what);
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) throw new InvalidContextError(`${what} is too large`);
        if (index > 0 && byte === 0) throw new InvalidContextError(`${what} is not minimally encoded`);
        return value;
      }
      scale *= 0x80;
    }
    throw new InvalidContextError(`${what} is too large`);
  }

  text(length: number, what: string): string {
    if (length > this.remaining) throw new InvalidContextError(`is truncated (${what})`);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    try {
      return strictUtf8.decode(slice);
    } catch {
      throw new InvalidContextError(`${what} is not valid UTF-8`);
    }
  }
}

/**
 * Checks a decoded context handed to `Coordinator.put`/`delete` and returns it as a clock. The
 * usual mistake is passing the `X-Context` string itself: that is refused here, with the fix in the
 * message, instead of being stored as a version whose clock every peer rejects.
 */
export function checkContext(context: unknown, limits: ContextLimits = DEFAULT_CONTEXT_LIMITS): VectorClock {
  if (typeof context === 'string') {
    throw new InvalidContextError('is a string: decode the X-Context header with decodeContext() first');
  }
  if (!Array.isArray(context)) throw new InvalidContextError('must be a vector clock (an array of entries)');
  if (context.length > limits.maxEntries) {
    throw new InvalidContextError(`has ${context.length} entries, more than ${limits.maxEntries}`);
  }
  context.forEach(checkEntry);
  return clockFrom(context as ClockEntry[]);
}

function checkEntry(entry: unknown, index: number): void {
  if (typeof entry !== 'object' || entry === null)
    throw new InvalidContextError(`entry ${index} is not an object`);
  const { actor, counter, timeMs } = entry as Record<string, unknown>;
  if (typeof actor !== 'string' || actor.length === 0) {
    throw new InvalidContextError(`entry ${index} needs a non-empty string actor`);
  }
  if (!Number.isSafeInteger(counter) || (counter as number) < 1) {
    throw new InvalidContextError(`entry ${index} needs an integer counter >= 1`);
  }
  if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) {
    throw new InvalidContextError(`entry ${index} needs a finite timeMs`);
  }
}
