import { onTestFinished } from 'vitest';
import { seededRandom } from '../random.js';
import type { FaultRecord } from './report.js';

/**
 * The nemesis: from a seed, a schedule of faults over a run (which fault, on which target, when,
 * for how long), drawn from a menu of fault kinds with weights; then it plays the schedule against
 * the test's actions, healing each fault when its time is up, and leaves a quiet time for the
 * system to settle before the final reads. The same seed gives the same schedule, and the
 * schedule prints as text, so a failure names exactly the faults that replay it.
 *
 * Faults are one at a time: each heals before the next starts, so an anomaly points at one fault.
 */

export interface DurationRange {
  minMs: number;
  maxMs: number;
}

export interface FaultKind<Fault extends string> {
  fault: Fault;
  /** Relative likelihood among the menu; 0 never draws it. */
  weight: number;
  /** How long this kind lasts, when it differs from the schedule's `faultDurationMs`. */
  durationMs?: DurationRange | undefined;
}

export interface NemesisOptions<Fault extends string> {
  seed: number;
  /** Faults start and heal within this time from the start of the run. */
  durationMs: number;
  menu: readonly FaultKind<Fault>[];
  /** What a fault may hit: node names, link names. */
  targets: readonly string[];
  faultDurationMs: DurationRange;
  /** Calm time before each fault. */
  gapMs: DurationRange;
  /** Calm time after the last heal, before the run returns: the system settles for the final reads. */
  quiesceMs: number;
}

export interface ScheduledFault<Fault extends string> {
  /** From the start of the run. */
  atMs: number;
  fault: Fault;
  target: string;
  durationMs: number;
}

export interface Schedule<Fault extends string> {
  seed: number;
  durationMs: number;
  quiesceMs: number;
  faults: ScheduledFault<Fault>[];
}

/** Draws the schedule: every draw comes from the seed, in a fixed order. */
export function planSchedule<Fault extends string>(options: NemesisOptions<Fault>): Schedule<Fault> {
  checkOptions(options);
  const random = seededRandom(options.seed);
  const within = (range: DurationRange) =>
    range.minMs + Math.floor(random() * (range.maxMs - range.minMs + 1));
  const totalWeight = options.menu.reduce((sum, kind) => sum + kind.weight, 0);
  const faults: ScheduledFault<Fault>[] = [];
  let atMs = 0;
  for (;;) {
    atMs += within(options.gapMs);
    const kind = pickWeighted(options.menu, random() * totalWeight);
    const target = options.targets[Math.floor(random() * options.targets.length)] as string;
    const durationMs = within(kind.durationMs ?? options.faultDurationMs);
    if (atMs + durationMs > options.durationMs) break;
    faults.push({ atMs, fault: kind.fault, target, durationMs });
    atMs += durationMs;
  }
  return { seed: options.seed, durationMs: options.durationMs, quiesceMs: options.quiesceMs, faults };
}

function pickWeighted<Fault extends string>(
  menu: readonly FaultKind<Fault>[],
  point: number,
): FaultKind<Fault> {
  let reached = 0;
  for (const kind of menu) {
    reached += kind.weight;
    if (point < reached) return kind;
  }
  // Only when `point` lands on the total exactly: the last kind that can be drawn.
  return menu.findLast((kind) => kind.weight > 0) as FaultKind<Fault>;
}

function checkOptions<Fault extends string>(options: NemesisOptions<Fault>): void {
  if (options.targets.length === 0) throw new RangeError('the nemesis needs at least one target');
  if (!options.menu.some((kind) => kind.weight > 0))
    throw new RangeError('the nemesis menu has no fault to draw');
  if (options.menu.some((kind) => !(kind.weight >= 0)))
    throw new RangeError('fault weights must be zero or more');
  for (const range of [
    options.gapMs,
    options.faultDurationMs,
    ...options.menu.map((kind) => kind.durationMs),
  ]) {
    if (range !== undefined && !(range.minMs >= 0 && range.minMs <= range.maxMs))
      throw new RangeError(`bad range ${JSON.stringify(range)}: need 0 <= minMs <= maxMs`);
  }
  // A zero-length fault after a zero-length gap would never move the schedule forward.
  if (
    options.faultDurationMs.minMs < 1 ||
    options.menu.some((kind) => kind.durationMs && kind.durationMs.minMs < 1)
  )
    throw new RangeError('faults must last at least 1 ms');
}

/** The seed and every fault, one a line: for a failure message, and to replay by hand. */
export function describeSchedule<Fault extends string>(schedule: Schedule<Fault>): string {
  const faultWidth = Math.max(0, ...schedule.faults.map((entry) => entry.fault.length));
  const targetWidth = Math.max(0, ...schedule.faults.map((entry) => entry.target.length));
  const lines = schedule.faults.map(
    (entry) =>
      `  at ${String(entry.atMs).padStart(7)} ms  ${entry.fault.padEnd(faultWidth)}  ${entry.target.padEnd(targetWidth)}  for ${entry.durationMs} ms`,
  );
  return [
    `nemesis seed ${schedule.seed}: ${schedule.faults.length} faults over ${schedule.durationMs} ms, then ${schedule.quiesceMs} ms quiet`,
    ...lines,
  ].join('\n');
}

/** Undoes one fault: resumes the node, restarts it, heals the link. */
export type Heal = () => void | Promise<void>;

/** Injects one fault on `target` and returns how to heal it. */
export type FaultAction<Fault extends string> = (
  target: string,
  scheduled: ScheduledFault<Fault>,
) => Heal | Promise<Heal>;

export interface RunOptions {
  /** Called once after the last fault heals, even after a failure: the belt to each heal's braces. */
  healAll?: Heal | undefined;
  /** Longest an injection or a heal may take before the run fails. */
  actionTimeoutMs?: number | undefined;
  /** Ends the run early: the active fault is healed, then `healAll`, and the run rejects. */
  signal?: AbortSignal | undefined;
}

/** What happened to one fault, times from the start of the run. */
export interface InjectedFault<Fault extends string> extends ScheduledFault<Fault> {
  injectedAtMs: number;
  healedAtMs: number;
}

const DEFAULT_ACTION_TIMEOUT_MS = 30_000;

export class Nemesis<Fault extends string> {
  readonly schedule: Schedule<Fault>;

  constructor(options: NemesisOptions<Fault>) {
    this.schedule = planSchedule(options);
  }

  describe(): string {
    return describeSchedule(this.schedule);
  }

  /**
   * Plays the schedule: each fault's action at its time, its heal when its duration is up, then
   * `healAll` and the quiet time. A failing or hung action fails the run with the schedule in the
   * message. In a test, a run still going when the test ends is stopped and healed before the
   * test's other cleanups.
   */
  async run(
    actions: Record<Fault, FaultAction<Fault>>,
    options: RunOptions = {},
  ): Promise<InjectedFault<Fault>[]> {
    const controller = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
    const played = this.play(actions, { ...options, signal });
    try {
      onTestFinished(async () => {
        controller.abort(new Error('the test ended before the nemesis run did'));
        await played.catch(() => undefined);
      });
    } catch {
      // Not inside a test: the caller's signal is the only early end.
    }
    return played;
  }

  private async play(
    actions: Record<Fault, FaultAction<Fault>>,
    options: RunOptions & { signal: AbortSignal },
  ): Promise<InjectedFault<Fault>[]> {
    const startMs = Date.now();
    const elapsedMs = () => Date.now() - startMs;
    const timeoutMs = options.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS;
    const records: InjectedFault<Fault>[] = [];
    let heal: Heal | undefined;
    try {
      for (const scheduled of this.schedule.faults) {
        await sleepUntil(startMs + scheduled.atMs, options.signal);
        const what = `${scheduled.fault} on ${scheduled.target} at ${scheduled.atMs} ms`;
        const injectedAtMs = elapsedMs();
        heal = await bounded(() => actions[scheduled.fault](scheduled.target, scheduled), timeoutMs, what);
        await sleepUntil(startMs + scheduled.atMs + scheduled.durationMs, options.signal);
        const healing = heal;
        heal = undefined;
        await bounded(healing, timeoutMs, `healing ${what}`);
        records.push({ ...scheduled, injectedAtMs, healedAtMs: elapsedMs() });
      }
    } catch (error) {
      throw new Error(`nemesis run failed: ${(error as Error).message}\n${this.describe()}`, {
        cause: error,
      });
    } finally {
      await this.healRest(heal, options.healAll, timeoutMs);
    }
    await sleep(this.schedule.quiesceMs, options.signal);
    return records;
  }

  /** After a failure, the active fault's heal; always `healAll`. Both are tried whatever the other does. */
  private async healRest(
    heal: Heal | undefined,
    healAll: Heal | undefined,
    timeoutMs: number,
  ): Promise<void> {
    const outcomes = await Promise.allSettled(
      [heal, healAll]
        .filter((step): step is Heal => step !== undefined)
        .map((step) => bounded(step, timeoutMs, 'healing after the run')),
    );
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) throw new Error(`nemesis could not heal:\n${this.describe()}`, { cause: failure.reason });
  }
}

/**
 * Resolves once `Date.now()` reaches `deadlineMs`. A timer may fire a millisecond before the wall
 * clock says its delay is up (libuv measures from its cached loop time), and a fault healed even
 * 1 ms early breaks the schedule's promise, so it sleeps again for what is left.
 */
async function sleepUntil(deadlineMs: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  for (let leftMs = deadlineMs - Date.now(); leftMs > 0; leftMs = deadlineMs - Date.now())
    await sleep(leftMs, signal);
}

/** Resolves after `delayMs`, or rejects at once when `signal` aborts. */
function sleep(delayMs: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, delayMs),
    );
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `step()`, failing after `timeoutMs` if it has not settled: a hung action cannot hang the run. */
async function bounded<Result>(
  step: () => Result | Promise<Result>,
  timeoutMs: number,
  what: string,
): Promise<Result> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(step), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a run injected, as the report lists faults (times from the run's start). */
export function toFaultRecords<Fault extends string>(
  injected: readonly InjectedFault<Fault>[],
): FaultRecord[] {
  return injected.map((fault) => ({
    kind: fault.fault,
    target: fault.target,
    startMs: fault.injectedAtMs,
    endMs: fault.healedAtMs,
  }));
}
