import type { Sql, SqlQueryable } from '@sysdesign/platform';
import { deltaOf, type Phase } from '../domain/balance.js';
import { IdempotencyConflictError } from '../domain/errors.js';
import type { BalanceMover, LegResult } from './locking.js';
import {
  ACCOUNT_COLUMNS,
  type Account,
  type AccountInfo,
  type AccountRow,
  accountOf,
  type Entry,
  TRANSFER_COLUMNS,
  type Transfer,
  type TransferRow,
  transferOf,
} from './rows.js';

/**
 * The ledger's SQL: accounts, transfers with their two entries, open reservations, and
 * Idempotency-Key records. Writes take the transaction they run in; the Ledger above decides
 * what runs together and retries what contention rolled back.
 */

export interface NewAccount {
  id: string;
  owner: string;
  currency: string;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
  metadata: Record<string, unknown> | null;
  createdBy: string;
  createdAt: Date;
}

export interface NewTransfer {
  id: string;
  phase: Phase;
  debit: AccountInfo;
  credit: AccountInfo;
  amount: bigint;
  currency: string;
  pendingId: string | null;
  reversesId: string | null;
  batchId: string | null;
  timeoutAt: Date | null;
  memo: string | null;
  createdBy: string;
  requestId: string | null;
  createdAt: Date;
}

export interface StoredAnswer {
  status: number;
  body: unknown;
}

export class LedgerStore {
  constructor(
    readonly sql: Sql,
    readonly mover: BalanceMover,
  ) {}

  async insertAccount(tx: SqlQueryable, account: NewAccount): Promise<Account> {
    const { rows } = await tx.query<AccountRow>(
      `INSERT INTO accounts (id, owner, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
                             metadata, created_by, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${ACCOUNT_COLUMNS}`,
      [
        account.id,
        account.owner,
        account.currency,
        account.debitsMustNotExceedCredits,
        account.creditsMustNotExceedDebits,
        account.metadata === null ? null : JSON.stringify(account.metadata),
        account.createdBy,
        account.createdAt,
      ],
    );
    return accountOf(rows[0]!);
  }

  async account(id: string, tx: SqlQueryable = this.sql): Promise<Account | undefined> {
    const { rows } = await tx.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? accountOf(rows[0]) : undefined;
  }

  /** Accounts of one owner, in id order, after `afterId`. */
  async accountsOf(owner: string, afterId: string, limit: number): Promise<Account[]> {
    const { rows } = await this.sql.query<AccountRow>(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE owner = $1 AND id > $2 ORDER BY id LIMIT $3`,
      [owner, afterId, limit],
    );
    return rows.map(accountOf);
  }

  async transfer(id: string, tx: SqlQueryable = this.sql): Promise<Transfer | undefined> {
    const { rows } = await tx.query<TransferRow>(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? transferOf(rows[0]) : undefined;
  }

  /** The post or void that resolved a pending transfer, if any. */
  async resolutionOf(pendingId: string, tx: SqlQueryable = this.sql): Promise<Transfer | undefined> {
    const { rows } = await tx.query<TransferRow>(
      `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE pending_id = $1`,
      [pendingId],
    );
    return rows[0] ? transferOf(rows[0]) : undefined;
  }

  /** The reversal of a transfer, if any. */
  async reversalOf(transferId: string): Promise<Transfer | undefined> {
    const { rows } = await this.sql.query<TransferRow>(
      `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE reverses_id = $1`,
      [transferId],
    );
    return rows[0] ? transferOf(rows[0]) : undefined;
  }

  /**
   * Moves the balances of both accounts (under the configured locking mode), then records the
   * transfer and its two entries in one statement. A pending transfer also opens a reservation.
   */
  async apply(tx: SqlQueryable, transfer: NewTransfer): Promise<Transfer> {
    const delta = deltaOf(transfer.phase, transfer.amount);
    const legs = await this.mover.move(tx, [
      { accountId: transfer.debit.id, side: 'debit', delta, rules: transfer.debit.rules },
      { accountId: transfer.credit.id, side: 'credit', delta, rules: transfer.credit.rules },
    ]);
    const { rows } = await tx.query<TransferRow>(
      `WITH t AS (
         INSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, currency, pending_id,
                                reverses_id, batch_id, timeout_at, memo, created_by, request_id, created_at)
         VALUES ($1, $2, $3, $4, $5::int8, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         RETURNING ${TRANSFER_COLUMNS}
       ), e AS (
         INSERT INTO entries (account_id, seq, transfer_id, side, amount, posted_after, pending_after, created_at)
         SELECT v.account_id, v.seq, $1, v.side, $5::int8, v.posted_after, v.pending_after, $14
           FROM unnest($15::text[], $16::int8[], $17::text[], $18::int8[], $19::int8[])
             AS v(account_id, seq, side, posted_after, pending_after)
       )
       SELECT * FROM t`,
      [
        transfer.id,
        transfer.phase,
        transfer.debit.id,
        transfer.credit.id,
        transfer.amount.toString(),
        transfer.currency,
        transfer.pendingId,
        transfer.reversesId,
        transfer.batchId,
        transfer.timeoutAt,
        transfer.memo,
        transfer.createdBy,
        transfer.requestId,
        transfer.createdAt,
        ...entryColumns(legs),
      ],
    );
    if (transfer.phase === 'pending') {
      await tx.query('INSERT INTO pending_open (transfer_id, timeout_at) VALUES ($1, $2)', [
        transfer.id,
        transfer.timeoutAt,
      ]);
    }
    return transferOf(rows[0]!);
  }

  /**
   * Closes a reservation for whoever resolves it: deleting the row locks it, so of a post, a void
   * and the timeout sweeper racing for one pending transfer exactly one gets its deadline back.
   */
  async takeOpenPending(tx: SqlQueryable, pendingId: string): Promise<Date | undefined> {
    const { rows } = await tx.query<{ timeout_at: Date }>(
      'DELETE FROM pending_open WHERE transfer_id = $1 RETURNING timeout_at',
      [pendingId],
    );
    return rows[0]?.timeout_at;
  }

  /** Reservations past their deadline, locked for this transaction; others' locked ones are skipped. */
  async takeExpired(tx: SqlQueryable, now: Date, limit: number): Promise<string[]> {
    const { rows } = await tx.query<{ transfer_id: string }>(
      `DELETE FROM pending_open WHERE transfer_id IN (
         SELECT transfer_id FROM pending_open WHERE timeout_at <= $1 ORDER BY timeout_at LIMIT $2
         FOR UPDATE SKIP LOCKED)
       RETURNING transfer_id`,
      [now, limit],
    );
    return rows.map((row) => row.transfer_id);
  }

  /** The entries of one account in sequence order, after `afterSeq`. */
  async entries(accountId: string, afterSeq: bigint, limit: number): Promise<Entry[]> {
    const { rows } = await this.sql.query<{
      account_id: string;
      seq: bigint;
      transfer_id: string;
      side: 'debit' | 'credit';
      amount: bigint;
      posted_after: bigint;
      pending_after: bigint;
      created_at: Date;
    }>(
      `SELECT account_id, seq, transfer_id, side, amount, posted_after, pending_after, created_at
         FROM entries WHERE account_id = $1 AND seq > $2::int8 ORDER BY seq LIMIT $3`,
      [accountId, afterSeq.toString(), limit],
    );
    return rows.map((row) => ({
      accountId: row.account_id,
      seq: BigInt(row.seq),
      transferId: row.transfer_id,
      side: row.side,
      amount: BigInt(row.amount),
      postedAfter: BigInt(row.posted_after),
      pendingAfter: BigInt(row.pending_after),
      createdAt: row.created_at,
    }));
  }

  /**
   * Claims an Idempotency-Key for this transaction, or answers what the first request with it got.
   * A concurrent holder of the same key makes this insert wait until it commits (then its answer is
   * read) or rolls back (then this one claims the key): the same key applies once.
   */
  async claimKey(
    tx: SqlQueryable,
    caller: string,
    key: string,
    hash: string,
  ): Promise<StoredAnswer | undefined> {
    const claimed = await tx.query(
      `INSERT INTO idempotency_keys (caller, key, request_hash) VALUES ($1, $2, $3)
       ON CONFLICT (caller, key) DO NOTHING`,
      [caller, key, hash],
    );
    if (claimed.rowCount === 1) return undefined;
    const { rows } = await tx.query<{ request_hash: string; status: number; response: unknown }>(
      'SELECT request_hash, status, response FROM idempotency_keys WHERE caller = $1 AND key = $2',
      [caller, key],
    );
    const stored = rows[0]!;
    if (stored.request_hash !== hash) throw new IdempotencyConflictError(key);
    return { status: stored.status, body: stored.response };
  }

  async recordAnswer(tx: SqlQueryable, caller: string, key: string, answer: StoredAnswer): Promise<void> {
    await tx.query('UPDATE idempotency_keys SET status = $3, response = $4 WHERE caller = $1 AND key = $2', [
      caller,
      key,
      answer.status,
      JSON.stringify(answer.body),
    ]);
  }

  /** Forgets keys older than `before`, at most `limit` of them; answers how many. */
  async forgetKeys(before: Date, limit: number): Promise<number> {
    const { rowCount } = await this.sql.query(
      `DELETE FROM idempotency_keys WHERE (caller, key) IN (
         SELECT caller, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`,
      [before, limit],
    );
    return rowCount;
  }
}

function entryColumns(legs: readonly LegResult[]): unknown[] {
  return [
    legs.map((leg) => leg.accountId),
    legs.map((leg) => leg.version.toString()),
    legs.map((leg) => leg.side),
    legs.map((leg) => leg.posted.toString()),
    legs.map((leg) => leg.pending.toString()),
  ];
}
