import { type Clock, systemClock } from '../clock.js';
import { CompiledLayout, type FieldName, type IdLayout, SNOWFLAKE_LAYOUT } from './layout.js';

/**
 * The Snowflake generator: strictly increasing 64-bit ids from (time, node, sequence), made
 * locally with no coordination. Two rules keep it from ever issuing a duplicate:
 *
 * - Sequence exhausted within one time unit: wait for the next unit.
 * - Clock moved backwards (NTP step, VM migration): never issue an id with an older time. A
 *   small rollback (up to `maxRollbackMs`) is waited out; a larger one is refused until the
 *   clock catches up, because waiting seconds inside a request is worse than failing fast.
 *
 * A worker lease adds two bounds (see `worker-lease.ts`): a floor (the last time a previous
 * holder of this node id may have used) and a ceiling (how far the current lease reaches).
 */

export type WaitReason = 'sequence-exhausted' | 'clock-rollback';

/** Returned instead of an id when one can be issued after `waitMs`. */
export interface Wait {
  waitMs: number;
  reason: WaitReason;
}

export class ClockMovedBackwardsError extends Error {
  override name = 'ClockMovedBackwardsError';
  constructor(
    readonly rollbackMs: number,
    readonly maxRollbackMs: number,
  ) {
    super(
      `clock is ${rollbackMs} ms behind the last issued id; refusing (waits at most ${maxRollbackMs} ms)`,
    );
  }
}

export class GeneratorUnavailableError extends Error {
  override name = 'GeneratorUnavailableError';
}

export class EpochExhaustedError extends Error {
  override name = 'EpochExhaustedError';
}

export interface GeneratorObserver {
  /** A rollback was seen: waited out (`refused: false`) or refused. */
  onClockRollback?(rollbackMs: number, refused: boolean): void;
}

export interface SnowflakeOptions {
  layout?: IdLayout;
  /** Node fields of the layout: `datacenterId`/`workerId` (snowflake) or `machineId` (sonyflake). */
  node: Partial<Record<FieldName, number>>;
  epochMs: number;
  clock?: Clock;
  maxRollbackMs?: number;
  observer?: GeneratorObserver;
}

export const DEFAULT_MAX_ROLLBACK_MS = 5;

/** Waits up to this long are spun (sub-unit waits at sequence exhaustion); longer ones sleep. */
const SPIN_LIMIT_MS = 2;

export class SnowflakeGenerator {
  readonly layout: CompiledLayout;
  readonly epochMs: number;
  private readonly clock: Clock;
  private readonly maxRollbackMs: number;
  private readonly observer: GeneratorObserver;
  private readonly unitMs: number;
  private readonly timeShift: bigint;
  private readonly sequenceMultiplier: number;
  private readonly maxSequence: number;
  private readonly maxUnit: number;
  private readonly nodeBits: bigint;

  /** Time unit of the last issued id, and the sequence used in it. */
  private lastUnit = -1;
  private sequence = 0;
  /** `(lastUnit << timeShift) | nodeBits`, computed once per unit: the hot path adds the sequence. */
  private unitBase = 0n;
  /** Ids may not use a time unit beyond this (lease reach); Infinity without a lease. */
  private ceilingUnit = Number.POSITIVE_INFINITY;
  private unavailableReason: string | undefined;

  constructor(options: SnowflakeOptions) {
    this.layout = new CompiledLayout(options.layout ?? SNOWFLAKE_LAYOUT);
    this.epochMs = options.epochMs;
    this.clock = options.clock ?? systemClock;
    this.maxRollbackMs = options.maxRollbackMs ?? DEFAULT_MAX_ROLLBACK_MS;
    this.observer = options.observer ?? {};
    this.unitMs = this.layout.layout.timeUnitMs;
    this.timeShift = BigInt(this.layout.timeField.shift);
    this.sequenceMultiplier = 2 ** this.layout.sequenceField.shift;
    this.maxSequence = this.layout.sequenceField.max;
    this.maxUnit = this.layout.timeField.max;
    for (const name of this.layout.nodeFieldNames) {
      if (options.node[name] === undefined)
        throw new Error(`layout ${this.layout.layout.name} needs node field ${name}`);
    }
    this.nodeBits = this.layout.encode({ ...options.node, time: 0, sequence: 0 });
    if (this.clock.nowMs() < this.epochMs) throw new Error(`epoch ${this.epochMs} is in the future`);
  }

  /**
   * No id may use a time at or before `floorMs` (a previous holder of this node id may have).
   * Raising the floor past the clock makes the next call wait or refuse like a rollback.
   */
  raiseFloor(floorMs: number): void {
    const floorUnit = Math.floor((floorMs - this.epochMs) / this.unitMs);
    if (floorUnit >= this.lastUnit) {
      this.lastUnit = floorUnit;
      this.sequence = this.maxSequence;
      this.unitBase = (BigInt(floorUnit) << this.timeShift) | this.nodeBits;
    }
  }

  /** Ids may use times up to `ceilingMs` and no later (the reach of the current lease). */
  setCeiling(ceilingMs: number): void {
    this.ceilingUnit = Math.floor((ceilingMs - this.epochMs) / this.unitMs);
  }

  /** Stops issuing ids (lease lost) until `resume()`. */
  suspend(reason: string): void {
    this.unavailableReason = reason;
  }

  resume(): void {
    this.unavailableReason = undefined;
  }

  /** The start of the time unit of the last id issued (or of the floor), in ms since 1970. */
  get lastIssuedMs(): number {
    return this.epochMs + this.lastUnit * this.unitMs;
  }

  get available(): boolean {
    return this.unavailableReason === undefined;
  }

  /** The next id, or how long to wait for one. Throws when the id must be refused. */
  tryNext(): bigint | Wait {
    if (this.unavailableReason !== undefined) throw new GeneratorUnavailableError(this.unavailableReason);
    const nowMs = this.clock.nowMs();
    const unit = Math.floor((nowMs - this.epochMs) / this.unitMs);
    if (unit === this.lastUnit) {
      if (this.sequence < this.maxSequence) {
        this.sequence += 1;
        return this.unitBase + BigInt(this.sequence * this.sequenceMultiplier);
      }
      return { waitMs: this.epochMs + (unit + 1) * this.unitMs - nowMs, reason: 'sequence-exhausted' };
    }
    if (unit < this.lastUnit) return this.rollback(nowMs);
    if (unit > this.ceilingUnit) {
      throw new GeneratorUnavailableError('worker lease not renewed in time; refusing ids beyond its reach');
    }
    if (unit > this.maxUnit)
      throw new EpochExhaustedError(`time field exhausted: epoch ${this.epochMs} is too old`);
    this.lastUnit = unit;
    this.sequence = 0;
    this.unitBase = (BigInt(unit) << this.timeShift) | this.nodeBits;
    return this.unitBase;
  }

  private rollback(nowMs: number): Wait {
    // How long until the clock is back in the last used unit (which may have sequences left).
    const behindMs = this.epochMs + this.lastUnit * this.unitMs - nowMs;
    if (behindMs > this.maxRollbackMs) {
      this.observer.onClockRollback?.(behindMs, true);
      throw new ClockMovedBackwardsError(behindMs, this.maxRollbackMs);
    }
    this.observer.onClockRollback?.(behindMs, false);
    return { waitMs: behindMs, reason: 'clock-rollback' };
  }

  /** The next id, spinning through waits. For tight loops (benchmarks); services use `nextBatch`. */
  nextSync(): bigint {
    for (;;) {
      const result = this.tryNext();
      if (typeof result === 'bigint') return result;
      spinFor(result.waitMs, this.clock);
    }
  }

  /**
   * `count` strictly increasing ids. Short waits (sequence exhaustion) spin; longer ones
   * (Sonyflake's 10 ms units, a clock rollback) sleep so other requests keep running.
   */
  async nextBatch(count: number): Promise<bigint[]> {
    const ids = new Array<bigint>(count);
    let index = 0;
    while (index < count) {
      const result = this.tryNext();
      if (typeof result === 'bigint') {
        ids[index] = result;
        index += 1;
      } else if (result.waitMs <= SPIN_LIMIT_MS) {
        spinFor(result.waitMs, this.clock);
      } else {
        await new Promise((resolve) => setTimeout(resolve, result.waitMs));
      }
    }
    return ids;
  }

  /** The fields of an id made with this generator's layout, with its time as a Date. */
  decode(id: bigint): { timestamp: Date; fields: Record<FieldName, number> } {
    const fields = this.layout.decode(id);
    return { timestamp: new Date(this.epochMs + fields.time * this.unitMs), fields };
  }
}

function spinFor(waitMs: number, clock: Clock): void {
  const until = clock.nowMs() + waitMs;
  // An injected clock that never advances would spin forever; tests advance it in nowMs().
  while (clock.nowMs() < until) {
    // busy wait: sub-millisecond, cheaper than a timer
  }
}
