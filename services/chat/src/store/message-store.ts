/**
 * The message store port: what the design needs of the database that holds history. Two
 * adapters pass one contract suite (test/message-store.contract.ts): Postgres (PGlite embedded)
 * and Cassandra (Discord's schema). Sequences are per channel, start at 1 and have no gaps in
 * Postgres; the store, not the caller, assigns them.
 */

export interface StoredMessage {
  /** Snowflake id (time-sortable, unique across instances). */
  id: bigint;
  channelId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  /** Empty once deleted (the tombstone keeps seq, sender and times so sequences have no holes). */
  body: string;
  createdAtMs: number;
  editedAtMs: number | null;
  deletedAtMs: number | null;
}

export interface AppendInput {
  id: bigint;
  channelId: string;
  senderId: string;
  clientMsgId: string;
  body: string;
  createdAtMs: number;
}

export interface AppendResult {
  message: StoredMessage;
  /** True when (channel, sender, clientMsgId) was already stored: `message` is the first one. */
  duplicate: boolean;
}

export interface RangeQuery {
  /** Messages with seq > afterSeq, oldest first. */
  afterSeq?: number;
  /** Messages with seq < beforeSeq, newest first. */
  beforeSeq?: number;
  limit: number;
}

export interface MessageStore {
  readonly kind: 'postgres' | 'cassandra';
  /** Stores the message under the channel's next sequence, or returns the one stored by an earlier try. */
  append(input: AppendInput): Promise<AppendResult>;
  /** A page of a channel's messages; with neither bound, the newest first. */
  range(channelId: string, query: RangeQuery): Promise<StoredMessage[]>;
  get(channelId: string, seq: number): Promise<StoredMessage | undefined>;
  /** The channel's highest sequence (0 when empty). */
  lastSeq(channelId: string): Promise<number>;
  /** `lastSeq` of many channels at once (a socket opening on all of a user's channels). */
  lastSeqs(channelIds: readonly string[]): Promise<Map<string, number>>;
  /** Replaces the body; `undefined` when there is no such message. */
  edit(channelId: string, seq: number, body: string, nowMs: number): Promise<StoredMessage | undefined>;
  /** Turns the message into a tombstone; `undefined` when there is no such message. */
  remove(channelId: string, seq: number, nowMs: number): Promise<StoredMessage | undefined>;
  /** Deletes (not tombstones) up to `limit` messages created before `cutoffMs`; answers how many. */
  purgeBefore(cutoffMs: number, limit: number): Promise<number>;
  close(): Promise<void>;
}
