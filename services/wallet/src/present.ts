import { availableBalance, pendingBalance, postedBalance } from './domain/balance.js';
import { exponentOf } from './domain/currency.js';
import type { Account, Entry, Transfer } from './store/rows.js';

/**
 * The JSON views of the ledger's records. Amounts and counters are decimal strings (they pass
 * 2^53); each record carries its currency's exponent so a client can place the decimal point.
 * An Idempotency-Key's stored answer is exactly this JSON, so a replay is byte-for-byte the same.
 */

export function accountView(account: Account) {
  const { balances } = account;
  return {
    id: account.id,
    owner: account.owner,
    currency: account.currency,
    exponent: exponentOf(account.currency),
    flags: account.rules,
    balances: {
      posted: postedBalance(balances).toString(),
      pending: pendingBalance(balances).toString(),
      available: availableBalance(balances).toString(),
      debitsPosted: balances.debitsPosted.toString(),
      creditsPosted: balances.creditsPosted.toString(),
      debitsPending: balances.debitsPending.toString(),
      creditsPending: balances.creditsPending.toString(),
    },
    version: account.version.toString(),
    metadata: account.metadata,
    createdBy: account.createdBy,
    createdAt: account.createdAt.toISOString(),
  };
}

export type AccountView = ReturnType<typeof accountView>;

export function transferView(transfer: Transfer) {
  return {
    id: transfer.id,
    kind: transfer.kind,
    debitAccountId: transfer.debitAccountId,
    creditAccountId: transfer.creditAccountId,
    amount: transfer.amount.toString(),
    currency: transfer.currency,
    exponent: exponentOf(transfer.currency),
    pendingId: transfer.pendingId,
    reversesId: transfer.reversesId,
    batchId: transfer.batchId,
    timeoutAt: transfer.timeoutAt?.toISOString() ?? null,
    memo: transfer.memo,
    createdBy: transfer.createdBy,
    requestId: transfer.requestId,
    createdAt: transfer.createdAt.toISOString(),
  };
}

export type TransferView = ReturnType<typeof transferView>;

export function entryView(entry: Entry) {
  return {
    seq: entry.seq.toString(),
    transferId: entry.transferId,
    side: entry.side,
    amount: entry.amount.toString(),
    balance: { posted: entry.postedAfter.toString(), pending: entry.pendingAfter.toString() },
    createdAt: entry.createdAt.toISOString(),
  };
}
