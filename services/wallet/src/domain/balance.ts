import { AMOUNT_MAX } from './amount.js';
import { BalanceOverflowError, CreditLimitExceededError, InsufficientFundsError } from './errors.js';

/**
 * An account's balances as TigerBeetle keeps them: four non-negative counters. The posted balance
 * of a wallet is credits - debits; what it may still spend is that minus its pending debits.
 */
export interface Balances {
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
}

export interface AccountRules {
  /** Debits (posted and pending) may not exceed posted credits: no overdraft. */
  debitsMustNotExceedCredits: boolean;
  /** Credits (posted and pending) may not exceed posted debits: a capped liability. */
  creditsMustNotExceedDebits: boolean;
}

/**
 * single: posted at once. pending: reserved on both sides. post: a reservation becomes posted.
 * void: a reservation is released (voided by a caller or by its timeout).
 */
export type Phase = 'single' | 'pending' | 'post' | 'void';
export type Side = 'debit' | 'credit';

/** How one transfer changes one side's counters (debits of the debit account, credits of the credit one). */
export interface Delta {
  posted: bigint;
  pending: bigint;
}

export function deltaOf(phase: Phase, amount: bigint): Delta {
  switch (phase) {
    case 'single':
      return { posted: amount, pending: 0n };
    case 'pending':
      return { posted: 0n, pending: amount };
    case 'post':
      return { posted: amount, pending: -amount };
    case 'void':
      return { posted: 0n, pending: -amount };
  }
}

/** The balances after applying `delta` to `side`; refuses what the account's rules forbid. */
export function applyDelta(
  accountId: string,
  balances: Balances,
  rules: AccountRules,
  side: Side,
  delta: Delta,
): Balances {
  const next =
    side === 'debit'
      ? {
          ...balances,
          debitsPosted: balances.debitsPosted + delta.posted,
          debitsPending: balances.debitsPending + delta.pending,
        }
      : {
          ...balances,
          creditsPosted: balances.creditsPosted + delta.posted,
          creditsPending: balances.creditsPending + delta.pending,
        };
  for (const counter of [next.debitsPosted, next.creditsPosted, next.debitsPending, next.creditsPending]) {
    // Counters only go negative through a bug (a pending resolved twice): crash, never commit it.
    if (counter < 0n) throw new Error(`account ${accountId}: a balance counter would go negative`);
    if (counter > AMOUNT_MAX) throw new BalanceOverflowError();
  }
  if (side === 'debit' && rules.debitsMustNotExceedCredits && delta.posted + delta.pending > 0n) {
    if (next.debitsPosted + next.debitsPending > next.creditsPosted)
      throw new InsufficientFundsError(accountId);
  }
  if (side === 'credit' && rules.creditsMustNotExceedDebits && delta.posted + delta.pending > 0n) {
    if (next.creditsPosted + next.creditsPending > next.debitsPosted)
      throw new CreditLimitExceededError(accountId);
  }
  return next;
}

/** Credits minus debits, posted: what a wallet holds. */
export function postedBalance(balances: Balances): bigint {
  return balances.creditsPosted - balances.debitsPosted;
}

/** Pending credits minus pending debits: what is reserved in or out. */
export function pendingBalance(balances: Balances): bigint {
  return balances.creditsPending - balances.debitsPending;
}

/** What a wallet may still spend: posted balance less its reserved debits. */
export function availableBalance(balances: Balances): bigint {
  return balances.creditsPosted - balances.debitsPosted - balances.debitsPending;
}
