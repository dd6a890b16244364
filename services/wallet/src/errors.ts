import { defineProblems, Problem } from '@sysdesign/platform';
import { BadAmountError } from './domain/amount.js';
import { UnknownCurrencyError } from './domain/currency.js';
import {
  AccountNotFoundError,
  BadCursorError,
  BalanceOverflowError,
  BatchItemError,
  ContentionError,
  CreditLimitExceededError,
  CurrencyMismatchError,
  IdempotencyConflictError,
  InsufficientFundsError,
  NotAccountOwnerError,
  NotReversibleError,
  PendingExpiredError,
  PendingNotOpenError,
  SelfTransferError,
  TransferNotFoundError,
} from './domain/errors.js';
import { OverloadedError } from './store/gate.js';

/** The wallet's stable error codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  WALLET_ERR_ACCOUNT_NOT_FOUND: { status: 404, title: 'Account not found' },
  WALLET_ERR_TRANSFER_NOT_FOUND: { status: 404, title: 'Transfer not found' },
  WALLET_ERR_NOT_OWNER: { status: 403, title: 'Not your account' },
  WALLET_ERR_BAD_AMOUNT: { status: 400, title: 'Invalid amount' },
  WALLET_ERR_UNKNOWN_CURRENCY: { status: 400, title: 'Unknown currency' },
  WALLET_ERR_CURRENCY_MISMATCH: { status: 422, title: 'Currency differs from the account' },
  WALLET_ERR_SELF_TRANSFER: { status: 422, title: 'Transfer to the same account' },
  WALLET_ERR_INSUFFICIENT_FUNDS: { status: 422, title: 'Insufficient funds' },
  WALLET_ERR_CREDIT_LIMIT: { status: 422, title: 'Credit limit exceeded' },
  WALLET_ERR_BALANCE_OVERFLOW: { status: 422, title: 'Balance overflow' },
  WALLET_ERR_PENDING_NOT_OPEN: { status: 409, title: 'Pending transfer not open' },
  WALLET_ERR_PENDING_EXPIRED: { status: 409, title: 'Pending transfer expired' },
  WALLET_ERR_NOT_REVERSIBLE: { status: 409, title: 'Transfer cannot be reversed' },
  WALLET_ERR_IDEMPOTENCY_CONFLICT: { status: 409, title: 'Idempotency-Key reused with another request' },
  WALLET_ERR_CONTENTION: { status: 503, title: 'Accounts too contended' },
  WALLET_ERR_BAD_CURSOR: { status: 400, title: 'Invalid cursor' },
  WALLET_ERR_OVERLOADED: { status: 503, title: 'Too many transactions waiting' },
});

/** The domain's typed errors as problems; anything else goes to the platform's mapping. */
export function mapWalletError(error: unknown): Problem | undefined {
  if (error instanceof BatchItemError) {
    const problem = mapRefusal(error.cause);
    if (!problem) return undefined;
    // The item's own code, with the batch's detail and the index of the refused item.
    return new Problem(problem.code, problem.status, problem.title, error.message, {
      ...problem.extensions,
      index: error.index,
    });
  }
  return mapRefusal(error);
}

function mapRefusal(error: unknown): Problem | undefined {
  if (error instanceof AccountNotFoundError) return errors.WALLET_ERR_ACCOUNT_NOT_FOUND(error.message);
  if (error instanceof TransferNotFoundError) return errors.WALLET_ERR_TRANSFER_NOT_FOUND(error.message);
  if (error instanceof NotAccountOwnerError) return errors.WALLET_ERR_NOT_OWNER(error.message);
  if (error instanceof BadAmountError)
    return errors.WALLET_ERR_BAD_AMOUNT(error.message, { field: error.field });
  if (error instanceof UnknownCurrencyError)
    return errors.WALLET_ERR_UNKNOWN_CURRENCY(error.message, { field: 'currency' });
  if (error instanceof CurrencyMismatchError) return errors.WALLET_ERR_CURRENCY_MISMATCH(error.message);
  if (error instanceof SelfTransferError) return errors.WALLET_ERR_SELF_TRANSFER(error.message);
  if (error instanceof InsufficientFundsError) return errors.WALLET_ERR_INSUFFICIENT_FUNDS(error.message);
  if (error instanceof CreditLimitExceededError) return errors.WALLET_ERR_CREDIT_LIMIT(error.message);
  if (error instanceof BalanceOverflowError) return errors.WALLET_ERR_BALANCE_OVERFLOW(error.message);
  if (error instanceof PendingNotOpenError)
    return errors.WALLET_ERR_PENDING_NOT_OPEN(error.message, { state: error.state });
  if (error instanceof PendingExpiredError) return errors.WALLET_ERR_PENDING_EXPIRED(error.message);
  if (error instanceof NotReversibleError) return errors.WALLET_ERR_NOT_REVERSIBLE(error.message);
  if (error instanceof IdempotencyConflictError) return errors.WALLET_ERR_IDEMPOTENCY_CONFLICT(error.message);
  if (error instanceof ContentionError)
    return errors.WALLET_ERR_CONTENTION(error.message, { attempts: error.attempts }, { 'retry-after': '1' });
  if (error instanceof OverloadedError)
    return errors.WALLET_ERR_OVERLOADED(error.message, { queueMax: error.queueMax }, { 'retry-after': '1' });
  if (error instanceof BadCursorError)
    return errors.WALLET_ERR_BAD_CURSOR(error.message, { field: 'cursor' });
  return undefined;
}
