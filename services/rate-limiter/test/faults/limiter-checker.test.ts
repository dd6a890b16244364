import { History } from '@sysdesign/testkit/faults';
import { describe, expect, it } from 'vitest';
import { type CheckDecision, checkRateLimiter, type LimiterClaims } from './limiter-checker.js';

let now = 0;
const claims: LimiterClaims = {
  limit: 2,
  failMode: 'closed',
  latencyBoundMs: 100,
  faultWindows: [{ startMs: 100, endMs: 200 }],
  stalls: [],
  deadlineMs: 1_000,
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

  it('allows the limit in each window an identity touched, and no more', () => {
    // Four admitted at a limit of 2: right when the identity straddled a window boundary, over-admitted when it did not.
    const history = historyOf([
      [0, {}],
      [10, {}],
      [20, {}],
      [30, {}],
    ]);
    expect(checkRateLimiter(history.events(), { ...claims, windowsOf: () => 2 })).toEqual({
      valid: true,
      anomalies: [],
    });
    const oneWindow = checkRateLimiter(history.events(), { ...claims, windowsOf: () => 1 });
    expect(oneWindow.anomalies.map((anomaly) => anomaly.kind)).toEqual(['over-admitted']);
  });

  it('allows a check the time its process stood still beyond the bound, and no more', () => {
    // The check is invoked at 400 and answered at 900 (latency 500): a 450 ms stall inside it
    // covers the 400 ms beyond the bound; a 350 ms one does not.
    const at = (stall: { startMs: number; endMs: number }) => {
      now = 0;
      const history = new History(() => now);
      now = 400;
      history.invoke('c1', { f: 'check', key: 'k' });
      now = 900;
      history.ok('c1', { allowed: true, reason: 'within_limit', latencyMs: 500 });
      const stalls = [{ ...stall, cpuPercent: 3 }];
      return checkRateLimiter(history.events(), { ...claims, stalls }).anomalies.map(
        (anomaly) => anomaly.kind,
      );
    };
    expect(at({ startMs: 420, endMs: 870 })).toEqual([]);
    expect(at({ startMs: 300, endMs: 750 })).toEqual(['slow']);
    expect(at({ startMs: 420, endMs: 770 })).toEqual(['slow']);
  });

  it('calls a check that never answered within its deadline hung', () => {
    now = 0;
    const history = new History(() => now);
    history.invoke('c1', { f: 'check', key: 'k' });
    now = 1_000;
    history.unknown('c1');
    expect(checkRateLimiter(history.events(), claims).anomalies.map((anomaly) => anomaly.kind)).toEqual([
      'hung',
    ]);
  });

  it('does not call hung a check whose deadline fell due while its process stood still', () => {
    // Given up after 1,000 ms: a 300 ms stall inside leaves 700 ms of running time, not a hang;
    // a 100 ms stall leaves 900 ms... still short of the deadline; none leaves the full 1,000 ms.
    now = 0;
    const history = new History(() => now);
    history.invoke('c1', { f: 'check', key: 'k' });
    now = 1_000;
    history.unknown('c1');
    const kinds = (stalls: LimiterClaims['stalls']) =>
      checkRateLimiter(history.events(), { ...claims, stalls }).anomalies.map((anomaly) => anomaly.kind);
    expect(kinds([{ startMs: 500, endMs: 800, cpuPercent: 0 }])).toEqual([]);
    expect(kinds([{ startMs: 900, endMs: 1_000, cpuPercent: 0 }])).toEqual([]);
    expect(kinds([])).toEqual(['hung']);
    expect(kinds([{ startMs: 2_000, endMs: 3_000, cpuPercent: 0 }])).toEqual(['hung']);
  });
});
