import { appendFileSync } from 'node:fs';

/**
 * The settings every fault suite reads from its environment, so that one command (`pnpm chaos`)
 * can drive any suite the same way:
 *
 * - `FAULT_SEED`: the seed that replays the run (an integer; the suite's own default when unset).
 * - `FAULT_SECONDS`: stretches the run to this many seconds. A nemesis-driven suite plays its
 *   schedule for that long; a scenario suite repeats its scenario in rounds until the time is up.
 *   Unset, each suite keeps the length CI runs. It never shortens a suite below that length.
 * - `FAULT_REPORT`: a file each test of the suite appends its markdown report to (whoever sets it
 *   empties it first), also when the test fails.
 */

export interface FaultRunSettings {
  seed: number;
  /** `FAULT_SECONDS` in milliseconds, or undefined for the CI length. */
  stretchedMs: number | undefined;
  reportFile: string | undefined;
}

/** A day: far beyond any run we mean, short enough that a typo in the unit fails loudly. */
export const FAULT_SECONDS_MAX = 86_400;

/** Reads the three settings; a malformed value throws a RangeError naming the variable. */
export function faultRunSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
  defaultSeed = 22,
): FaultRunSettings {
  return {
    seed: parseSeed(env.FAULT_SEED, defaultSeed),
    stretchedMs: parseSeconds(env.FAULT_SECONDS),
    reportFile: env.FAULT_REPORT ? env.FAULT_REPORT : undefined,
  };
}

function parseSeed(text: string | undefined, defaultSeed: number): number {
  if (text === undefined || text === '') return defaultSeed;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`FAULT_SEED must be an integer, got "${text}"`);
  return seed;
}

function parseSeconds(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const seconds = Number(text);
  if (!(Number.isFinite(seconds) && seconds > 0 && seconds <= FAULT_SECONDS_MAX))
    throw new RangeError(
      `FAULT_SECONDS must be a number of seconds in (0, ${FAULT_SECONDS_MAX}], got "${text}"`,
    );
  return Math.round(seconds * 1_000);
}

/** How long a nemesis-driven suite plays its schedule: its CI length, or longer when stretched. */
export function runDurationMs(settings: FaultRunSettings, ciRunMs: number): number {
  return Math.max(ciRunMs, settings.stretchedMs ?? 0);
}

/**
 * The test timeout of a nemesis-driven suite: its CI timeout plus three times the stretch. What
 * follows the run (final reads, checkers) grows with the history, and two shared cores under
 * other load run it several times slower than an idle machine; the timeout only guards a hang.
 */
export function stretchedTimeoutMs(
  settings: FaultRunSettings,
  { ciRunMs, ciTimeoutMs }: { ciRunMs: number; ciTimeoutMs: number },
): number {
  return ciTimeoutMs + (runDurationMs(settings, ciRunMs) - ciRunMs) * 3;
}

/**
 * FAULT_SECONDS is the length of a suite file's run: a file with several scenarios gives each
 * its share, so that `pnpm chaos` takes about the time asked for.
 */
export function shareStretch(settings: FaultRunSettings, scenarios: number): FaultRunSettings {
  if (!(Number.isInteger(scenarios) && scenarios >= 1))
    throw new RangeError(`scenarios must be a whole number from 1, got ${scenarios}`);
  if (settings.stretchedMs === undefined) return settings;
  return { ...settings, stretchedMs: Math.ceil(settings.stretchedMs / scenarios) };
}

/** The test timeout of a suite run in rounds: a round may start just before the time is up. */
export function roundsTimeoutMs(settings: FaultRunSettings, roundTimeoutMs: number): number {
  return (settings.stretchedMs ?? 0) + roundTimeoutMs;
}

export interface Round {
  /** From 0. */
  index: number;
  /** `FAULT_SEED + index`: each round replays on its own. */
  seed: number;
}

/**
 * Runs `body` once with the suite's seed, or, when stretched, round after round (seed + round)
 * while the time is not up: a round starts only within the time, and runs to its end. Returns
 * how many rounds ran.
 */
export async function inRounds(
  settings: FaultRunSettings,
  body: (round: Round) => Promise<void>,
  now: () => number = () => performance.now(),
): Promise<number> {
  const startedMs = now();
  let index = 0;
  do {
    await body({ index, seed: settings.seed + index });
    index++;
  } while (settings.stretchedMs !== undefined && now() - startedMs < settings.stretchedMs);
  return index;
}

/** Appends `markdown` to the report file, if the run asked for one. */
export function appendReport(settings: FaultRunSettings, markdown: string): void {
  if (settings.reportFile === undefined) return;
  appendFileSync(settings.reportFile, markdown.endsWith('\n') ? `${markdown}\n` : `${markdown}\n\n`);
}
