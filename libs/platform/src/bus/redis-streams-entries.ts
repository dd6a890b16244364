import { type BusHeaders, type BusMessage, MESSAGE_ID_HEADER } from './port.js';
import { ENTRY_FIELDS, offsetOfEntryId, timestampOfEntryId } from './redis-streams-keys.js';

/**
 * Replies of Redis stream commands, read defensively: an entry the bus did not write is reported
 * as such, never thrown at a partition loop.
 */

export interface StreamEntry {
  id: string;
  /** Null when retention trimmed the entry after it was delivered. */
  fields: string[] | null;
}

/** XREADGROUP's reply as entries per stream key; anything unexpected is dropped. */
export function entriesOf(reply: unknown): Map<string, StreamEntry[]> {
  const result = new Map<string, StreamEntry[]>();
  if (!Array.isArray(reply)) return result;
  for (const stream of reply) {
    if (!Array.isArray(stream) || typeof stream[0] !== 'string' || !Array.isArray(stream[1])) continue;
    const entries: StreamEntry[] = [];
    for (const raw of stream[1] as unknown[]) {
      if (!Array.isArray(raw) || typeof raw[0] !== 'string') continue;
      const fields = Array.isArray(raw[1]) ? raw[1].map(String) : null;
      entries.push({ id: raw[0], fields });
    }
    result.set(stream[0], entries);
  }
  return result;
}

export function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let index = 0; index + 1 < fields.length; index += 2)
    if (fields[index] === name) return fields[index + 1];
  return undefined;
}

/** Headers as written by this bus: a JSON object of strings. Throws on anything else. */
function parseHeaders(json: string): BusHeaders {
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('headers not an object');
  const headers: BusHeaders = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw new Error(`header ${name} is not a string`);
    headers[name] = value;
  }
  return headers;
}

/** The message an entry carries, or undefined when the entry is not one this bus wrote. */
export function messageOfEntry(
  topic: string,
  partition: number,
  entryId: string,
  fields: readonly string[],
): Omit<BusMessage, 'attempt'> | undefined {
  const valueJson = fieldOf(fields, ENTRY_FIELDS.value);
  const headersJson = fieldOf(fields, ENTRY_FIELDS.headers);
  if (valueJson === undefined) return undefined;
  let value: unknown;
  let headers: BusHeaders;
  try {
    value = JSON.parse(valueJson);
    headers = headersJson === undefined ? {} : parseHeaders(headersJson);
  } catch {
    return undefined;
  }
  const offset = offsetOfEntryId(entryId);
  return {
    topic,
    key: fieldOf(fields, ENTRY_FIELDS.key) ?? '',
    value,
    headers,
    partition,
    offset,
    timestamp: timestampOfEntryId(entryId),
    id: headers[MESSAGE_ID_HEADER] ?? `${topic}/${partition}/${offset}`,
  };
}

/** A flat `[name, value, name, value...]` reply (XINFO) as a map. */
export function fieldMap(reply: unknown): Map<string, unknown> {
  const map = new Map<string, unknown>();
  if (!Array.isArray(reply)) return map;
  for (let index = 0; index + 1 < reply.length; index += 2) map.set(String(reply[index]), reply[index + 1]);
  return map;
}

/** NOGROUP: the stream or its group is gone (a flushed or restarted Redis). */
export function isMissingGroup(error: unknown): boolean {
  return String((error as Error | undefined)?.message).startsWith('NOGROUP');
}
