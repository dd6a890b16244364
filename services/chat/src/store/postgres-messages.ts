import type { Sql, SqlQueryable } from '@sysdesign/platform';
import type { AppendInput, AppendResult, MessageStore, RangeQuery, StoredMessage } from './message-store.js';

/**
 * The embedded message store: the channel's counter row is locked first, so appends to one
 * channel are serialised and the duplicate check after the lock sees every committed try with
 * the same client message id. Counter and message commit together: no gaps, no half-writes.
 */

interface MessageRow {
  id: bigint | string;
  channel_id: string;
  seq: bigint | string;
  sender_id: string;
  client_msg_id: string;
  body: string;
  created_at: bigint | string;
  edited_at: bigint | string | null;
  deleted_at: bigint | string | null;
}

const COLUMNS = 'id, channel_id, seq, sender_id, client_msg_id, body, created_at, edited_at, deleted_at';

function toMessage(row: MessageRow): StoredMessage {
  return {
    id: BigInt(row.id),
    channelId: row.channel_id,
    seq: Number(row.seq),
    senderId: row.sender_id,
    clientMsgId: row.client_msg_id,
    body: row.body,
    createdAtMs: Number(row.created_at),
    editedAtMs: row.edited_at === null ? null : Number(row.edited_at),
    deletedAtMs: row.deleted_at === null ? null : Number(row.deleted_at),
  };
}

export class PostgresMessageStore implements MessageStore {
  readonly kind = 'postgres';

  constructor(private readonly sql: Sql) {}

  append(input: AppendInput): Promise<AppendResult> {
    return this.sql.tx(async (tx) => {
      await tx.query(
        'INSERT INTO channel_sequences (channel_id, last_seq) VALUES ($1, 0) ON CONFLICT (channel_id) DO NOTHING',
        [input.channelId],
      );
      await tx.query('SELECT last_seq FROM channel_sequences WHERE channel_id = $1 FOR UPDATE', [
        input.channelId,
      ]);
      const existing = await findByClientId(tx, input);
      if (existing) return { message: existing, duplicate: true };
      const next = await tx.query<{ last_seq: bigint | string }>(
        'UPDATE channel_sequences SET last_seq = last_seq + 1 WHERE channel_id = $1 RETURNING last_seq',
        [input.channelId],
      );
      const seq = Number(next.rows[0]!.last_seq);
      const inserted = await tx.query<MessageRow>(
        `INSERT INTO messages (channel_id, seq, id, sender_id, client_msg_id, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
        [
          input.channelId,
          seq,
          input.id.toString(),
          input.senderId,
          input.clientMsgId,
          input.body,
          input.createdAtMs,
        ],
      );
      return { message: toMessage(inserted.rows[0]!), duplicate: false };
    });
  }

  async range(channelId: string, query: RangeQuery): Promise<StoredMessage[]> {
    if (query.afterSeq !== undefined) {
      const upper = query.beforeSeq ?? Number.MAX_SAFE_INTEGER;
      const result = await this.sql.query<MessageRow>(
        `SELECT ${COLUMNS} FROM messages WHERE channel_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq ASC LIMIT $4`,
        [channelId, query.afterSeq, upper, query.limit],
      );
      return result.rows.map(toMessage);
    }
    const upper = query.beforeSeq ?? Number.MAX_SAFE_INTEGER;
    const result = await this.sql.query<MessageRow>(
      `SELECT ${COLUMNS} FROM messages WHERE channel_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
      [channelId, upper, query.limit],
    );
    return result.rows.map(toMessage);
  }

  async get(channelId: string, seq: number): Promise<StoredMessage | undefined> {
    const result = await this.sql.query<MessageRow>(
      `SELECT ${COLUMNS} FROM messages WHERE channel_id = $1 AND seq = $2`,
      [channelId, seq],
    );
    const row = result.rows[0];
    return row ? toMessage(row) : undefined;
  }

  async lastSeq(channelId: string): Promise<number> {
    const result = await this.sql.query<{ last_seq: bigint | string }>(
      'SELECT last_seq FROM channel_sequences WHERE channel_id = $1',
      [channelId],
    );
    const row = result.rows[0];
    return row ? Number(row.last_seq) : 0;
  }

  async lastSeqs(channelIds: readonly string[]): Promise<Map<string, number>> {
    const seqs = new Map<string, number>(channelIds.map((channelId) => [channelId, 0]));
    if (channelIds.length === 0) return seqs;
    const result = await this.sql.query<{ channel_id: string; last_seq: bigint | string }>(
      'SELECT channel_id, last_seq FROM channel_sequences WHERE channel_id = ANY($1::text[])',
      [channelIds],
    );
    for (const row of result.rows) seqs.set(row.channel_id, Number(row.last_seq));
    return seqs;
  }

  async edit(
    channelId: string,
    seq: number,
    body: string,
    nowMs: number,
  ): Promise<StoredMessage | undefined> {
    const result = await this.sql.query<MessageRow>(
      `UPDATE messages SET body = $3, edited_at = $4 WHERE channel_id = $1 AND seq = $2 AND deleted_at IS NULL
       RETURNING ${COLUMNS}`,
      [channelId, seq, body, nowMs],
    );
    const row = result.rows[0];
    return row ? toMessage(row) : this.get(channelId, seq);
  }

  async remove(channelId: string, seq: number, nowMs: number): Promise<StoredMessage | undefined> {
    const result = await this.sql.query<MessageRow>(
      `UPDATE messages SET body = '', deleted_at = COALESCE(deleted_at, $3) WHERE channel_id = $1 AND seq = $2
       RETURNING ${COLUMNS}`,
      [channelId, seq, nowMs],
    );
    const row = result.rows[0];
    return row ? toMessage(row) : undefined;
  }

  async purgeBefore(cutoffMs: number, limit: number): Promise<number> {
    const result = await this.sql.query(
      `DELETE FROM messages WHERE ctid IN (SELECT ctid FROM messages WHERE created_at < $1 LIMIT $2)`,
      [cutoffMs, limit],
    );
    return result.rowCount;
  }

  async close(): Promise<void> {
    // The Sql handle belongs to the service's lifecycle, which closes it.
  }
}

async function findByClientId(tx: SqlQueryable, input: AppendInput): Promise<StoredMessage | undefined> {
  const result = await tx.query<MessageRow>(
    `SELECT ${COLUMNS} FROM messages WHERE channel_id = $1 AND sender_id = $2 AND client_msg_id = $3`,
    [input.channelId, input.senderId, input.clientMsgId],
  );
  const row = result.rows[0];
  return row ? toMessage(row) : undefined;
}
