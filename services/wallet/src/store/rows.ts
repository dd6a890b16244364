import type { AccountRules, Balances, Phase } from '../domain/balance.js';

/** The ledger's records as the store hands them out, and their mapping from SQL rows. */

/** What never changes about an account: safe to cache in every replica. */
export interface AccountInfo {
  id: string;
  owner: string;
  currency: string;
  rules: AccountRules;
}

export interface Account extends AccountInfo {
  balances: Balances;
  version: bigint;
  metadata: Record<string, unknown> | null;
  createdBy: string;
  createdAt: Date;
}

export interface Transfer {
  id: string;
  kind: Phase;
  debitAccountId: string;
  creditAccountId: string;
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

export interface Entry {
  accountId: string;
  seq: bigint;
  transferId: string;
  side: 'debit' | 'credit';
  amount: bigint;
  postedAfter: bigint;
  pendingAfter: bigint;
  createdAt: Date;
}

export interface AccountRow {
  id: string;
  owner: string;
  currency: string;
  debits_must_not_exceed_credits: boolean;
  credits_must_not_exceed_debits: boolean;
  debits_posted: bigint;
  credits_posted: bigint;
  debits_pending: bigint;
  credits_pending: bigint;
  version: bigint;
  metadata: Record<string, unknown> | null;
  created_by: string;
  created_at: Date;
}

export const ACCOUNT_COLUMNS =
  'id, owner, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits, ' +
  'debits_posted, credits_posted, debits_pending, credits_pending, version, metadata, created_by, created_at';

export function balancesOf(row: AccountRow): Balances {
  return {
    debitsPosted: BigInt(row.debits_posted),
    creditsPosted: BigInt(row.credits_posted),
    debitsPending: BigInt(row.debits_pending),
    creditsPending: BigInt(row.credits_pending),
  };
}

export function accountOf(row: AccountRow): Account {
  return {
    id: row.id,
    owner: row.owner,
    currency: row.currency,
    rules: {
      debitsMustNotExceedCredits: row.debits_must_not_exceed_credits,
      creditsMustNotExceedDebits: row.credits_must_not_exceed_debits,
    },
    balances: balancesOf(row),
    version: BigInt(row.version),
    metadata: row.metadata,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

export interface TransferRow {
  id: string;
  kind: Phase;
  debit_account_id: string;
  credit_account_id: string;
  amount: bigint;
  currency: string;
  pending_id: string | null;
  reverses_id: string | null;
  batch_id: string | null;
  timeout_at: Date | null;
  memo: string | null;
  created_by: string;
  request_id: string | null;
  created_at: Date;
}

export const TRANSFER_COLUMNS =
  'id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, reverses_id, batch_id, ' +
  'timeout_at, memo, created_by, request_id, created_at';

export function transferOf(row: TransferRow): Transfer {
  return {
    id: row.id,
    kind: row.kind,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    amount: BigInt(row.amount),
    currency: row.currency,
    pendingId: row.pending_id,
    reversesId: row.reverses_id,
    batchId: row.batch_id,
    timeoutAt: row.timeout_at,
    memo: row.memo,
    createdBy: row.created_by,
    requestId: row.request_id,
    createdAt: row.created_at,
  };
}
