import { z } from 'zod';
import { ConfigError, type Env, loadConfig } from './config.js';

/**
 * The one clock the platform reads wall time through, and a skewed one for fault tests: a node
 * whose clock is ahead, behind, or running fast or slow, the way NTP steps and drifting crystals
 * leave real machines (limiter windows, Snowflake ids, leases, TTLs all depend on it). The shape
 * is the Snowflake generator's `Clock`, so a skewed clock plugs into it and into worker leases.
 */

/** Wall time in milliseconds since the epoch. */
export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

export interface SkewOptions {
  /** Added to every reading; negative means behind. */
  offsetMs?: number | undefined;
  /** Parts per million the clock gains (positive) or loses (negative) from its creation on. */
  driftPpm?: number | undefined;
  /** The clock being skewed: the system clock unless a test drives time itself. */
  base?: Clock | undefined;
}

/** A drift of -1,000,000 ppm stops time and beyond runs it backwards: never a real clock. */
const DRIFT_LIMIT_PPM = 1_000_000;

/**
 * `base` shifted by `offsetMs` and stretched by `driftPpm` from this moment: after `t` ms of
 * base time, readings are ahead by `offsetMs + t * driftPpm / 1e6`. Readings are whole ms.
 */
export function createClock({ offsetMs = 0, driftPpm = 0, base = systemClock }: SkewOptions): Clock {
  if (!Number.isFinite(offsetMs))
    throw new RangeError(`clock offset must be a finite number of ms, got ${offsetMs}`);
  if (!(Math.abs(driftPpm) < DRIFT_LIMIT_PPM))
    throw new RangeError(`clock drift must be within ±${DRIFT_LIMIT_PPM} ppm, got ${driftPpm}`);
  if (offsetMs === 0 && driftPpm === 0) return base;
  const startMs = base.nowMs();
  const rate = driftPpm / DRIFT_LIMIT_PPM;
  return {
    nowMs: () => {
      const baseMs = base.nowMs();
      return Math.floor(baseMs + offsetMs + (baseMs - startMs) * rate);
    },
  };
}

const skewSchema = z.object({
  SYSDESIGN_CLOCK_OFFSET_MS: z.coerce.number().int().optional(),
  SYSDESIGN_CLOCK_DRIFT_PPM: z.coerce.number().gt(-DRIFT_LIMIT_PPM).lt(DRIFT_LIMIT_PPM).optional(),
  NODE_ENV: z.string().optional(),
});

/**
 * The process's clock from `SYSDESIGN_CLOCK_OFFSET_MS` and `SYSDESIGN_CLOCK_DRIFT_PPM`: the system
 * clock when neither is set. Skew is a test-only setting: with `NODE_ENV=production` it is refused,
 * so a stray variable in a deployment cannot move a service's idea of time.
 */
export function clockFromEnv(env: Env = process.env): Clock {
  const config = loadConfig(skewSchema, env);
  const { SYSDESIGN_CLOCK_OFFSET_MS: offsetMs, SYSDESIGN_CLOCK_DRIFT_PPM: driftPpm } = config;
  if (offsetMs === undefined && driftPpm === undefined) return systemClock;
  if (config.NODE_ENV === 'production') {
    const set = Object.entries({ SYSDESIGN_CLOCK_OFFSET_MS: offsetMs, SYSDESIGN_CLOCK_DRIFT_PPM: driftPpm })
      .filter(([, value]) => value !== undefined)
      .map(([name]) => `${name}: clock skew is a test-only setting, refused with NODE_ENV=production`);
    throw new ConfigError(set);
  }
  return createClock({ offsetMs, driftPpm });
}
