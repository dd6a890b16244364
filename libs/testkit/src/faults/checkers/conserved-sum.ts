import { excerptOf, type HistoryEvent, pairOperations } from '../history.js';
import { type Anomaly, type CheckResult, resultOf } from './result.js';

/** The `f` of a read of every account's balance at once; its value maps account to balance. */
export const balancesFunction = 'balances';

/**
 * Money is conserved: every `ok` `balances` read, taken while transfers run or after, sums to
 * `total`, and no account is ever negative. Transfers move money; they never create or destroy it.
 */
export function checkConservedSum(
  events: readonly HistoryEvent[],
  { total }: { total: number },
): CheckResult {
  const anomalies: Anomaly[] = [];
  for (const read of pairOperations(events)) {
    if (read.invoke.f !== balancesFunction || read.complete?.type !== 'ok') continue;
    const balances = balancesOf(read.complete);
    const sum = Object.values(balances).reduce((accumulated, balance) => accumulated + balance, 0);
    if (sum !== total) {
      anomalies.push({
        kind: 'sum-not-conserved',
        message: `balances read at event ${read.complete.index} sum to ${sum}, not ${total}`,
        excerpt: excerptOf([read]),
      });
    }
    for (const [account, balance] of Object.entries(balances)) {
      if (balance >= 0) continue;
      anomalies.push({
        kind: 'negative-balance',
        message: `account ${account} reads ${balance} at event ${read.complete.index}`,
        excerpt: excerptOf([read]),
      });
    }
  }
  return resultOf(anomalies);
}

function balancesOf(event: HistoryEvent): Record<string, number> {
  const value = event.value;
  const isBalanceMap =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((balance) => typeof balance === 'number');
  if (!isBalanceMap) throw new Error(`event ${event.index}: a balances read must map accounts to numbers`);
  return value as Record<string, number>;
}
