import cassandra from 'cassandra-driver';
import type { AppendInput, AppendResult, MessageStore, RangeQuery, StoredMessage } from './message-store.js';

/**
 * The message store on Cassandra, with Discord's layout: `messages` is partitioned by
 * (channel_id, bucket), a bucket being ten days of a channel, and clustered by the snowflake
 * message id descending, so a channel's recent history is one partition read and no partition
 * grows without bound. Three small tables make the design's promises on a store without
 * transactions:
 *
 * - `channel_seq`: the channel's counter, advanced with a lightweight transaction (compare and
 *   set on the last value), so each sequence is taken once across every instance.
 * - `client_ids`: (channel, sender, client message id) claimed with INSERT IF NOT EXISTS before a
 *   sequence is taken; a resend finds the claim and answers the stored message.
 * - `messages_by_seq`: sequence -> (bucket, message id), partitioned by (channel, sequence
 *   bucket), for resume and history by sequence.
 *
 * Two concurrent tries of the same send race on binding their sequence to the claim; the loser
 * fills the sequence it took with a tombstone, so readers see no hole. A crash between taking a
 * sequence and binding it leaves one hole; readers treat sequences as order, never as a count.
 * Retention is Cassandra's own TTL on every row (`retentionSeconds`), so `purgeBefore` has
 * nothing to do.
 */

/** Ten days of a channel per partition, as Discord buckets. */
export const TIME_BUCKET_MS = 10 * 24 * 60 * 60 * 1_000;
/** Sequences per partition of the sequence index. */
export const SEQ_BUCKET = 10_000;
/** Compare-and-set retries of the counter before giving up (each loss means another append won). */
const COUNTER_ATTEMPTS_MAX = 64;

export interface CassandraOptions {
  contactPoints: readonly string[];
  localDataCenter: string;
  keyspace: string;
  replicationFactor: number;
  /** Rows expire after this many seconds; 0 keeps them. */
  retentionSeconds?: number;
}

const Long = cassandra.types.Long;
type LongValue = InstanceType<typeof cassandra.types.Long>;

function long(value: bigint | number): LongValue {
  return Long.fromString(value.toString());
}

function numberOf(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return Number((value as LongValue).toString());
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS messages (
     channel_id text, bucket int, message_id bigint, seq bigint, sender_id text, client_msg_id text,
     body text, created_at bigint, edited_at bigint, deleted_at bigint,
     PRIMARY KEY ((channel_id, bucket), message_id)
   ) WITH CLUSTERING ORDER BY (message_id DESC)`,
  `CREATE TABLE IF NOT EXISTS messages_by_seq (
     channel_id text, seq_bucket bigint, seq bigint, bucket int, message_id bigint,
     PRIMARY KEY ((channel_id, seq_bucket), seq)
   ) WITH CLUSTERING ORDER BY (seq ASC)`,
  'CREATE TABLE IF NOT EXISTS channel_seq (channel_id text PRIMARY KEY, last_seq bigint)',
  `CREATE TABLE IF NOT EXISTS client_ids (
     channel_id text, sender_id text, client_msg_id text, message_id bigint, seq bigint,
     PRIMARY KEY ((channel_id, sender_id, client_msg_id))
   )`,
];

export async function openCassandraMessageStore(options: CassandraOptions): Promise<CassandraMessageStore> {
  const setup = new cassandra.Client({
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
  });
  try {
    await setup.connect();
    await setup.execute(
      `CREATE KEYSPACE IF NOT EXISTS ${options.keyspace} WITH replication = ` +
        `{'class': 'SimpleStrategy', 'replication_factor': ${options.replicationFactor}}`,
    );
  } finally {
    await setup.shutdown();
  }
  const client = new cassandra.Client({
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
    keyspace: options.keyspace,
  });
  await client.connect();
  for (const statement of SCHEMA) await client.execute(statement);
  return new CassandraMessageStore(client, options.retentionSeconds ?? 0);
}

interface IndexEntry {
  seq: number;
  bucket: number;
  messageId: bigint;
}

export class CassandraMessageStore implements MessageStore {
  readonly kind = 'cassandra';
  private readonly ttl: string;

  constructor(
    private readonly client: cassandra.Client,
    retentionSeconds: number,
  ) {
    this.ttl = retentionSeconds > 0 ? ` USING TTL ${Math.floor(retentionSeconds)}` : '';
  }

  private run(query: string, params: unknown[]) {
    return this.client.execute(query, params, { prepare: true });
  }

  async ping(): Promise<void> {
    await this.client.execute('SELECT release_version FROM system.local');
  }

  async append(input: AppendInput): Promise<AppendResult> {
    const claim = await this.run(
      `INSERT INTO client_ids (channel_id, sender_id, client_msg_id, message_id) VALUES (?, ?, ?, ?) IF NOT EXISTS${this.ttl}`,
      [input.channelId, input.senderId, input.clientMsgId, long(input.id)],
    );
    if (!claim.wasApplied()) {
      const existing = claim.first();
      const seq = numberOf(existing?.seq);
      if (seq !== null)
        return {
          message: await this.restore(input, BigInt(String(existing?.message_id)), seq),
          duplicate: true,
        };
      // Claimed by a try that has not bound a sequence yet (running now, or crashed): race it for one.
    }
    const seq = await this.nextSeq(input.channelId);
    const bound = await this.run(
      'UPDATE client_ids SET seq = ? WHERE channel_id = ? AND sender_id = ? AND client_msg_id = ? IF seq = null',
      [long(seq), input.channelId, input.senderId, input.clientMsgId],
    );
    if (!bound.wasApplied()) {
      // Another try of the same send bound first: fill the sequence taken here with a tombstone.
      await this.write(
        { ...input, clientMsgId: `${input.clientMsgId}#lost-${seq}`, body: '' },
        seq,
        input.createdAtMs,
      );
      const winner = bound.first();
      return {
        message: await this.restore(
          input,
          BigInt(String(winner?.message_id ?? input.id)),
          numberOf(winner?.seq) ?? seq,
        ),
        duplicate: true,
      };
    }
    const message = await this.write(input, seq, null);
    return { message, duplicate: false };
  }

  /** The stored message of an earlier try; rewritten from this try when its row never landed. */
  private async restore(input: AppendInput, messageId: bigint, seq: number): Promise<StoredMessage> {
    const found = await this.get(input.channelId, seq);
    if (found) return found;
    return this.write({ ...input, id: messageId }, seq, null);
  }

  private async write(input: AppendInput, seq: number, deletedAtMs: number | null): Promise<StoredMessage> {
    const bucket = Math.floor(input.createdAtMs / TIME_BUCKET_MS);
    await this.client.batch(
      [
        {
          query: `INSERT INTO messages (channel_id, bucket, message_id, seq, sender_id, client_msg_id, body, created_at, deleted_at)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)${this.ttl}`,
          params: [
            input.channelId,
            bucket,
            long(input.id),
            long(seq),
            input.senderId,
            input.clientMsgId,
            input.body,
            long(input.createdAtMs),
            deletedAtMs === null ? null : long(deletedAtMs),
          ],
        },
        {
          query: `INSERT INTO messages_by_seq (channel_id, seq_bucket, seq, bucket, message_id) VALUES (?, ?, ?, ?, ?)${this.ttl}`,
          params: [input.channelId, long(Math.floor(seq / SEQ_BUCKET)), long(seq), bucket, long(input.id)],
        },
      ],
      { prepare: true, logged: true },
    );
    return {
      id: input.id,
      channelId: input.channelId,
      seq,
      senderId: input.senderId,
      clientMsgId: input.clientMsgId,
      body: input.body,
      createdAtMs: input.createdAtMs,
      editedAtMs: null,
      deletedAtMs,
    };
  }

  /** Takes the channel's next sequence with compare-and-set. */
  private async nextSeq(channelId: string): Promise<number> {
    for (let attempt = 0; attempt < COUNTER_ATTEMPTS_MAX; attempt += 1) {
      const current = await this.lastSeq(channelId);
      const result =
        current === 0
          ? await this.run('INSERT INTO channel_seq (channel_id, last_seq) VALUES (?, ?) IF NOT EXISTS', [
              channelId,
              long(1),
            ])
          : await this.run('UPDATE channel_seq SET last_seq = ? WHERE channel_id = ? IF last_seq = ?', [
              long(current + 1),
              channelId,
              long(current),
            ]);
      if (result.wasApplied()) return current + 1;
    }
    throw new Error(
      `channel ${channelId}: the sequence counter stayed contended for ${COUNTER_ATTEMPTS_MAX} tries`,
    );
  }

  async lastSeq(channelId: string): Promise<number> {
    const result = await this.client.execute(
      'SELECT last_seq FROM channel_seq WHERE channel_id = ?',
      [channelId],
      {
        prepare: true,
        consistency: cassandra.types.consistencies.serial,
      },
    );
    return numberOf(result.first()?.last_seq) ?? 0;
  }

  async lastSeqs(channelIds: readonly string[]): Promise<Map<string, number>> {
    const seqs = await Promise.all(channelIds.map((channelId) => this.lastSeq(channelId)));
    return new Map(channelIds.map((channelId, index) => [channelId, seqs[index]!]));
  }

  /** Index entries in sequence order (descending with `beforeSeq` only), walking sequence buckets. */
  private async index(channelId: string, query: RangeQuery): Promise<IndexEntry[]> {
    const ascending = query.afterSeq !== undefined;
    const lower = query.afterSeq ?? 0;
    const upper = Math.min(query.beforeSeq ?? Number.MAX_SAFE_INTEGER, (await this.lastSeq(channelId)) + 1);
    const entries: IndexEntry[] = [];
    const firstBucket = Math.floor((ascending ? lower + 1 : upper - 1) / SEQ_BUCKET);
    const lastBucket = Math.floor((ascending ? upper - 1 : lower + 1) / SEQ_BUCKET);
    const step = ascending ? 1 : -1;
    for (let bucket = firstBucket; ascending ? bucket <= lastBucket : bucket >= lastBucket; bucket += step) {
      if (bucket < 0 || entries.length >= query.limit) break;
      const rows = await this.run(
        `SELECT seq, bucket, message_id FROM messages_by_seq WHERE channel_id = ? AND seq_bucket = ?
         AND seq > ? AND seq < ? ORDER BY seq ${ascending ? 'ASC' : 'DESC'} LIMIT ?`,
        [channelId, long(bucket), long(lower), long(upper), query.limit - entries.length],
      );
      for (const row of rows.rows) {
        entries.push({
          seq: numberOf(row.seq) ?? 0,
          bucket: row.bucket as number,
          messageId: BigInt(String(row.message_id)),
        });
      }
    }
    return entries;
  }

  private async load(channelId: string, entry: IndexEntry): Promise<StoredMessage | undefined> {
    const result = await this.run(
      `SELECT message_id, seq, sender_id, client_msg_id, body, created_at, edited_at, deleted_at FROM messages
       WHERE channel_id = ? AND bucket = ? AND message_id = ?`,
      [channelId, entry.bucket, long(entry.messageId)],
    );
    const row = result.first();
    if (!row) return undefined;
    return {
      id: BigInt(String(row.message_id)),
      channelId,
      seq: numberOf(row.seq) ?? entry.seq,
      senderId: row.sender_id as string,
      clientMsgId: row.client_msg_id as string,
      body: (row.body as string | null) ?? '',
      createdAtMs: numberOf(row.created_at) ?? 0,
      editedAtMs: numberOf(row.edited_at),
      deletedAtMs: numberOf(row.deleted_at),
    };
  }

  async range(channelId: string, query: RangeQuery): Promise<StoredMessage[]> {
    const entries = await this.index(channelId, query);
    const loaded = await Promise.all(entries.map((entry) => this.load(channelId, entry)));
    return loaded.filter((message): message is StoredMessage => message !== undefined);
  }

  async get(channelId: string, seq: number): Promise<StoredMessage | undefined> {
    const [entry] = await this.index(channelId, { afterSeq: seq - 1, beforeSeq: seq + 1, limit: 1 });
    return entry ? this.load(channelId, entry) : undefined;
  }

  async edit(
    channelId: string,
    seq: number,
    body: string,
    nowMs: number,
  ): Promise<StoredMessage | undefined> {
    const message = await this.get(channelId, seq);
    if (!message || message.deletedAtMs !== null) return message;
    await this.run(
      `UPDATE messages${this.ttl} SET body = ?, edited_at = ? WHERE channel_id = ? AND bucket = ? AND message_id = ?`,
      [body, long(nowMs), channelId, Math.floor(message.createdAtMs / TIME_BUCKET_MS), long(message.id)],
    );
    return { ...message, body, editedAtMs: nowMs };
  }

  async remove(channelId: string, seq: number, nowMs: number): Promise<StoredMessage | undefined> {
    const message = await this.get(channelId, seq);
    if (!message) return undefined;
    if (message.deletedAtMs !== null) return message;
    await this.run(
      `UPDATE messages${this.ttl} SET body = '', deleted_at = ? WHERE channel_id = ? AND bucket = ? AND message_id = ?`,
      [long(nowMs), channelId, Math.floor(message.createdAtMs / TIME_BUCKET_MS), long(message.id)],
    );
    return { ...message, body: '', deletedAtMs: nowMs };
  }

  async purgeBefore(): Promise<number> {
    // Rows carry their TTL (retentionSeconds): Cassandra drops them itself.
    return 0;
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }
}
