import { BadCursorError } from './errors.js';

/**
 * Feed order. Every sorted set (home feeds, author timelines) and every Postgres fallback page
 * orders posts by (score, id) descending, where the score is the snowflake id's millisecond and
 * sequence packed into 53 bits (exact as a double, which a raw 63-bit id is not) and members are
 * the id as 19 fixed-width digits, so Redis's tie order (member bytes) is the ids' numeric order.
 */

export const SNOWFLAKE_TIME_SHIFT = 22n;
export const SNOWFLAKE_SEQUENCE_BITS = 12n;
const SEQUENCE_MASK = (1n << SNOWFLAKE_SEQUENCE_BITS) - 1n;
const ID_DIGITS = 19;
/** The largest id a signed 64-bit column holds: the id half of an "everything at this score" bound. */
export const ID_MAX = (1n << 63n) - 1n;

/** A position in a feed: items strictly after it (older) come next. */
export interface FeedPosition {
  score: number;
  id: bigint;
}

/** The 53-bit score of a Snowflake (41 ms | 5 dc | 5 worker | 12 seq) id: ms and sequence, no node. */
export function scoreOfId(id: bigint): number {
  const ms = id >> SNOWFLAKE_TIME_SHIFT;
  const sequence = id & SEQUENCE_MASK;
  return Number((ms << SNOWFLAKE_SEQUENCE_BITS) | sequence);
}

export function memberOfId(id: bigint): string {
  return id.toString().padStart(ID_DIGITS, '0');
}

export function idOfMember(member: string): bigint {
  return BigInt(member);
}

/** a before b in the feed (newer first). */
export function isBefore(a: FeedPosition, b: FeedPosition): boolean {
  return a.score > b.score || (a.score === b.score && a.id > b.id);
}

/** The older of two positions: the one further down the feed. */
export function lowerOf(a: FeedPosition, b: FeedPosition): FeedPosition {
  return isBefore(a, b) ? b : a;
}

const CURSOR_VERSION = 'f1';
const CURSOR_MAX_CHARS = 128;

/**
 * The opaque cursor: the last item's (score, id). It names a position, not an offset, so it stays
 * valid and stable while new posts arrive above it, and it reads the same on every replica.
 */
export function encodeCursor(position: FeedPosition): string {
  return Buffer.from(`${CURSOR_VERSION}.${position.score}.${position.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): FeedPosition {
  if (cursor.length === 0 || cursor.length > CURSOR_MAX_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor))
    throw new BadCursorError('the cursor is not one this service issued');
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^f1\.(\d{1,16})\.(\d{1,19})$/.exec(text);
  if (match === null) throw new BadCursorError('the cursor is not one this service issued');
  const score = Number(match[1]);
  const id = BigInt(match[2]!);
  if (!Number.isSafeInteger(score) || id > ID_MAX || scoreOfId(id) !== score)
    throw new BadCursorError('the cursor is not one this service issued');
  return { score, id };
}
