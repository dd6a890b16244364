/** The ledger's refusals as typed errors; `errors.ts` at the top maps each to a problem. */

/** A request the ledger refuses (as opposed to a bug or a backend failure). */
export class WalletRefusal extends Error {}

export class AccountNotFoundError extends WalletRefusal {
  constructor(readonly accountId: string) {
    super(`account ${JSON.stringify(accountId)} does not exist`);
  }
}

export class TransferNotFoundError extends WalletRefusal {
  constructor(readonly transferId: string) {
    super(`transfer ${JSON.stringify(transferId)} does not exist`);
  }
}

/** The caller may not move money out of (or read) this account; told apart from "missing" only to operators. */
export class NotAccountOwnerError extends WalletRefusal {
  constructor(readonly accountId: string) {
    super(`account ${JSON.stringify(accountId)} is not yours`);
  }
}

export class CurrencyMismatchError extends WalletRefusal {
  constructor(
    readonly accountId: string,
    readonly accountCurrency: string,
    readonly transferCurrency: string,
  ) {
    super(
      `account ${JSON.stringify(accountId)} holds ${accountCurrency}, the transfer is in ${transferCurrency}`,
    );
  }
}

export class SelfTransferError extends WalletRefusal {
  constructor(readonly accountId: string) {
    super(`a transfer needs two different accounts; both are ${JSON.stringify(accountId)}`);
  }
}

export class InsufficientFundsError extends WalletRefusal {
  constructor(readonly accountId: string) {
    super(`account ${JSON.stringify(accountId)} has too little available for this transfer`);
  }
}

export class CreditLimitExceededError extends WalletRefusal {
  constructor(readonly accountId: string) {
    super(`account ${JSON.stringify(accountId)} may not be credited past its posted debits`);
  }
}

export class BalanceOverflowError extends WalletRefusal {
  constructor() {
    super('the transfer would take a balance past 2^63 - 1 minor units');
  }
}

export class PendingNotOpenError extends WalletRefusal {
  constructor(
    readonly transferId: string,
    readonly state: 'posted' | 'voided' | 'not-pending',
  ) {
    super(
      state === 'not-pending'
        ? `transfer ${JSON.stringify(transferId)} is not a pending transfer`
        : `pending transfer ${JSON.stringify(transferId)} is already ${state}`,
    );
  }
}

export class PendingExpiredError extends WalletRefusal {
  constructor(readonly transferId: string) {
    super(`pending transfer ${JSON.stringify(transferId)} passed its timeout and is voided`);
  }
}

export class NotReversibleError extends WalletRefusal {
  constructor(
    readonly transferId: string,
    readonly reason: string,
  ) {
    super(`transfer ${JSON.stringify(transferId)} cannot be reversed: ${reason}`);
  }
}

export class IdempotencyConflictError extends WalletRefusal {
  constructor(readonly key: string) {
    super(`Idempotency-Key ${JSON.stringify(key)} was used with a different request`);
  }
}

/** Retries ran out under contention (optimistic conflicts, deadlocks, serialization failures). */
export class ContentionError extends WalletRefusal {
  constructor(readonly attempts: number) {
    super(`the accounts are contended: gave up after ${attempts} attempts; retry later`);
  }
}

export class BadCursorError extends WalletRefusal {
  constructor() {
    super('the cursor is not one this list issued');
  }
}

/** A refusal of one transfer of a linked batch: the whole batch was rolled back. */
export class BatchItemError extends WalletRefusal {
  constructor(
    readonly index: number,
    override readonly cause: Error,
  ) {
    super(`transfer ${index} of the linked batch was refused, so none was applied: ${cause.message}`);
  }
}
