import { InvalidMessageError } from './errors.js';
import type { KeyVersions, LeafEntry, MemberDigest, PeerRequest, PeerResponse } from './transport.js';
import { utf8Length } from './utf8.js';
import { type ClockEntry, clockFrom, type VectorClock } from './vector-clock.js';
import type { Version } from './version.js';

/**
 * A JSON form of the peer protocol for transports that speak text (the kv-store's HTTP). Values
 * travel as base64, clocks as `[actor, counter, timeMs]` triples. `decodeRequest`/`decodeResponse`
 * take what `JSON.parse` produced from a stranger's bytes: they check every field's type and
 * bound, and throw `InvalidMessageError` naming the field; nothing unchecked reaches a replica.
 */

export interface WireLimits {
  /** Longest key, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value, in bytes. */
  maxValueBytes: number;
  /** Most versions (siblings) of one key in a message. */
  maxVersionsPerKey: number;
  /** Most keys in one store/fetch/leaf message. */
  maxItems: number;
  maxClockEntries: number;
  maxActorBytes: number;
  /** Most Merkle indexes in one request or hashes in one response. */
  maxIndexes: number;
  maxMembers: number;
  /** Longest range name or write id. */
  maxNameLength: number;
}

export const DEFAULT_WIRE_LIMITS: WireLimits = Object.freeze({
  maxKeyBytes: 1024,
  maxValueBytes: 1024 * 1024,
  maxVersionsPerKey: 64,
  maxItems: 10_000,
  maxClockEntries: 64,
  maxActorBytes: 256,
  maxIndexes: 65_536,
  maxMembers: 4096,
  maxNameLength: 256,
});

type WireEntry = [string, number, number];
interface WireVersion {
  dot: WireEntry;
  clock: WireEntry[];
  value: string | null;
}
interface WireKeyVersions {
  key: string;
  versions: WireVersion[];
}

/** A JSON-serialisable object; `JSON.stringify` it. */
export type WireMessage = Record<string, unknown>;

export function encodeRequest(request: PeerRequest): WireMessage {
  switch (request.type) {
    case 'read':
      return { type: 'read', key: request.key };
    case 'mint':
      return {
        type: 'mint',
        key: request.key,
        value: request.value === null ? null : toBase64(request.value),
        context: encodeClock(request.context),
        writeId: request.writeId,
        ...(request.hintFor === undefined ? {} : { hintFor: request.hintFor }),
      };
    case 'store':
      return {
        type: 'store',
        items: request.items.map(encodeKeyVersions),
        ...(request.hintFor === undefined ? {} : { hintFor: request.hintFor }),
      };
    default:
      return { ...request };
  }
}

export function encodeResponse(response: PeerResponse): WireMessage {
  switch (response.type) {
    case 'versions':
      return { type: 'versions', versions: response.versions.map(encodeVersion) };
    case 'minted':
      return {
        type: 'minted',
        version: encodeVersion(response.version),
        siblings: response.siblings.map(encodeVersion),
      };
    case 'fetched':
      return {
        type: 'fetched',
        items: response.items.map(encodeKeyVersions),
        skippedTombstones: response.skippedTombstones,
        truncated: response.truncated,
      };
    default:
      return { ...response };
  }
}

export function decodeRequest(json: unknown, limits: WireLimits = DEFAULT_WIRE_LIMITS): PeerRequest {
  const message = new Fields(json, 'request');
  const type = message.string('type', 32);
  switch (type) {
    case 'read':
      return { type, key: message.key('key', limits) };
    case 'mint': {
      const hintFor = message.optionalString('hintFor', limits.maxActorBytes);
      return {
        type,
        key: message.key('key', limits),
        value: message.value('value', limits),
        context: decodeClock(message.get('context'), 'context', limits),
        writeId: message.string('writeId', limits.maxNameLength),
        ...(hintFor === undefined ? {} : { hintFor }),
      };
    }
    case 'store': {
      const hintFor = message.optionalString('hintFor', limits.maxActorBytes);
      return {
        type,
        items: message
          .array('items', limits.maxItems)
          .map((item, index) => decodeKeyVersions(item, `items[${index}]`, limits)),
        ...(hintFor === undefined ? {} : { hintFor }),
      };
    }
    case 'merkle-hashes':
      return {
        type,
        range: message.string('range', limits.maxNameLength),
        depth: message.integer('depth', 0, 30),
        level: message.integer('level', 0, 30),
        indexes: message.integers('indexes', limits.maxIndexes),
      };
    case 'merkle-leaves':
      return {
        type,
        range: message.string('range', limits.maxNameLength),
        depth: message.integer('depth', 0, 30),
        leaves: message.integers('leaves', limits.maxIndexes),
        maxKeys: message.integer('maxKeys', 1, limits.maxItems),
      };
    case 'fetch':
      return {
        type,
        keys: message
          .array('keys', limits.maxItems)
          .map((key, index) => checkKey(key, `keys[${index}]`, limits)),
        maxBytes: message.integer('maxBytes', 1, Number.MAX_SAFE_INTEGER),
      };
    case 'gossip':
      return {
        type,
        from: message.string('from', limits.maxActorBytes),
        members: decodeMembers(message, limits),
      };
    default:
      throw new InvalidMessageError('request.type', `is unknown: ${JSON.stringify(type)}`);
  }
}

export function decodeResponse(json: unknown, limits: WireLimits = DEFAULT_WIRE_LIMITS): PeerResponse {
  const message = new Fields(json, 'response');
  const type = message.string('type', 32);
  switch (type) {
    case 'versions':
      return { type, versions: decodeVersions(message.get('versions'), 'versions', limits) };
    case 'minted':
      return {
        type,
        version: decodeVersion(message.get('version'), 'version', limits),
        siblings: decodeVersions(message.get('siblings'), 'siblings', limits),
      };
    case 'stored':
      return { type, count: message.integer('count', 0, Number.MAX_SAFE_INTEGER) };
    case 'hashes':
      return { type, hashes: message.integers('hashes', limits.maxIndexes) };
    case 'leaf-entries':
      return {
        type,
        entries: message
          .array('entries', limits.maxItems)
          .map((entry, index) => decodeLeafEntry(entry, index, limits)),
        truncated: message.boolean('truncated'),
      };
    case 'fetched':
      return {
        type,
        items: message
          .array('items', limits.maxItems)
          .map((item, index) => decodeKeyVersions(item, `items[${index}]`, limits)),
        skippedTombstones: message.integer('skippedTombstones', 0, Number.MAX_SAFE_INTEGER),
        truncated: message.boolean('truncated'),
      };
    case 'gossip':
      return { type, members: decodeMembers(message, limits) };
    default:
      throw new InvalidMessageError('response.type', `is unknown: ${JSON.stringify(type)}`);
  }
}

function encodeClock(clock: VectorClock): WireEntry[] {
  return clock.map((entry) => [entry.actor, entry.counter, entry.timeMs]);
}

function encodeVersion(version: Version): WireVersion {
  return {
    dot: [version.dot.actor, version.dot.counter, version.dot.timeMs],
    clock: encodeClock(version.clock),
    value: version.value === null ? null : toBase64(version.value),
  };
}

function encodeKeyVersions(item: KeyVersions): WireKeyVersions {
  return { key: item.key, versions: item.versions.map(encodeVersion) };
}

function decodeKeyVersions(json: unknown, path: string, limits: WireLimits): KeyVersions {
  const item = new Fields(json, path);
  return {
    key: item.key('key', limits),
    versions: decodeVersions(item.get('versions'), `${path}.versions`, limits),
  };
}

function decodeVersions(json: unknown, path: string, limits: WireLimits): Version[] {
  return arrayAt(json, path, limits.maxVersionsPerKey).map((version, index) =>
    decodeVersion(version, `${path}[${index}]`, limits),
  );
}

function decodeVersion(json: unknown, path: string, limits: WireLimits): Version {
  const version = new Fields(json, path);
  return {
    dot: decodeEntry(version.get('dot'), `${path}.dot`, limits),
    clock: decodeClock(version.get('clock'), `${path}.clock`, limits),
    value: version.value('value', limits),
  };
}

function decodeClock(json: unknown, path: string, limits: WireLimits): VectorClock {
  const entries = arrayAt(json, path, limits.maxClockEntries).map((entry, index) =>
    decodeEntry(entry, `${path}[${index}]`, limits),
  );
  const actors = new Set(entries.map((entry) => entry.actor));
  if (actors.size !== entries.length) throw new InvalidMessageError(path, 'has a duplicated actor');
  return clockFrom(entries);
}

function decodeEntry(json: unknown, path: string, limits: WireLimits): ClockEntry {
  const triple = arrayAt(json, path, 3);
  if (triple.length !== 3) throw new InvalidMessageError(path, 'must be [actor, counter, timeMs]');
  const [actor, counter, timeMs] = triple;
  if (typeof actor !== 'string' || actor.length === 0 || utf8Length(actor) > limits.maxActorBytes) {
    throw new InvalidMessageError(
      `${path}[0]`,
      `must be a non-empty string of at most ${limits.maxActorBytes} bytes`,
    );
  }
  return {
    actor,
    counter: integerAt(counter, `${path}[1]`, 1, Number.MAX_SAFE_INTEGER),
    timeMs: integerAt(timeMs, `${path}[2]`, 0, Number.MAX_SAFE_INTEGER),
  };
}

function decodeLeafEntry(json: unknown, index: number, limits: WireLimits): LeafEntry {
  const entry = new Fields(json, `entries[${index}]`);
  return { key: entry.key('key', limits), digest: entry.integer('digest', 0, Number.MAX_SAFE_INTEGER) };
}

function decodeMembers(message: Fields, limits: WireLimits): MemberDigest[] {
  return message.array('members', limits.maxMembers).map((json, index) => {
    const member = new Fields(json, `members[${index}]`);
    return {
      node: member.string('node', limits.maxActorBytes),
      incarnation: member.integer('incarnation', 0, Number.MAX_SAFE_INTEGER),
      heartbeat: member.integer('heartbeat', 0, Number.MAX_SAFE_INTEGER),
    };
  });
}

function checkKey(json: unknown, path: string, limits: WireLimits): string {
  if (typeof json !== 'string' || json.length === 0)
    throw new InvalidMessageError(path, 'must be a non-empty string');
  if (utf8Length(json) > limits.maxKeyBytes) {
    throw new InvalidMessageError(path, `must be at most ${limits.maxKeyBytes} bytes`);
  }
  return json;
}

function arrayAt(json: unknown, path: string, maxLength: number): unknown[] {
  if (!Array.isArray(json)) throw new InvalidMessageError(path, 'must be an array');
  if (json.length > maxLength) throw new InvalidMessageError(path, `has more than ${maxLength} items`);
  return json;
}

function integerAt(json: unknown, path: string, min: number, max: number): number {
  if (typeof json !== 'number' || !Number.isSafeInteger(json) || json < min || json > max) {
    throw new InvalidMessageError(path, `must be an integer in [${min}, ${max}]`);
  }
  return json;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Typed access to the fields of one untrusted JSON object, each failure naming its path. */
class Fields {
  private readonly object: Record<string, unknown>;

  constructor(
    json: unknown,
    readonly path: string,
  ) {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new InvalidMessageError(path, 'must be an object');
    }
    this.object = json as Record<string, unknown>;
  }

  get(name: string): unknown {
    return Object.hasOwn(this.object, name) ? this.object[name] : undefined;
  }

  string(name: string, maxLength: number): string {
    const value = this.get(name);
    if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
      throw new InvalidMessageError(
        this.at(name),
        `must be a non-empty string of at most ${maxLength} characters`,
      );
    }
    return value;
  }

  optionalString(name: string, maxLength: number): string | undefined {
    return this.get(name) === undefined ? undefined : this.string(name, maxLength);
  }

  key(name: string, limits: WireLimits): string {
    return checkKey(this.get(name), this.at(name), limits);
  }

  integer(name: string, min: number, max: number): number {
    return integerAt(this.get(name), this.at(name), min, max);
  }

  integers(name: string, maxLength: number): number[] {
    return this.array(name, maxLength).map((item, index) =>
      integerAt(item, `${this.at(name)}[${index}]`, 0, Number.MAX_SAFE_INTEGER),
    );
  }

  boolean(name: string): boolean {
    const value = this.get(name);
    if (typeof value !== 'boolean') throw new InvalidMessageError(this.at(name), 'must be a boolean');
    return value;
  }

  array(name: string, maxLength: number): unknown[] {
    return arrayAt(this.get(name), this.at(name), maxLength);
  }

  /** A base64 value or null (a tombstone). */
  value(name: string, limits: WireLimits): Uint8Array | null {
    const value = this.get(name);
    if (value === null) return null;
    const maxChars = Math.ceil(limits.maxValueBytes / 3) * 4;
    if (
      typeof value !== 'string' ||
      value.length % 4 !== 0 ||
      value.length > maxChars ||
      !BASE64.test(value)
    ) {
      throw new InvalidMessageError(
        this.at(name),
        `must be null or base64 of at most ${limits.maxValueBytes} bytes`,
      );
    }
    const bytes = Buffer.from(value, 'base64');
    if (bytes.byteLength > limits.maxValueBytes) {
      throw new InvalidMessageError(this.at(name), `must be at most ${limits.maxValueBytes} bytes`);
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private at(name: string): string {
    return `${this.path}.${name}`;
  }
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
