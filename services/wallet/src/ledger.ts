import { randomUUID } from 'node:crypto';
import { type SqlQueryable, SqlState, sqlStateOf } from '@sysdesign/platform';
import type { Phase } from './domain/balance.js';
import { exponentOf } from './domain/currency.js';
import {
  AccountNotFoundError,
  BalanceOverflowError,
  BatchItemError,
  ContentionError,
  CurrencyMismatchError,
  NotAccountOwnerError,
  NotReversibleError,
  PendingExpiredError,
  PendingNotOpenError,
  SelfTransferError,
  TransferNotFoundError,
  WalletRefusal,
} from './domain/errors.js';
import { requestHash } from './domain/idempotency.js';
import { accountView, type TransferView, transferView } from './present.js';
import { type ConservationReport, checkConservation } from './store/conservation.js';
import type { TransactionGate } from './store/gate.js';
import type { LedgerStore, NewTransfer } from './store/ledger-store.js';
import { OptimisticConflictError } from './store/locking.js';
import type { Account, AccountInfo, Entry, Transfer } from './store/rows.js';

/**
 * The ledger's use cases: who may do what, which accounts a transfer touches, what runs in one
 * transaction, Idempotency-Keys, and retries of what contention rolled back. The SQL is in the
 * store; the balance arithmetic in the domain.
 */

export interface Caller {
  id: string;
  operator: boolean;
  requestId?: string | undefined;
}

export interface TransferRequest {
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  currency: string;
  /** Set: a pending transfer that reserves the amount until posted, voided or timed out. */
  pendingTimeoutMs?: number | undefined;
  memo?: string | undefined;
}

export interface AccountRequest {
  owner: string;
  currency: string;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
  metadata?: Record<string, unknown> | undefined;
}

export interface Answer<Body> {
  body: Body;
  /** True when an Idempotency-Key matched an earlier request and its answer was returned. */
  replayed: boolean;
}

export type RetryReason = 'optimistic_conflict' | 'deadlock' | 'serialization_failure';

export interface LedgerObserver {
  transfer(
    kind: Phase | 'batch' | 'reversal',
    outcome: 'applied' | 'refused' | 'replayed',
    durationMs: number,
  ): void;
  retry(reason: RetryReason): void;
  contentionExhausted(): void;
  expired(count: number): void;
}

export interface LedgerOptions {
  store: LedgerStore;
  observer: LedgerObserver;
  nowMs: () => number;
  /** Attempts of one transaction that contention rolled back, before ContentionError. */
  attemptsMax: number;
  /** Immutable account attributes (owner, currency, rules) kept in memory. */
  accountCacheMax: number;
  /** Bounds the transactions in flight (below the connection pool) and those waiting for one. */
  gate: TransactionGate;
}

const RETRY_BACKOFF_MS_MAX = 50;
const NUMERIC_OUT_OF_RANGE = '22003';

export class Ledger {
  private readonly store: LedgerStore;
  private readonly infos = new Map<string, AccountInfo>();

  constructor(private readonly options: LedgerOptions) {
    this.store = options.store;
  }

  get mode() {
    return this.store.mover.mode;
  }

  async createAccount(caller: Caller, request: AccountRequest, key?: string): Promise<Answer<unknown>> {
    exponentOf(request.currency);
    return this.idempotent(caller, key, 'create-account', request, async (tx) => {
      const account = await this.store.insertAccount(tx, {
        id: randomUUID(),
        owner: request.owner,
        currency: request.currency,
        debitsMustNotExceedCredits: request.debitsMustNotExceedCredits,
        creditsMustNotExceedDebits: request.creditsMustNotExceedDebits,
        metadata: request.metadata ?? null,
        createdBy: caller.id,
        createdAt: new Date(this.options.nowMs()),
      });
      return accountView(account);
    });
  }

  /** The account, to its owner or an operator; to anyone else it does not exist. */
  async account(caller: Caller, id: string): Promise<Account> {
    const account = await this.store.account(id);
    if (!account || (!caller.operator && account.owner !== caller.id)) throw new AccountNotFoundError(id);
    return account;
  }

  async accountsOf(caller: Caller, owner: string, afterId: string, limit: number): Promise<Account[]> {
    if (!caller.operator && owner !== caller.id) return [];
    return this.store.accountsOf(owner, afterId, limit);
  }

  async entries(caller: Caller, accountId: string, afterSeq: bigint, limit: number): Promise<Entry[]> {
    await this.account(caller, accountId);
    return this.store.entries(accountId, afterSeq, limit);
  }

  /** The transfer, to the owner of either of its accounts or an operator. */
  async transfer(caller: Caller, id: string): Promise<Transfer> {
    const transfer = await this.store.transfer(id);
    if (!transfer) throw new TransferNotFoundError(id);
    if (!caller.operator) {
      const [debit, credit] = await Promise.all([
        this.info(transfer.debitAccountId),
        this.info(transfer.creditAccountId),
      ]);
      if (debit.owner !== caller.id && credit.owner !== caller.id) throw new TransferNotFoundError(id);
    }
    return transfer;
  }

  async createTransfer(
    caller: Caller,
    request: TransferRequest,
    key?: string,
  ): Promise<Answer<TransferView>> {
    const started = performance.now();
    const kind = request.pendingTimeoutMs === undefined ? 'single' : 'pending';
    try {
      const planned = await this.plan(caller, request);
      const answer = await this.idempotent(caller, key, 'transfer', request, async (tx) =>
        transferView(await this.store.apply(tx, this.newTransfer(caller, planned, request, null))),
      );
      this.observe(kind, answer.replayed ? 'replayed' : 'applied', started);
      return answer;
    } catch (error) {
      this.observe(kind, 'refused', started);
      throw error;
    }
  }

  /** A linked batch: every transfer applies, in order, in one transaction, or none does. */
  async createBatch(
    caller: Caller,
    requests: readonly TransferRequest[],
    key?: string,
  ): Promise<Answer<{ batchId: string; transfers: TransferView[] }>> {
    const started = performance.now();
    try {
      const planned: { debit: AccountInfo; credit: AccountInfo }[] = [];
      for (const [index, request] of requests.entries()) {
        planned.push(await this.plan(caller, request).catch(inBatch(index)));
      }
      const answer = await this.idempotent(caller, key, 'batch', requests, async (tx) => {
        const batchId = randomUUID();
        const transfers = requests.map((request, index) =>
          this.newTransfer(caller, planned[index]!, request, batchId),
        );
        return { batchId, transfers: (await this.store.applyBatch(tx, transfers)).map(transferView) };
      });
      this.observe('batch', answer.replayed ? 'replayed' : 'applied', started);
      return answer;
    } catch (error) {
      this.observe('batch', 'refused', started);
      throw error;
    }
  }

  /** Posts (`post`) or releases (`void`) a reservation: the debit account's owner or an operator. */
  async resolvePending(
    caller: Caller,
    pendingId: string,
    phase: 'post' | 'void',
    key?: string,
  ): Promise<Answer<TransferView>> {
    const started = performance.now();
    try {
      const pending = await this.store.transfer(pendingId);
      if (!pending) throw new TransferNotFoundError(pendingId);
      const [debit, credit] = await Promise.all([
        this.info(pending.debitAccountId),
        this.info(pending.creditAccountId),
      ]);
      if (!caller.operator && debit.owner !== caller.id) {
        if (credit.owner !== caller.id) throw new TransferNotFoundError(pendingId);
        throw new NotAccountOwnerError(debit.id);
      }
      if (pending.kind !== 'pending') throw new PendingNotOpenError(pendingId, 'not-pending');
      const answer = await this.idempotent(caller, key, phase, { pendingId }, async (tx) => {
        const deadline = await this.store.takeOpenPending(tx, pendingId);
        if (deadline === undefined) {
          const resolution = await this.store.resolutionOf(pendingId, tx);
          throw new PendingNotOpenError(pendingId, resolution?.kind === 'post' ? 'posted' : 'voided');
        }
        // Past its deadline the reservation is the sweeper's to void, even if it has not run yet.
        if (deadline.getTime() <= this.options.nowMs()) throw new PendingExpiredError(pendingId);
        return transferView(
          await this.store.apply(
            tx,
            this.resolution(caller.id, pending, phase, debit, credit, caller.requestId),
          ),
        );
      });
      this.observe(phase, answer.replayed ? 'replayed' : 'applied', started);
      return answer;
    } catch (error) {
      this.observe(phase, 'refused', started);
      throw error;
    }
  }

  /** A new transfer back from the credit account to the debit one; each transfer reverses once. */
  async reverse(
    caller: Caller,
    transferId: string,
    memo: string | undefined,
    key?: string,
  ): Promise<Answer<TransferView>> {
    const started = performance.now();
    try {
      const original = await this.store.transfer(transferId);
      if (!original) throw new TransferNotFoundError(transferId);
      if (original.kind !== 'single' && original.kind !== 'post') {
        throw new NotReversibleError(transferId, `a ${original.kind} transfer moves no posted money`);
      }
      // Checked first so a second reversal is told why, not that the money is gone; the unique
      // index below settles two reversals racing past this check.
      if (await this.store.reversalOf(transferId))
        throw new NotReversibleError(transferId, 'it is already reversed');
      const [debit, credit] = await Promise.all([
        this.info(original.creditAccountId),
        this.info(original.debitAccountId),
      ]);
      const answer = await this.idempotent(caller, key, 'reverse', { transferId, memo }, async (tx) => {
        const transfer: NewTransfer = {
          ...this.base(caller, original.amount, original.currency, memo ?? null, null),
          phase: 'single',
          debit,
          credit,
          reversesId: transferId,
        };
        try {
          return transferView(await this.store.apply(tx, transfer));
        } catch (error) {
          if (sqlStateOf(error) === SqlState.uniqueViolation)
            throw new NotReversibleError(transferId, 'it is already reversed');
          throw error;
        }
      });
      this.observe('reversal', answer.replayed ? 'replayed' : 'applied', started);
      return answer;
    } catch (error) {
      this.observe('reversal', 'refused', started);
      throw error;
    }
  }

  /** Voids up to `limit` reservations past their deadline; answers how many. */
  async expireDue(limit: number): Promise<number> {
    const count = await this.attempt(async (tx) => {
      const expired = await this.store.takeExpired(tx, new Date(this.options.nowMs()), limit);
      for (const pendingId of expired) {
        const pending = (await this.store.transfer(pendingId, tx))!;
        const debit = await this.info(pending.debitAccountId, tx);
        const credit = await this.info(pending.creditAccountId, tx);
        await this.store.apply(
          tx,
          this.resolution('system:timeout', pending, 'void', debit, credit, undefined),
        );
      }
      return expired.length;
    });
    if (count > 0) this.options.observer.expired(count);
    return count;
  }

  async forgetKeys(olderThanMs: number, limit: number): Promise<number> {
    return this.store.forgetKeys(new Date(this.options.nowMs() - olderThanMs), limit);
  }

  /** The conservation check; reservations get `graceMs` past their deadline for the sweeper to reach them. */
  conservation(graceMs: number): Promise<ConservationReport> {
    return checkConservation(this.store.sql, new Date(this.options.nowMs() - graceMs));
  }

  /** The immutable part of an account, from memory when seen before. */
  private async info(id: string, tx?: SqlQueryable): Promise<AccountInfo> {
    const cached = this.infos.get(id);
    if (cached) return cached;
    const account = await this.store.account(id, tx);
    if (!account) throw new AccountNotFoundError(id);
    const info = { id: account.id, owner: account.owner, currency: account.currency, rules: account.rules };
    if (this.infos.size >= this.options.accountCacheMax) {
      // Insertion order: the oldest entry goes. Accounts never change these fields, so any entry is valid.
      this.infos.delete(this.infos.keys().next().value!);
    }
    this.infos.set(id, info);
    return info;
  }

  /** Checks what can be checked before any lock: accounts, currency, ownership. */
  private async plan(
    caller: Caller,
    request: TransferRequest,
  ): Promise<{ debit: AccountInfo; credit: AccountInfo }> {
    exponentOf(request.currency);
    if (request.debitAccountId === request.creditAccountId)
      throw new SelfTransferError(request.debitAccountId);
    const [debit, credit] = await Promise.all([
      this.info(request.debitAccountId),
      this.info(request.creditAccountId),
    ]);
    if (!caller.operator && debit.owner !== caller.id) throw new NotAccountOwnerError(debit.id);
    for (const account of [debit, credit]) {
      if (account.currency !== request.currency)
        throw new CurrencyMismatchError(account.id, account.currency, request.currency);
    }
    return { debit, credit };
  }

  private base(
    caller: Caller,
    amount: bigint,
    currency: string,
    memo: string | null,
    batchId: string | null,
  ) {
    return {
      id: randomUUID(),
      amount,
      currency,
      pendingId: null,
      reversesId: null,
      batchId,
      timeoutAt: null,
      memo,
      createdBy: caller.id,
      requestId: caller.requestId ?? null,
      createdAt: new Date(this.options.nowMs()),
    };
  }

  private newTransfer(
    caller: Caller,
    planned: { debit: AccountInfo; credit: AccountInfo },
    request: TransferRequest,
    batchId: string | null,
  ): NewTransfer {
    const base = this.base(caller, request.amount, request.currency, request.memo ?? null, batchId);
    return {
      ...base,
      ...planned,
      phase: request.pendingTimeoutMs === undefined ? 'single' : 'pending',
      timeoutAt:
        request.pendingTimeoutMs === undefined
          ? null
          : new Date(base.createdAt.getTime() + request.pendingTimeoutMs),
    };
  }

  private resolution(
    by: string,
    pending: Transfer,
    phase: 'post' | 'void',
    debit: AccountInfo,
    credit: AccountInfo,
    requestId: string | undefined,
  ): NewTransfer {
    return {
      ...this.base({ id: by, operator: false, requestId }, pending.amount, pending.currency, null, null),
      phase,
      debit,
      credit,
      pendingId: pending.id,
    };
  }

  /**
   * Runs `work` once per Idempotency-Key: the key is claimed in the same transaction as the work,
   * so the answer is stored exactly when the work commits. A refusal stores nothing (the request
   * may be retried once the refusal's cause is gone).
   */
  private async idempotent<Body>(
    caller: Caller,
    key: string | undefined,
    operation: string,
    request: unknown,
    work: (tx: SqlQueryable) => Promise<Body>,
  ): Promise<Answer<Body>> {
    if (key === undefined) return { body: await this.attempt(work), replayed: false };
    const hash = requestHash(operation, request);
    return this.attempt(async (tx) => {
      const stored = await this.store.claimKey(tx, caller.id, key, hash);
      if (stored) return { body: stored.body as Body, replayed: true };
      const body = await work(tx);
      await this.store.recordAnswer(tx, caller.id, key, { status: 201, body });
      return { body, replayed: false };
    });
  }

  /** One transaction, retried (bounded, with jitter) when contention rolled it back. */
  private async attempt<Result>(work: (tx: SqlQueryable) => Promise<Result>): Promise<Result> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.gate.run(() => this.store.sql.tx(work));
      } catch (error) {
        const reason = retryReasonOf(error);
        if (reason === undefined) throw domainErrorOf(error);
        this.options.observer.retry(reason);
        if (attempt >= this.options.attemptsMax) {
          this.options.observer.contentionExhausted();
          throw new ContentionError(attempt);
        }
        const backoffMs = Math.random() * Math.min(RETRY_BACKOFF_MS_MAX, 2 ** attempt);
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
      }
    }
  }

  private observe(
    kind: Phase | 'batch' | 'reversal',
    outcome: 'applied' | 'refused' | 'replayed',
    started: number,
  ) {
    this.options.observer.transfer(kind, outcome, performance.now() - started);
  }
}

function retryReasonOf(error: unknown): RetryReason | undefined {
  if (error instanceof OptimisticConflictError) return 'optimistic_conflict';
  const state = sqlStateOf(error);
  if (state === SqlState.deadlockDetected) return 'deadlock';
  if (state === SqlState.serializationFailure) return 'serialization_failure';
  return undefined;
}

/** A bigint past 2^63 - 1 in the database's own arithmetic (the constraint mode) is an overflow refusal. */
function domainErrorOf(error: unknown): unknown {
  return sqlStateOf(error) === NUMERIC_OUT_OF_RANGE ? new BalanceOverflowError() : error;
}

/** A refusal of one planned item names its index; anything else (a backend failure) passes as it is. */
function inBatch(index: number) {
  return (error: unknown): never => {
    if (!(error instanceof WalletRefusal)) throw error;
    throw new BatchItemError(index, error);
  };
}
