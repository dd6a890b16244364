import type { Sql, SqlQueryable } from '@sysdesign/platform';
import type { Board, Operator, Partitioning, Ranking } from '../domain/board.js';
import type { SortOrder } from '../domain/encoding.js';
import type { Reset } from '../domain/schedule.js';

/**
 * Postgres (or PGlite): boards, each player's entry per period, the score event log and the
 * archived periods. Functions that must join the caller's transaction take its handle.
 */

interface BoardRow {
  id: string;
  sort_order: SortOrder;
  operator: Operator;
  ranking: Ranking;
  reset: Reset;
  time_zone: string;
  score_min: bigint;
  score_max: bigint;
  time_resolution_ms: number;
  created_at: bigint;
  period_start: bigint;
  partitioning: Partitioning;
  cron: string | null;
}

export interface EntryRow {
  player: string;
  score: number;
  reachedAtMs: number;
  displayName: string | null;
  subScore: number | null;
}

/** A player's standing as the log's replay gives it. */
export type ReplayedEntry = EntryRow;

export interface PeriodRow {
  periodStartMs: number;
  periodEndMs: number;
  players: number;
  archivedAtMs: number;
}

export interface ScoreEvent {
  boardId: string;
  periodStartMs: number;
  player: string;
  value: number;
  score: number;
  reachedAtMs: number;
  acceptedAtMs: number;
  idempotencyKey: string | null;
  requestHash: string | null;
}

const BOARD_COLUMNS =
  'id, sort_order, operator, ranking, reset, time_zone, score_min, score_max, time_resolution_ms, created_at, period_start, partitioning, cron';

function boardOf(row: BoardRow): Board {
  return {
    id: row.id,
    sortOrder: row.sort_order,
    operator: row.operator,
    ranking: row.ranking,
    reset: row.reset,
    timeZone: row.time_zone,
    scoreMin: Number(row.score_min),
    scoreMax: Number(row.score_max),
    timeResolutionMs: row.time_resolution_ms,
    createdAtMs: Number(row.created_at),
    periodStartMs: Number(row.period_start),
    partitioning: row.partitioning,
    cron: row.cron,
  };
}

interface EntryDbRow {
  player: string;
  score: bigint;
  reached_at: bigint;
  display_name: string | null;
  sub_score: bigint | null;
}

function entryOf(row: EntryDbRow): EntryRow {
  return {
    player: row.player,
    score: Number(row.score),
    reachedAtMs: Number(row.reached_at),
    displayName: row.display_name,
    subScore: row.sub_score === null ? null : Number(row.sub_score),
  };
}

export class BoardStore {
  constructor(readonly sql: Sql) {}

  /** Inserts the board unless its id is taken (false) or the deployment holds `boardsMax` already (null). */
  async create(board: Board, boardsMax: number): Promise<boolean | null> {
    return this.sql.tx(async (tx) => {
      // Serialises creations so two instances cannot both pass the bound.
      await tx.query('SELECT pg_advisory_xact_lock(11, 0)');
      const { rows } = await tx.query<{ count: bigint }>('SELECT count(*) AS count FROM boards');
      if (Number(rows[0]!.count) >= boardsMax) return null;
      const inserted = await tx.query(
        `INSERT INTO boards (${BOARD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (id) DO NOTHING`,
        [
          board.id,
          board.sortOrder,
          board.operator,
          board.ranking,
          board.reset,
          board.timeZone,
          board.scoreMin,
          board.scoreMax,
          board.timeResolutionMs,
          board.createdAtMs,
          board.periodStartMs,
          JSON.stringify(board.partitioning),
          board.cron,
        ],
      );
      return inserted.rowCount === 1;
    });
  }

  async get(id: string): Promise<Board | undefined> {
    return this.getIn(this.sql, id);
  }

  async getIn(queryable: SqlQueryable, id: string): Promise<Board | undefined> {
    const { rows } = await queryable.query<BoardRow>(`SELECT ${BOARD_COLUMNS} FROM boards WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? boardOf(rows[0]) : undefined;
  }

  async list(after: string, limit: number): Promise<Board[]> {
    const { rows } = await this.sql.query<BoardRow>(
      `SELECT ${BOARD_COLUMNS} FROM boards WHERE id > $1 ORDER BY id LIMIT $2`,
      [after, limit],
    );
    return rows.map(boardOf);
  }

  /**
   * Moves the board from the period at `fromMs` to the one at `toMs` and archives the finished
   * one, in one transaction; only the first caller moves it (false for the others).
   */
  async advancePeriod(
    boardId: string,
    fromMs: number,
    toMs: number,
    nowMs: number,
    endMs: number,
  ): Promise<boolean> {
    return this.sql.tx(async (tx) => {
      const moved = await tx.query(
        'UPDATE boards SET period_start = $3 WHERE id = $1 AND period_start = $2',
        [boardId, fromMs, toMs],
      );
      if (moved.rowCount !== 1) return false;
      await tx.query(
        `INSERT INTO periods (board_id, period_start, period_end, players, archived_at)
         SELECT $1, $2, $3, count(*), $4 FROM entries WHERE board_id = $1 AND period_start = $2
         ON CONFLICT DO NOTHING`,
        [boardId, fromMs, endMs, nowMs],
      );
      return true;
    });
  }

  async periods(boardId: string, limit: number): Promise<PeriodRow[]> {
    const { rows } = await this.sql.query<{
      period_start: bigint;
      period_end: bigint;
      players: number;
      archived_at: bigint;
    }>(
      `SELECT period_start, period_end, players, archived_at FROM periods
       WHERE board_id = $1 ORDER BY period_start DESC LIMIT $2`,
      [boardId, limit],
    );
    return rows.map((row) => ({
      periodStartMs: Number(row.period_start),
      periodEndMs: Number(row.period_end),
      players: row.players,
      archivedAtMs: Number(row.archived_at),
    }));
  }

  async periodExists(boardId: string, periodStartMs: number): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      'SELECT 1 FROM periods WHERE board_id = $1 AND period_start = $2',
      [boardId, periodStartMs],
    );
    return rowCount === 1;
  }

  /** Takes the board's shared lock (submissions) or exclusive lock (a rebuild) for the transaction. */
  async lockBoard(tx: SqlQueryable, boardId: string, mode: 'shared' | 'exclusive'): Promise<void> {
    const lock = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
    await tx.query(`SELECT ${lock}(12, hashtext($1))`, [boardId]);
  }

  /**
   * The player's entry, row-locked until the transaction ends (null: none yet). A player without
   * an entry gets a placeholder row inserted here, so a concurrent first submission waits on its
   * unique key instead of reading "no score" too (and both writing the same first score); the
   * transaction's `saveEntry` overwrites it, and a rollback takes it away.
   */
  async lockEntry(
    tx: SqlQueryable,
    boardId: string,
    periodStartMs: number,
    player: string,
  ): Promise<EntryRow | null> {
    const select = () =>
      tx.query<EntryDbRow>(
        `SELECT player, score, reached_at, display_name, sub_score FROM entries
         WHERE board_id = $1 AND period_start = $2 AND player = $3 FOR UPDATE`,
        [boardId, periodStartMs, player],
      );
    const found = await select();
    if (found.rows[0]) return entryOf(found.rows[0]);
    const inserted = await tx.query(
      `INSERT INTO entries (board_id, period_start, player, score, reached_at) VALUES ($1, $2, $3, 0, 0)
       ON CONFLICT (board_id, period_start, player) DO NOTHING RETURNING player`,
      [boardId, periodStartMs, player],
    );
    if (inserted.rowCount === 1) return null;
    // Another transaction created it and committed while this one waited: its score is the current one.
    const created = await select();
    return created.rows[0] ? entryOf(created.rows[0]) : null;
  }

  /** Inserts or replaces the entry (its row is locked, or absent and inserted here). */
  async saveEntry(tx: SqlQueryable, boardId: string, periodStartMs: number, entry: EntryRow): Promise<void> {
    await tx.query(
      `INSERT INTO entries (board_id, period_start, player, score, reached_at, display_name, sub_score)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (board_id, period_start, player) DO UPDATE
       SET score = $4, reached_at = $5, display_name = $6, sub_score = $7`,
      [
        boardId,
        periodStartMs,
        entry.player,
        entry.score,
        entry.reachedAtMs,
        entry.displayName,
        entry.subScore,
      ],
    );
  }

  async appendEvent(tx: SqlQueryable, event: ScoreEvent): Promise<void> {
    await tx.query(
      `INSERT INTO score_events
         (board_id, period_start, player, value, score, reached_at, accepted_at, idempotency_key, request_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        event.boardId,
        event.periodStartMs,
        event.player,
        event.value,
        event.score,
        event.reachedAtMs,
        event.acceptedAtMs,
        event.idempotencyKey,
        event.requestHash,
      ],
    );
  }

  /** The events recorded under an idempotency key prefix (a batch's items share one key). */
  async eventsOfKey(
    tx: SqlQueryable,
    boardId: string,
    key: string,
  ): Promise<{ player: string; score: number; requestHash: string | null; periodStartMs: number }[]> {
    const { rows } = await tx.query<{
      player: string;
      score: bigint;
      request_hash: string | null;
      period_start: bigint;
    }>(
      `SELECT player, score, request_hash, period_start FROM score_events
       WHERE board_id = $1 AND (idempotency_key = $2 OR idempotency_key LIKE $3) ORDER BY id`,
      [boardId, key, `${key.replace(/[\\%_]/g, (c) => `\\${c}`)}#%`],
    );
    return rows.map((row) => ({
      player: row.player,
      score: Number(row.score),
      requestHash: row.request_hash,
      periodStartMs: Number(row.period_start),
    }));
  }

  async countEntries(boardId: string, periodStartMs: number): Promise<number> {
    const { rows } = await this.sql.query<{ count: bigint }>(
      'SELECT count(*) AS count FROM entries WHERE board_id = $1 AND period_start = $2',
      [boardId, periodStartMs],
    );
    return Number(rows[0]!.count);
  }

  /**
   * One chunk of the log's replay: the last event of each player after `afterPlayer`, in player
   * order. The last event carries the score the player ended with and when it was reached; the
   * entry row adds the metadata (display name, sub-score) the index keeps beside it.
   */
  async replayChunk(
    tx: SqlQueryable,
    boardId: string,
    periodStartMs: number,
    afterPlayer: string,
    limit: number,
  ): Promise<ReplayedEntry[]> {
    const { rows } = await tx.query<{
      player: string;
      score: bigint;
      reached_at: bigint;
      display_name: string | null;
      sub_score: bigint | null;
    }>(
      `SELECT DISTINCT ON (e.player) e.player, e.score, e.reached_at, n.display_name, n.sub_score
       FROM score_events e
       LEFT JOIN entries n ON n.board_id = e.board_id AND n.period_start = e.period_start AND n.player = e.player
       WHERE e.board_id = $1 AND e.period_start = $2 AND e.player > $3
       ORDER BY e.player, e.id DESC LIMIT $4`,
      [boardId, periodStartMs, afterPlayer, limit],
    );
    return rows.map((row) => ({
      player: row.player,
      score: Number(row.score),
      reachedAtMs: Number(row.reached_at),
      displayName: row.display_name,
      subScore: row.sub_score === null ? null : Number(row.sub_score),
    }));
  }

  /** A finished (or current) period's standings from Postgres, best first, with the board's ranks. */
  async standings(
    board: Board,
    periodStartMs: number,
    offset: number,
    limit: number,
  ): Promise<(EntryRow & { rank: number })[]> {
    const direction = board.sortOrder === 'desc' ? 'DESC' : 'ASC';
    const rankFunction = { ordinal: 'row_number()', competition: 'rank()', dense: 'dense_rank()' }[
      board.ranking
    ];
    // The index's order: score, then the tick the score was reached in, then (as Redis orders
    // equal scores in a reverse range) player bytes descending.
    const ordinal = `score ${direction}, (reached_at - period_start) / ${board.timeResolutionMs} ASC, player COLLATE "C" DESC`;
    const order = board.ranking === 'ordinal' ? ordinal : `score ${direction}`;
    const { rows } = await this.sql.query<EntryDbRow & { rank: bigint }>(
      `SELECT player, score, reached_at, display_name, sub_score, ${rankFunction} OVER (ORDER BY ${order}) AS rank
       FROM entries WHERE board_id = $1 AND period_start = $2
       ORDER BY ${ordinal} OFFSET $3 LIMIT $4`,
      [board.id, periodStartMs, offset, limit],
    );
    return rows.map((row) => ({ ...entryOf(row), rank: Number(row.rank) }));
  }

  /** Deletes a player's entries and events everywhere; answers the (board, period, score) they were on. */
  async removePlayer(
    tx: SqlQueryable,
    player: string,
  ): Promise<{ boardId: string; periodStartMs: number; score: number }[]> {
    const { rows } = await tx.query<{ board_id: string; period_start: bigint; score: bigint }>(
      'DELETE FROM entries WHERE player = $1 RETURNING board_id, period_start, score',
      [player],
    );
    await tx.query('DELETE FROM score_events WHERE player = $1', [player]);
    for (const row of rows) {
      await tx.query('UPDATE periods SET players = players - 1 WHERE board_id = $1 AND period_start = $2', [
        row.board_id,
        row.period_start,
      ]);
    }
    return rows.map((row) => ({
      boardId: row.board_id,
      periodStartMs: Number(row.period_start),
      score: Number(row.score),
    }));
  }
}
