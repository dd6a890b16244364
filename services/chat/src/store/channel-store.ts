import { type Sql, sqlStateOf } from '@sysdesign/platform';

const FOREIGN_KEY_VIOLATION = '23503';

/**
 * Channels, members, read pointers and device cursors: small, relational, always in Postgres
 * (PGlite embedded), whichever store holds the messages.
 */

export interface Channel {
  id: string;
  kind: 'direct' | 'group';
  name: string | null;
  createdBy: string;
  createdAtMs: number;
}

export interface Membership {
  channel: Channel;
  readSeq: number;
}

interface ChannelRow {
  id: string;
  kind: 'direct' | 'group';
  name: string | null;
  created_by: string;
  created_at: bigint | string;
}

function toChannel(row: ChannelRow): Channel {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    createdBy: row.created_by,
    createdAtMs: Number(row.created_at),
  };
}

export interface AckUpdate {
  userId: string;
  deviceId: string;
  channelId: string;
  seq: number;
}

export class ChannelStore {
  constructor(private readonly sql: Sql) {}

  /** Creates the channel with its first members; answers false when the id already exists. */
  async create(channel: Channel, memberIds: readonly string[]): Promise<boolean> {
    return this.sql.tx(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO channels (id, kind, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING`,
        [channel.id, channel.kind, channel.name, channel.createdBy, channel.createdAtMs],
      );
      if (inserted.rowCount === 0) return false;
      await tx.query(
        `INSERT INTO channel_members (channel_id, user_id, joined_at)
         SELECT $1, member, $3 FROM unnest($2::text[]) AS member ON CONFLICT DO NOTHING`,
        [channel.id, memberIds, channel.createdAtMs],
      );
      return true;
    });
  }

  async get(channelId: string): Promise<Channel | undefined> {
    const result = await this.sql.query<ChannelRow>('SELECT * FROM channels WHERE id = $1', [channelId]);
    const row = result.rows[0];
    return row ? toChannel(row) : undefined;
  }

  /** The member's view of the channel, or undefined when not a member (or no such channel). */
  async membership(channelId: string, userId: string): Promise<Membership | undefined> {
    const result = await this.sql.query<ChannelRow & { read_seq: bigint | string }>(
      `SELECT c.*, m.read_seq FROM channels c JOIN channel_members m ON m.channel_id = c.id
       WHERE c.id = $1 AND m.user_id = $2`,
      [channelId, userId],
    );
    const row = result.rows[0];
    return row ? { channel: toChannel(row), readSeq: Number(row.read_seq) } : undefined;
  }

  async channelsOf(userId: string, limit: number): Promise<Membership[]> {
    const result = await this.sql.query<ChannelRow & { read_seq: bigint | string }>(
      `SELECT c.*, m.read_seq FROM channel_members m JOIN channels c ON c.id = m.channel_id
       WHERE m.user_id = $1 ORDER BY c.id LIMIT $2`,
      [userId, limit],
    );
    return result.rows.map((row) => ({ channel: toChannel(row), readSeq: Number(row.read_seq) }));
  }

  async countChannelsOf(userId: string): Promise<number> {
    const result = await this.sql.query<{ count: bigint | string }>(
      'SELECT count(*) AS count FROM channel_members WHERE user_id = $1',
      [userId],
    );
    return Number(result.rows[0]!.count);
  }

  /** Members after `afterUserId` (a cursor), in id order. */
  async members(channelId: string, afterUserId: string, limit: number): Promise<string[]> {
    const result = await this.sql.query<{ user_id: string }>(
      'SELECT user_id FROM channel_members WHERE channel_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3',
      [channelId, afterUserId, limit],
    );
    return result.rows.map((row) => row.user_id);
  }

  async memberCount(channelId: string): Promise<number> {
    const result = await this.sql.query<{ count: bigint | string }>(
      'SELECT count(*) AS count FROM channel_members WHERE channel_id = $1',
      [channelId],
    );
    return Number(result.rows[0]!.count);
  }

  /**
   * Adds a member unless the channel already holds `membersMax`; the channel row is locked so two
   * joins at once cannot both take the last place. Answers 'added', 'present' or 'full'.
   */
  async addMember(
    channelId: string,
    userId: string,
    membersMax: number,
    nowMs: number,
  ): Promise<'added' | 'present' | 'full'> {
    return this.sql.tx(async (tx) => {
      await tx.query('SELECT id FROM channels WHERE id = $1 FOR UPDATE', [channelId]);
      const present = await tx.query('SELECT 1 FROM channel_members WHERE channel_id = $1 AND user_id = $2', [
        channelId,
        userId,
      ]);
      if (present.rowCount > 0) return 'present';
      const count = await tx.query<{ count: bigint | string }>(
        'SELECT count(*) AS count FROM channel_members WHERE channel_id = $1',
        [channelId],
      );
      if (Number(count.rows[0]!.count) >= membersMax) return 'full';
      await tx.query('INSERT INTO channel_members (channel_id, user_id, joined_at) VALUES ($1, $2, $3)', [
        channelId,
        userId,
        nowMs,
      ]);
      return 'added';
    });
  }

  async removeMember(channelId: string, userId: string): Promise<boolean> {
    const result = await this.sql.query(
      'DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2',
      [channelId, userId],
    );
    await this.sql.query('DELETE FROM device_cursors WHERE channel_id = $1 AND user_id = $2', [
      channelId,
      userId,
    ]);
    return result.rowCount > 0;
  }

  /** Moves the read pointer forward (never back); answers the pointer after the call. */
  async markRead(channelId: string, userId: string, seq: number): Promise<number | undefined> {
    const result = await this.sql.query<{ read_seq: bigint | string }>(
      `UPDATE channel_members SET read_seq = GREATEST(read_seq, $3) WHERE channel_id = $1 AND user_id = $2
       RETURNING read_seq`,
      [channelId, userId, seq],
    );
    const row = result.rows[0];
    return row ? Number(row.read_seq) : undefined;
  }

  /** Each member's read pointer (read receipts for a page of members). */
  async readPointers(channelId: string, afterUserId: string, limit: number): Promise<Map<string, number>> {
    const result = await this.sql.query<{ user_id: string; read_seq: bigint | string }>(
      `SELECT user_id, read_seq FROM channel_members WHERE channel_id = $1 AND user_id > $2
       ORDER BY user_id LIMIT $3`,
      [channelId, afterUserId, limit],
    );
    return new Map(result.rows.map((row) => [row.user_id, Number(row.read_seq)]));
  }

  /** Writes acknowledged sequences (never moving a cursor back); rows of channels left meanwhile are skipped. */
  async saveAcks(updates: readonly AckUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    try {
      await this.sql.query(
        `INSERT INTO device_cursors (user_id, device_id, channel_id, acked_seq)
         SELECT u.user_id, u.device_id, u.channel_id, u.acked_seq
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(user_id, device_id, channel_id, acked_seq)
         JOIN channel_members m ON m.channel_id = u.channel_id AND m.user_id = u.user_id
         ON CONFLICT (user_id, device_id, channel_id)
         DO UPDATE SET acked_seq = GREATEST(device_cursors.acked_seq, EXCLUDED.acked_seq)`,
        [
          updates.map((update) => update.userId),
          updates.map((update) => update.deviceId),
          updates.map((update) => update.channelId),
          updates.map((update) => update.seq),
        ],
      );
    } catch (error) {
      // A channel deleted between the ack and the flush: its cursors have no row to point to.
      if (sqlStateOf(error) !== FOREIGN_KEY_VIOLATION) throw error;
    }
  }

  async deviceCursors(userId: string, deviceId: string): Promise<Map<string, number>> {
    const result = await this.sql.query<{ channel_id: string; acked_seq: bigint | string }>(
      'SELECT channel_id, acked_seq FROM device_cursors WHERE user_id = $1 AND device_id = $2',
      [userId, deviceId],
    );
    return new Map(result.rows.map((row) => [row.channel_id, Number(row.acked_seq)]));
  }

  /** Records a push the notifier made; a redelivered event records nothing twice. */
  async recordPush(
    userId: string,
    channelId: string,
    seq: number,
    preview: string,
    nowMs: number,
  ): Promise<boolean> {
    const result = await this.sql.query(
      `INSERT INTO push_log (user_id, channel_id, message_seq, preview, recorded_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING`,
      [userId, channelId, seq, preview, nowMs],
    );
    return result.rowCount > 0;
  }

  async pushesFor(
    userId: string,
    limit: number,
  ): Promise<{ channelId: string; seq: number; preview: string }[]> {
    const result = await this.sql.query<{
      channel_id: string;
      message_seq: bigint | string;
      preview: string;
    }>('SELECT channel_id, message_seq, preview FROM push_log WHERE user_id = $1 ORDER BY id LIMIT $2', [
      userId,
      limit,
    ]);
    return result.rows.map((row) => ({
      channelId: row.channel_id,
      seq: Number(row.message_seq),
      preview: row.preview,
    }));
  }
}
