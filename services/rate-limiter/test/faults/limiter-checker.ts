import {
  type Anomaly,
  type CheckResult,
  type HistoryEvent,
  pairOperations,
  resultOf,
} from '@sysdesign/testkit/faults';
import { type Stall, stalledMsWithin } from './stall-watch.js';

/**
 * The rate limiter's claims over a fault run, as a pure function of its history. Each `check`
 * operation is recorded with `key` = the identity checked and, on completion, `value` =
 * `{ allowed, reason, latencyMs }`; a check the client gave up on is `unknown`.
 *
 * The bound, from the design: Redis decides every admission it makes exactly, so admissions
 * with reason `within_limit` never exceed the limit per identity, whatever the link did. What
 * Redis could not decide follows the fail mode: `open` admits it (so an identity's total is at
 * most the limit plus its `fail_open` answers), `closed` admits nothing beyond the limit. No check
 * waits past the latency bound, and none is left undecided by Redis outside a fault and its grace.
 * A stall of the process that runs the clients and the instances (measured, see stall-watch.ts)
 * holds every check in flight: a check is allowed the time its process stood still beyond the
 * bound, a client that gave up only because its deadline fell due while the process stood still
 * did not see a hang, and the caller counts each stall, with its grace, among the windows where
 * Redis may not decide.
 */

export type FailMode = 'open' | 'closed';

export interface CheckDecision {
  allowed: boolean;
  reason: string;
  latencyMs: number;
}

export interface LimiterClaims {
  limit: number;
  /**
   * How many of the rule's windows an identity's checks may fall in (default 1). A fixed window
   * starts afresh at its boundary, so an identity checked across one may be admitted the limit in
   * each window it touched.
   */
  windowsOf?: (key: string) => number;
  failMode: FailMode;
  /** No check may take longer (the Redis timeout plus scheduling slack). */
  latencyBoundMs: number;
  /** History times (ms) during which Redis may fail to decide: each fault plus its grace. */
  faultWindows: readonly { startMs: number; endMs: number }[];
  /** History times (ms) when the clients' and instances' process stood still. */
  stalls: readonly Stall[];
  /** How long a client waits for an answer before it records the check as unknown. */
  deadlineMs: number;
}

const undecidedReasons = new Set(['fail_open', 'fail_closed']);

export function checkRateLimiter(events: readonly HistoryEvent[], claims: LimiterClaims): CheckResult {
  const anomalies: Anomaly[] = [];
  const admittedByKey = new Map<string, HistoryEvent[]>();
  for (const operation of pairOperations(events)) {
    if (operation.invoke.f !== 'check') continue;
    const complete = operation.complete;
    const excerpt = complete === undefined ? [operation.invoke] : [operation.invoke, complete];
    if (complete === undefined || complete.type !== 'ok') {
      const runningMs =
        complete === undefined
          ? Number.POSITIVE_INFINITY
          : complete.timeMs -
            operation.invoke.timeMs -
            stalledMsWithin(claims.stalls, operation.invoke.timeMs, complete.timeMs);
      if (runningMs < claims.deadlineMs) continue;
      anomalies.push({
        kind: 'hung',
        message: `a check never got an answer (${complete?.type ?? 'pending'})`,
        excerpt,
      });
      continue;
    }
    const decision = complete.value as CheckDecision;
    anomalies.push(...decisionAnomalies(decision, operation.invoke, complete, excerpt, claims));
    if (decision.reason === 'within_limit') {
      const key = operation.invoke.key ?? '';
      admittedByKey.set(key, [...(admittedByKey.get(key) ?? []), complete]);
    }
  }
  for (const [key, admitted] of admittedByKey) {
    const windows = claims.windowsOf?.(key) ?? 1;
    const bound = claims.limit * windows;
    if (admitted.length > bound)
      anomalies.push({
        kind: 'over-admitted',
        message: `${admitted.length} checks of ${key} admitted by Redis, limit ${claims.limit} in each of ${windows} window(s)`,
        excerpt: admitted.slice(bound),
      });
  }
  return resultOf(anomalies);
}

function decisionAnomalies(
  decision: CheckDecision,
  invoke: HistoryEvent,
  complete: HistoryEvent,
  excerpt: HistoryEvent[],
  claims: LimiterClaims,
): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const stalledMs = stalledMsWithin(claims.stalls, invoke.timeMs, complete.timeMs);
  if (decision.latencyMs > claims.latencyBoundMs + stalledMs)
    anomalies.push({
      kind: 'slow',
      message: `a check took ${Math.round(decision.latencyMs)} ms, bound ${claims.latencyBoundMs} ms${stalledMs > 0 ? ` + ${Math.round(stalledMs)} ms the process stood still` : ''}`,
      excerpt,
    });
  const expected = claims.failMode === 'open' ? 'fail_open' : 'fail_closed';
  if (undecidedReasons.has(decision.reason) && decision.reason !== expected)
    anomalies.push({
      kind: 'wrong-fail-mode',
      message: `${decision.reason} with FAIL_MODE=${claims.failMode}`,
      excerpt,
    });
  if (decision.allowed !== (decision.reason === 'within_limit' || decision.reason === 'fail_open'))
    anomalies.push({
      kind: 'inconsistent',
      message: `allowed=${decision.allowed} with reason ${decision.reason}`,
      excerpt,
    });
  // A check still in flight when a fault begins may meet it too.
  const inFault = claims.faultWindows.some(
    (window) => complete.timeMs >= window.startMs && invoke.timeMs <= window.endMs,
  );
  if (undecidedReasons.has(decision.reason) && !inFault)
    anomalies.push({
      kind: 'undecided-while-healthy',
      message: `${decision.reason} outside every fault and its grace`,
      excerpt,
    });
  return anomalies;
}
