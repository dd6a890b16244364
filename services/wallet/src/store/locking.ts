import type { SqlQueryable } from '@sysdesign/platform';
import {
  type AccountRules,
  applyDelta,
  type Balances,
  type Delta,
  pendingBalance,
  postedBalance,
  type Side,
} from '../domain/balance.js';
import { CreditLimitExceededError, InsufficientFundsError } from '../domain/errors.js';
import { type AccountRow, balancesOf } from './rows.js';

/**
 * The three ways to keep two concurrent transfers from spending the same money, switchable by
 * `LOCKING`:
 * - pessimistic: `SELECT ... FOR UPDATE` of both accounts in id order, check in the application,
 *   write. Contenders queue on the row lock; the fixed order means no deadlock.
 * - optimistic: read without locks, check, write only if the version is still the one read; a
 *   loser rolls back and the caller retries (bounded).
 * - constraint: one conditional `UPDATE ... WHERE <rule still holds>` per account (in id order),
 *   no read at all; zero rows updated means the rule would break.
 * Under all three, the table's CHECK constraints are the last line: no bug commits an overdraft.
 */
export const LOCKING_MODES = ['pessimistic', 'optimistic', 'constraint'] as const;
export type LockingMode = (typeof LOCKING_MODES)[number];

/** One side of a transfer: which account, which of its counters move, and its rules. */
export interface Leg {
  accountId: string;
  side: Side;
  delta: Delta;
  rules: AccountRules;
}

/** The account after its leg: its new version is the entry's sequence number. */
export interface LegResult {
  accountId: string;
  side: Side;
  version: bigint;
  posted: bigint;
  pending: bigint;
}

/** An optimistic write lost the race: the whole transaction is retried. */
export class OptimisticConflictError extends Error {
  constructor(readonly accountIds: string[]) {
    super(`account versions changed under the transaction: ${accountIds.join(', ')}`);
  }
}

export interface BalanceMover {
  readonly mode: LockingMode;
  move(tx: SqlQueryable, legs: readonly Leg[]): Promise<LegResult[]>;
}

/**
 * A linked batch locks every account it touches up front, in id order, whatever the mode: its
 * transfers run in the client's order, so without this two batches would take their row locks
 * in opposite orders and deadlock, and an optimistic batch of a hundred transfers would lose
 * (and redo) the race to almost any concurrent writer. The modes differ for single transfers.
 */
export function lockForBatch(
  tx: SqlQueryable,
  accountIds: readonly string[],
): Promise<Map<string, { balances: Balances; version: bigint }>> {
  return readBalances(tx, [...new Set(accountIds)], true);
}

const byAccountId = (left: Leg, right: Leg) =>
  left.accountId < right.accountId ? -1 : left.accountId > right.accountId ? 1 : 0;

const BALANCE_COLUMNS = 'id, debits_posted, credits_posted, debits_pending, credits_pending, version';

async function readBalances(
  tx: SqlQueryable,
  accountIds: readonly string[],
  forUpdate: boolean,
): Promise<Map<string, { balances: Balances; version: bigint }>> {
  const { rows } = await tx.query<AccountRow>(
    `SELECT ${BALANCE_COLUMNS} FROM accounts WHERE id = ANY($1::text[]) ORDER BY id${forUpdate ? ' FOR UPDATE' : ''}`,
    [accountIds],
  );
  return new Map(rows.map((row) => [row.id, { balances: balancesOf(row), version: BigInt(row.version) }]));
}

/** Writes absolute balances computed in the application, each only if its version is unchanged. */
async function writeComputed(
  tx: SqlQueryable,
  legs: readonly Leg[],
  forUpdate: boolean,
): Promise<LegResult[]> {
  const current = await readBalances(
    tx,
    legs.map((leg) => leg.accountId),
    forUpdate,
  );
  const next = legs.map((leg) => {
    const found = current.get(leg.accountId);
    // The caller validated both accounts first, and accounts are never deleted.
    if (!found) throw new Error(`account ${leg.accountId} vanished`);
    return {
      leg,
      balances: applyDelta(leg.accountId, found.balances, leg.rules, leg.side, leg.delta),
      version: found.version,
    };
  });
  const { rows } = await tx.query<{ id: string; version: bigint }>(
    `UPDATE accounts a SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dq,
            credits_pending = v.cq, version = a.version + 1
       FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[]) AS v(id, dp, cp, dq, cq, ver)
      WHERE a.id = v.id AND a.version = v.ver
      RETURNING a.id, a.version`,
    [
      next.map(({ leg }) => leg.accountId),
      next.map(({ balances }) => balances.debitsPosted.toString()),
      next.map(({ balances }) => balances.creditsPosted.toString()),
      next.map(({ balances }) => balances.debitsPending.toString()),
      next.map(({ balances }) => balances.creditsPending.toString()),
      next.map(({ version }) => version.toString()),
    ],
  );
  if (rows.length !== legs.length) {
    const written = new Set(rows.map((row) => row.id));
    throw new OptimisticConflictError(legs.map((leg) => leg.accountId).filter((id) => !written.has(id)));
  }
  return next.map(({ leg, balances, version }) => ({
    accountId: leg.accountId,
    side: leg.side,
    version: version + 1n,
    posted: postedBalance(balances),
    pending: pendingBalance(balances),
  }));
}

class PessimisticMover implements BalanceMover {
  readonly mode = 'pessimistic' as const;
  move(tx: SqlQueryable, legs: readonly Leg[]): Promise<LegResult[]> {
    return writeComputed(tx, legs, true);
  }
}

class OptimisticMover implements BalanceMover {
  readonly mode = 'optimistic' as const;
  move(tx: SqlQueryable, legs: readonly Leg[]): Promise<LegResult[]> {
    return writeComputed(tx, legs, false);
  }
}

/**
 * Each side's conditional update adds the delta where the account's rule still holds after it.
 * A delta that takes nothing away (a void, a credit) is always allowed.
 */
const CONDITIONAL_DEBIT = `UPDATE accounts SET debits_posted = debits_posted + $2::int8,
    debits_pending = debits_pending + $3::int8, version = version + 1
  WHERE id = $1 AND ($2::int8 + $3::int8 <= 0 OR NOT debits_must_not_exceed_credits
    OR debits_posted + $2::int8 + debits_pending + $3::int8 <= credits_posted)
  RETURNING id, version, credits_posted - debits_posted AS posted, credits_pending - debits_pending AS pending`;
const CONDITIONAL_CREDIT = `UPDATE accounts SET credits_posted = credits_posted + $2::int8,
    credits_pending = credits_pending + $3::int8, version = version + 1
  WHERE id = $1 AND ($2::int8 + $3::int8 <= 0 OR NOT credits_must_not_exceed_debits
    OR credits_posted + $2::int8 + credits_pending + $3::int8 <= debits_posted)
  RETURNING id, version, credits_posted - debits_posted AS posted, credits_pending - debits_pending AS pending`;

class ConstraintMover implements BalanceMover {
  readonly mode = 'constraint' as const;
  async move(tx: SqlQueryable, legs: readonly Leg[]): Promise<LegResult[]> {
    const results: LegResult[] = [];
    // In id order, so two transfers in opposite directions take the row locks in the same order.
    for (const leg of [...legs].sort(byAccountId)) {
      const { rows } = await tx.query<{ version: bigint; posted: bigint; pending: bigint }>(
        leg.side === 'debit' ? CONDITIONAL_DEBIT : CONDITIONAL_CREDIT,
        [leg.accountId, leg.delta.posted.toString(), leg.delta.pending.toString()],
      );
      const row = rows[0];
      if (!row) {
        throw leg.side === 'debit'
          ? new InsufficientFundsError(leg.accountId)
          : new CreditLimitExceededError(leg.accountId);
      }
      results.push({
        accountId: leg.accountId,
        side: leg.side,
        version: BigInt(row.version),
        posted: BigInt(row.posted),
        pending: BigInt(row.pending),
      });
    }
    return legs.map((leg) => results.find((result) => result.accountId === leg.accountId)!);
  }
}

export function balanceMover(mode: LockingMode): BalanceMover {
  switch (mode) {
    case 'pessimistic':
      return new PessimisticMover();
    case 'optimistic':
      return new OptimisticMover();
    case 'constraint':
      return new ConstraintMover();
  }
}
