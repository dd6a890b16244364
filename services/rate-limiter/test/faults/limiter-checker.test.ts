import { History } from '@sysdesign/testkit/faults';
import { describe, expect, it } from 'vitest';
import { type CheckDecision, checkRateLimiter, type LimiterClaims } from './limiter-checker.js';

let now = 0;
const claims: LimiterClaims = {
  limit: 2,
  failMode: 'closed',
  latencyBoundMs: 100,
  faultWindows: [{ startMs: 100, endMs: 200 }],
};

function historyOf(decisions: Array<[atMs: number, decision: Partial<CheckDecision>]>): History {
  now = 0;
  const history = new History(() => now);
  for (const [atMs, decision] of decisions) {
    now = atMs;
    history.invoke('c1', { f: 'check', key: 'k' });
    history.ok('c1', { allowed: true, reason: 'within_limit', latencyMs: 1, ...decision });
  }
  return history;
}

describe('the rate limiter checker', () => {
  it('passes the limit admitted, refusals after it, and fail_closed inside a fault', () => {
    const history = historyOf([
      [0, {}],
      [10, {}],
      [20, { allowed: false, reason: 'over_limit' }],
      [150, { allowed: false, reason: 'fail_closed' }],
    ]);
    expect(checkRateLimiter(history.events(), claims)).toEqual({ valid: true, anomalies: [] });
  });

  it('flags Redis admitting past the limit, the wrong fail mode, a slow check and an undecided check while healthy', () => {
    const history = historyOf([
      [0, {}],
      [10, {}],
      [20, {}],
      [150, { reason: 'fail_open' }],
      [160, { allowed: false, reason: 'over_limit', latencyMs: 500 }],
      [300, { allowed: false, reason: 'fail_closed' }],
    ]);
    const kinds = checkRateLimiter(history.events(), claims).anomalies.map((anomaly) => anomaly.kind);
    expect(kinds.sort()).toEqual(['over-admitted', 'slow', 'undecided-while-healthy', 'wrong-fail-mode']);
  });

  it('calls a check that never answered hung', () => {
    const history = new History(() => 0);
    history.invoke('c1', { f: 'check', key: 'k' });
    history.unknown('c1');
    expect(checkRateLimiter(history.events(), claims).anomalies.map((anomaly) => anomaly.kind)).toEqual([
      'hung',
    ]);
  });
});
