import { describe, expect, it } from 'vitest';
import { type Clock, ConfigError, clockFromEnv, createClock, systemClock } from '../src/index.js';

/** A base clock the test moves by hand, so offset and drift are exact rather than approximate. */
function manualClock(startMs: number): Clock & { advance(byMs: number): void } {
  let nowMs = startMs;
  return {
    nowMs: () => nowMs,
    advance(byMs) {
      nowMs += byMs;
    },
  };
}

describe('createClock', () => {
  it('reads ahead or behind the base by a fixed offset', () => {
    const base = manualClock(1_000_000);
    const ahead = createClock({ offsetMs: 2_500, base });
    const behind = createClock({ offsetMs: -7_000, base });
    base.advance(60_000);
    expect(ahead.nowMs()).toBe(1_062_500);
    expect(behind.nowMs()).toBe(1_053_000);
  });

  it('gains or loses time in proportion to the base time elapsed since it was made', () => {
    const base = manualClock(5_000);
    const fast = createClock({ driftPpm: 500, base });
    const slow = createClock({ offsetMs: 10, driftPpm: -250, base });
    expect(fast.nowMs()).toBe(5_000);
    base.advance(1_000_000);
    expect(fast.nowMs()).toBe(1_005_500);
    expect(slow.nowMs()).toBe(1_004_760);
  });

  it('returns the base itself when asked for no skew', () => {
    expect(createClock({})).toBe(systemClock);
  });

  it('refuses a drift that would stop time or run it backwards', () => {
    expect(() => createClock({ driftPpm: -1_000_000 })).toThrow(/within ±1000000 ppm/);
    expect(() => createClock({ offsetMs: Number.NaN })).toThrow(/finite/);
  });
});

describe('clockFromEnv', () => {
  it('is the system clock when no skew is set, in production too', () => {
    expect(clockFromEnv({})).toBe(systemClock);
    expect(clockFromEnv({ NODE_ENV: 'production', SYSDESIGN_CLOCK_OFFSET_MS: '' })).toBe(systemClock);
  });

  it('skews the system clock by the configured offset', () => {
    const clock = clockFromEnv({ SYSDESIGN_CLOCK_OFFSET_MS: '-3600000', SYSDESIGN_CLOCK_DRIFT_PPM: '100' });
    const skewMs = clock.nowMs() - Date.now();
    expect(skewMs).toBeGreaterThanOrEqual(-3_600_001);
    expect(skewMs).toBeLessThanOrEqual(-3_599_990);
  });

  it('refuses skew with NODE_ENV=production, naming each variable set', () => {
    const refuse = () =>
      clockFromEnv({
        NODE_ENV: 'production',
        SYSDESIGN_CLOCK_OFFSET_MS: '5000',
        SYSDESIGN_CLOCK_DRIFT_PPM: '20',
      });
    expect(refuse).toThrow(ConfigError);
    expect(refuse).toThrow(/SYSDESIGN_CLOCK_OFFSET_MS: clock skew is a test-only setting/);
    expect(refuse).toThrow(/SYSDESIGN_CLOCK_DRIFT_PPM: clock skew is a test-only setting/);
  });

  it('refuses a value that is not a whole number of ms or a drift out of range', () => {
    expect(() => clockFromEnv({ SYSDESIGN_CLOCK_OFFSET_MS: '1.5' })).toThrow(/SYSDESIGN_CLOCK_OFFSET_MS/);
    expect(() => clockFromEnv({ SYSDESIGN_CLOCK_DRIFT_PPM: '-2000000' })).toThrow(
      /SYSDESIGN_CLOCK_DRIFT_PPM/,
    );
  });
});
