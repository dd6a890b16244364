import type { ClockEntry, NodeId, Version } from '@sysdesign/quorum';

/**
 * How a key's sibling set is laid out in the storage engine's value bytes, and how a hint record
 * is. Binary and compact, because every replica write rewrites the key's whole set: actors (long
 * strings such as `http://kv-1:3002#1763830000`) are written once per set in a table and referred
 * to by index from every dot and clock entry.
 *
 *   set     := u8 format (1) | varint actorCount | actor* | varint versionCount | version*
 *   actor   := varint byteLength | UTF-8
 *   version := entry (the dot) | varint clockLength | entry* | u8 kind (0 tombstone, 1 value)
 *              | (value: varint byteLength | bytes)
 *   entry   := varint actorIndex | varint counter | varint timeMs
 *   hint    := u8 format (1) | varint updatedAtMs | varint ownerCount | owner* (as actor) | set
 *
 * Varints are unsigned LEB128 of safe integers. The engine checksums every record and block, so a
 * decoding failure here means a bug or a file written by something else: it throws.
 */

const SET_FORMAT = 1;
const HINT_FORMAT = 1;
const KIND_TOMBSTONE = 0;
const KIND_VALUE = 1;
const MAX_VARINT_BYTES = 8;
const INITIAL_BUFFER_BYTES = 256;

export class CorruptRecordError extends Error {
  override name = 'CorruptRecordError';
}

/** A growable byte buffer with the few writes the formats need. */
class Writer {
  private buffer = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private length = 0;

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  varint(value: number): void {
    // A record this codec could not read back would be a corrupt record of our own making.
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`cannot encode ${value}: varints hold non-negative safe integers`);
    }
    this.reserve(MAX_VARINT_BYTES);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.byteLength);
    this.reserve(value.byteLength);
    this.buffer.set(value, this.length);
    this.length += value.byteLength;
  }

  text(value: string): void {
    const maxBytes = value.length * 3;
    this.reserve(MAX_VARINT_BYTES + maxBytes);
    // Write the string after room for its length, then move it down behind the real varint.
    const start = this.length + MAX_VARINT_BYTES;
    const written = this.buffer.write(value, start, 'utf8');
    this.varint(written);
    this.buffer.copy(this.buffer, this.length, start, start + written);
    this.length += written;
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

class Reader {
  private readonly source: Buffer;
  private offset = 0;

  constructor(bytes: Uint8Array) {
    this.source = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  byte(): number {
    if (this.offset >= this.source.length) throw new CorruptRecordError('record ends early');
    return this.source[this.offset++]!;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let index = 0; index < MAX_VARINT_BYTES; index++) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) throw new CorruptRecordError('varint beyond 2^53');
        return value;
      }
      scale *= 0x80;
    }
    throw new CorruptRecordError('varint longer than 8 bytes');
  }

  bytes(): Uint8Array {
    const length = this.varint();
    if (this.offset + length > this.source.length) throw new CorruptRecordError('length beyond the record');
    const value = this.source.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  text(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }

  end(): void {
    if (this.offset !== this.source.length) throw new CorruptRecordError('bytes after the record');
  }
}

/** The bytes of a sibling set (tombstones included), in the order given. */
export function encodeVersions(versions: readonly Version[]): Uint8Array {
  const writer = new Writer();
  writer.byte(SET_FORMAT);
  writeSet(writer, versions);
  return writer.finish();
}

export function decodeVersions(bytes: Uint8Array): Version[] {
  const reader = new Reader(bytes);
  const format = reader.byte();
  if (format !== SET_FORMAT) throw new CorruptRecordError(`unknown sibling-set format ${format}`);
  const versions = readSet(reader);
  reader.end();
  return versions;
}

export interface HintRecord {
  /** Replicas still owed these versions. */
  owners: NodeId[];
  updatedAtMs: number;
  versions: Version[];
}

export function encodeHint(record: HintRecord): Uint8Array {
  const writer = new Writer();
  writer.byte(HINT_FORMAT);
  writer.varint(record.updatedAtMs);
  writer.varint(record.owners.length);
  for (const owner of record.owners) writer.text(owner);
  writeSet(writer, record.versions);
  return writer.finish();
}

export function decodeHint(bytes: Uint8Array): HintRecord {
  const reader = new Reader(bytes);
  const format = reader.byte();
  if (format !== HINT_FORMAT) throw new CorruptRecordError(`unknown hint format ${format}`);
  const updatedAtMs = reader.varint();
  const ownerCount = reader.varint();
  const owners: NodeId[] = [];
  for (let index = 0; index < ownerCount; index++) owners.push(reader.text());
  const versions = readSet(reader);
  reader.end();
  return { owners, updatedAtMs, versions };
}

function writeSet(writer: Writer, versions: readonly Version[]): void {
  const actors = new Map<string, number>();
  const indexOf = (actor: string) => {
    let index = actors.get(actor);
    if (index === undefined) {
      index = actors.size;
      actors.set(actor, index);
    }
    return index;
  };
  for (const version of versions) {
    indexOf(version.dot.actor);
    for (const entry of version.clock) indexOf(entry.actor);
  }
  writer.varint(actors.size);
  for (const actor of actors.keys()) writer.text(actor);
  writer.varint(versions.length);
  for (const version of versions) {
    writeEntry(writer, indexOf(version.dot.actor), version.dot);
    writer.varint(version.clock.length);
    for (const entry of version.clock) writeEntry(writer, indexOf(entry.actor), entry);
    if (version.value === null) writer.byte(KIND_TOMBSTONE);
    else {
      writer.byte(KIND_VALUE);
      writer.bytes(version.value);
    }
  }
}

function writeEntry(writer: Writer, actorIndex: number, entry: ClockEntry): void {
  writer.varint(actorIndex);
  writer.varint(entry.counter);
  writer.varint(Math.max(0, Math.floor(entry.timeMs)));
}

function readSet(reader: Reader): Version[] {
  const actorCount = reader.varint();
  const actors: string[] = [];
  for (let index = 0; index < actorCount; index++) actors.push(reader.text());
  const readEntry = (): ClockEntry => {
    const actor = actors[reader.varint()];
    if (actor === undefined) throw new CorruptRecordError('actor index beyond the table');
    return { actor, counter: reader.varint(), timeMs: reader.varint() };
  };
  const count = reader.varint();
  const versions: Version[] = [];
  for (let index = 0; index < count; index++) {
    const dot = readEntry();
    const clockLength = reader.varint();
    const clock: ClockEntry[] = [];
    for (let entry = 0; entry < clockLength; entry++) clock.push(readEntry());
    const kind = reader.byte();
    if (kind !== KIND_TOMBSTONE && kind !== KIND_VALUE)
      throw new CorruptRecordError(`unknown version kind ${kind}`);
    versions.push({ dot, clock, value: kind === KIND_VALUE ? reader.bytes() : null });
  }
  return versions;
}
