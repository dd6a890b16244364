import type { Sql, SqlQueryable } from '@sysdesign/platform';
import {
  applyDelta,
  type Balances,
  deltaOf,
  type Phase,
  pendingBalance,
  postedBalance,
} from '../domain/balance.js';
import { BatchItemError, IdempotencyConflictError, WalletRefusal } from '../domain/errors.js';
import { type BalanceMover, type LegResult, lockForBatch } from './locking.js';
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
   * A linked batch as a handful of statements whatever its length: lock every account it touches
   * (in id order), run its transfers in order against the balances in memory (the domain's rules,
   * the first refusal names its index), then write the final balances, the transfers and their
   * entries in one statement each. The locks make the in-memory run the truth under every mode.
   */
  async applyBatch(tx: SqlQueryable, transfers: readonly NewTransfer[]): Promise<Transfer[]> {
    const state = await lockForBatch(
      tx,
      transfers.flatMap((transfer) => [transfer.debit.id, transfer.credit.id]),
    );
    const entries: EntryRow[] = [];
    for (const [index, transfer] of transfers.entries()) {
      const delta = deltaOf(transfer.phase, transfer.amount);
      for (const [side, account] of [
        ['debit', transfer.debit],
        ['credit', transfer.credit],
      ] as const) {
        const current = state.get(account.id)!;
        try {
          current.balances = applyDelta(account.id, current.balances, account.rules, side, delta);
        } catch (error) {
          if (error instanceof WalletRefusal) throw new BatchItemError(index, error);
          throw error;
        }
        current.version += 1n;
        entries.push({
          accountId: account.id,
          seq: current.version,
          transferId: transfer.id,
          side,
          amount: transfer.amount,
          postedAfter: postedBalance(current.balances),
          pendingAfter: pendingBalance(current.balances),
          createdAt: transfer.createdAt,
        });
      }
    }
    await writeBalances(tx, state);
    const { rows } = await tx.query<TransferRow>(
      `INSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, currency, pending_id,
                              reverses_id, batch_id, timeout_at, memo, created_by, request_id, created_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[],
                            $8::text[], $9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::text[],
                            $14::timestamptz[])
       RETURNING ${TRANSFER_COLUMNS}`,
      [
        transfers.map((transfer) => transfer.id),
        transfers.map((transfer) => transfer.phase),
        transfers.map((transfer) => transfer.debit.id),
        transfers.map((transfer) => transfer.credit.id),
        transfers.map((transfer) => transfer.amount.toString()),
        transfers.map((transfer) => transfer.currency),
        transfers.map((transfer) => transfer.pendingId),
        transfers.map((transfer) => transfer.reversesId),
        transfers.map((transfer) => transfer.batchId),
        transfers.map((transfer) => transfer.timeoutAt?.toISOString() ?? null),
        transfers.map((transfer) => transfer.memo),
        transfers.map((transfer) => transfer.createdBy),
        transfers.map((transfer) => transfer.requestId),
        transfers.map((transfer) => transfer.createdAt.toISOString()),
      ],
    );
    await tx.query(
      `INSERT INTO entries (account_id, seq, transfer_id, side, amount, posted_after, pending_after, created_at)
       SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[],
                            $8::timestamptz[])`,
      [
        entries.map((entry) => entry.accountId),
        entries.map((entry) => entry.seq.toString()),
        entries.map((entry) => entry.transferId),
        entries.map((entry) => entry.side),
        entries.map((entry) => entry.amount.toString()),
        entries.map((entry) => entry.postedAfter.toString()),
        entries.map((entry) => entry.pendingAfter.toString()),
        entries.map((entry) => entry.createdAt.toISOString()),
      ],
    );
    const pending = transfers.filter((transfer) => transfer.phase === 'pending');
    if (pending.length > 0) {
      await tx.query(
        'INSERT INTO pending_open (transfer_id, timeout_at) SELECT * FROM unnest($1::text[], $2::timestamptz[])',
        [
          pending.map((transfer) => transfer.id),
          pending.map((transfer) => transfer.timeoutAt!.toISOString()),
        ],
      );
    }
    const byId = new Map(rows.map((row) => [row.id, transferOf(row)]));
    return transfers.map((transfer) => byId.get(transfer.id)!);
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

type EntryRow = Entry;

/** Absolute balances of accounts this transaction holds locked. */
async function writeBalances(
  tx: SqlQueryable,
  state: Map<string, { balances: Balances; version: bigint }>,
): Promise<void> {
  const accounts = [...state.entries()];
  await tx.query(
    `UPDATE accounts a SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dq,
            credits_pending = v.cq, version = v.ver
       FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[]) AS v(id, dp, cp, dq, cq, ver)
      WHERE a.id = v.id`,
    [
      accounts.map(([id]) => id),
      accounts.map(([, { balances }]) => balances.debitsPosted.toString()),
      accounts.map(([, { balances }]) => balances.creditsPosted.toString()),
      accounts.map(([, { balances }]) => balances.debitsPending.toString()),
      accounts.map(([, { balances }]) => balances.creditsPending.toString()),
      accounts.map(([, { version }]) => version.toString()),
    ],
  );
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
