import type { SqlQueryable } from '@sysdesign/platform';

/**
 * The ledger's invariants, checked from the tables alone (the tests call this after every fault):
 * - per currency, debits equal credits, posted and pending: no money made or lost;
 * - every transfer has exactly its two entries, of its amount, on its two accounts;
 * - every account's counters equal the sum of its entries (the running totals never drifted);
 * - no reservation is still open past its deadline (the sweeper keeps up, `now` given).
 */

export interface CurrencyTotals {
  currency: string;
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
  balanced: boolean;
}

export interface ConservationReport {
  ok: boolean;
  currencies: CurrencyTotals[];
  /** Transfers whose entries are missing, extra, or disagree with them (first few). */
  transfersWithBadEntries: string[];
  /** Accounts whose counters differ from the sum of their entries (first few). */
  accountsOutOfBalance: string[];
  /** Pending transfers still open past their deadline (first few). */
  expiredButOpen: string[];
}

const SAMPLE_MAX = 20;

export async function checkConservation(sql: SqlQueryable, now: Date): Promise<ConservationReport> {
  const totals = await sql.query<{
    currency: string;
    debits_posted: bigint;
    credits_posted: bigint;
    debits_pending: bigint;
    credits_pending: bigint;
  }>(
    `SELECT currency, sum(debits_posted)::numeric::text AS debits_posted, sum(credits_posted)::numeric::text AS credits_posted,
            sum(debits_pending)::numeric::text AS debits_pending, sum(credits_pending)::numeric::text AS credits_pending
       FROM accounts GROUP BY currency ORDER BY currency`,
  );
  const currencies = totals.rows.map((row) => {
    const totalsOf = {
      currency: row.currency,
      debitsPosted: BigInt(row.debits_posted),
      creditsPosted: BigInt(row.credits_posted),
      debitsPending: BigInt(row.debits_pending),
      creditsPending: BigInt(row.credits_pending),
    };
    return {
      ...totalsOf,
      balanced:
        totalsOf.debitsPosted === totalsOf.creditsPosted &&
        totalsOf.debitsPending === totalsOf.creditsPending,
    };
  });
  const badEntries = await sql.query<{ id: string }>(
    `SELECT t.id FROM transfers t
       LEFT JOIN entries d ON d.transfer_id = t.id AND d.side = 'debit'
       LEFT JOIN entries c ON c.transfer_id = t.id AND c.side = 'credit'
      WHERE d.account_id IS DISTINCT FROM t.debit_account_id OR c.account_id IS DISTINCT FROM t.credit_account_id
         OR d.amount IS DISTINCT FROM t.amount OR c.amount IS DISTINCT FROM t.amount
         OR (SELECT count(*) FROM entries e WHERE e.transfer_id = t.id) <> 2
      LIMIT ${SAMPLE_MAX}`,
  );
  // Each entry's side and its transfer's kind say which counter it moved (see domain/balance.ts).
  const drifted = await sql.query<{ id: string }>(
    `WITH moved AS (
       SELECT e.account_id,
              sum(CASE WHEN e.side = 'debit' AND t.kind IN ('single', 'post') THEN e.amount ELSE 0 END) AS dp,
              sum(CASE WHEN e.side = 'credit' AND t.kind IN ('single', 'post') THEN e.amount ELSE 0 END) AS cp,
              sum(CASE WHEN e.side = 'debit' THEN (CASE t.kind WHEN 'pending' THEN e.amount
                       WHEN 'single' THEN 0 ELSE -e.amount END) ELSE 0 END) AS dq,
              sum(CASE WHEN e.side = 'credit' THEN (CASE t.kind WHEN 'pending' THEN e.amount
                       WHEN 'single' THEN 0 ELSE -e.amount END) ELSE 0 END) AS cq,
              count(*) AS entry_count
         FROM entries e JOIN transfers t ON t.id = e.transfer_id GROUP BY e.account_id)
     SELECT a.id FROM accounts a LEFT JOIN moved m ON m.account_id = a.id
      WHERE coalesce(m.dp, 0) <> a.debits_posted OR coalesce(m.cp, 0) <> a.credits_posted
         OR coalesce(m.dq, 0) <> a.debits_pending OR coalesce(m.cq, 0) <> a.credits_pending
         OR coalesce(m.entry_count, 0) <> a.version
      LIMIT ${SAMPLE_MAX}`,
  );
  const expired = await sql.query<{ transfer_id: string }>(
    `SELECT transfer_id FROM pending_open WHERE timeout_at <= $1 ORDER BY timeout_at LIMIT ${SAMPLE_MAX}`,
    [now],
  );
  const report = {
    currencies,
    transfersWithBadEntries: badEntries.rows.map((row) => row.id),
    accountsOutOfBalance: drifted.rows.map((row) => row.id),
    expiredButOpen: expired.rows.map((row) => row.transfer_id),
  };
  return {
    ok:
      currencies.every((currency) => currency.balanced) &&
      report.transfersWithBadEntries.length === 0 &&
      report.accountsOutOfBalance.length === 0 &&
      report.expiredButOpen.length === 0,
    ...report,
  };
}
