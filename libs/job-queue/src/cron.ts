import { CronExpressionParser } from 'cron-parser';
import type { JobQueue } from './client.js';
import { JobQueueError, JobQueueErrorCode } from './errors.js';
import { assertQueueName, type JobInsert, jobInsertOf, jsonWithin } from './options.js';
import type { JobOptions, JsonValue } from './types.js';

/**
 * Cron schedules. Each schedule row holds its next tick. `tick()` takes the due schedules with
 * `FOR UPDATE SKIP LOCKED` (replicas split the work instead of waiting on each other), enqueues
 * the due ticks and moves `next_tick_at` past now, in one transaction. Each tick's job carries the
 * key `cron:<schedule>:<tick ISO time>`, and the queue's unique job keys make a second enqueue of
 * the same tick impossible, whatever the replicas' timing: exactly one job per (schedule, tick).
 *
 * Missed ticks (every replica down past a tick): `skip` enqueues only the latest missed tick;
 * `catch-up` enqueues every missed tick, the most recent `catchUpMax` of them.
 *
 * Times follow the schedule's IANA time zone through cron-parser: a wall time that does not exist
 * (spring forward) runs at the first instant after the gap, and a wall time that happens twice
 * (fall back) runs once, at its first occurrence.
 */

export type MissedTicks = 'skip' | 'catch-up';

export interface ScheduleSpec {
  /** Unique; names the schedule in job keys. */
  name: string;
  queue: string;
  /** 5 fields (minute first) or 6 (second first). */
  cron: string;
  /** IANA zone, default UTC. */
  timeZone?: string;
  payload?: unknown;
  options?: Omit<JobOptions, 'jobKey' | 'runAt' | 'delayMs'>;
  missedTicks?: MissedTicks;
}

export interface Schedule extends Required<Omit<ScheduleSpec, 'options' | 'payload'>> {
  payload: JsonValue;
  options: Omit<JobOptions, 'jobKey' | 'runAt' | 'delayMs'>;
  nextTickAt: Date;
}

export interface CronSchedulerOptions {
  /** Ticks enqueued per schedule after downtime under catch-up. Default 100. */
  catchUpMax?: number;
  /** The safety poll: a replica also wakes at the earliest next tick it knows. Default 60 s. */
  pollMs?: number;
  /** Schedules handled per transaction. Default 100. */
  batch?: number;
  /** Called with a failed tick (a database error); the loop retries within a second. */
  onError?: (error: unknown) => void;
}

const CRON_CHARS_MAX = 256;
const FORWARD_STEPS_MAX = 10_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function invalidCron(message: string): JobQueueError {
  return new JobQueueError(JobQueueErrorCode.INVALID_CRON, message);
}

function assertTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw invalidCron(`unknown time zone ${JSON.stringify(timeZone)}`);
  }
}

/** The first tick strictly after `afterMs`. Throws INVALID_CRON for an expression that does not parse. */
export function nextTick(cron: string, timeZone: string, afterMs: number): Date {
  if (typeof cron !== 'string' || cron.length > CRON_CHARS_MAX)
    throw invalidCron(`cron must be at most ${CRON_CHARS_MAX} characters`);
  const fields = cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6)
    throw invalidCron(`cron ${JSON.stringify(cron)} must have 5 or 6 fields, has ${fields}`);
  assertTimeZone(timeZone);
  try {
    return CronExpressionParser.parse(cron, { currentDate: new Date(afterMs), tz: timeZone })
      .next()
      .toDate();
  } catch (error) {
    throw invalidCron(`cron ${JSON.stringify(cron)} does not parse: ${(error as Error).message}`);
  }
}

interface ScheduleRow {
  name: string;
  queue: string;
  cron: string;
  time_zone: string;
  payload: JsonValue;
  job_options: Omit<JobOptions, 'jobKey' | 'runAt' | 'delayMs'>;
  missed_ticks: MissedTicks;
  next_tick_at: Date | string;
}

function scheduleOf(row: ScheduleRow): Schedule {
  return {
    name: row.name,
    queue: row.queue,
    cron: row.cron,
    timeZone: row.time_zone,
    payload: row.payload,
    options: row.job_options,
    missedTicks: row.missed_ticks,
    nextTickAt: new Date(row.next_tick_at),
  };
}

export class CronScheduler {
  private readonly catchUpMax: number;
  private readonly pollMs: number;
  private readonly batch: number;
  private readonly onError: (error: unknown) => void;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ticking: Promise<number> | undefined;

  constructor(
    private readonly queue: JobQueue,
    options: CronSchedulerOptions = {},
  ) {
    this.catchUpMax = options.catchUpMax ?? 100;
    this.pollMs = options.pollMs ?? 60_000;
    this.batch = options.batch ?? 100;
    this.onError = options.onError ?? (() => undefined);
  }

  /** Creates or replaces a schedule. A changed cron or zone restarts it from the next tick after now. */
  async upsert(spec: ScheduleSpec): Promise<Schedule> {
    if (typeof spec.name !== 'string' || !NAME.test(spec.name)) {
      throw new JobQueueError(JobQueueErrorCode.INVALID_OPTION, `schedule name must match ${NAME}`);
    }
    assertQueueName(spec.queue);
    const timeZone = spec.timeZone ?? 'UTC';
    const missedTicks = spec.missedTicks ?? 'skip';
    if (missedTicks !== 'skip' && missedTicks !== 'catch-up') {
      throw new JobQueueError(JobQueueErrorCode.INVALID_OPTION, 'missedTicks must be skip or catch-up');
    }
    const nowMs = this.queue.now();
    const next = nextTick(spec.cron, timeZone, nowMs);
    // Validates payload and options now, so a bad schedule fails here and not at every tick.
    jobInsertOf(spec.queue, spec.payload ?? null, spec.options ?? {}, nowMs, this.queue.limits);
    const payloadJson = jsonWithin('payload', spec.payload ?? null, this.queue.limits.payloadBytesMax);
    const result = await this.queue.sql.query<ScheduleRow>(
      `INSERT INTO ${this.queue.schema}.schedules (name, queue, cron, time_zone, payload, job_options, missed_ticks,
         next_tick_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $9)
       ON CONFLICT (name) DO UPDATE SET queue = EXCLUDED.queue, payload = EXCLUDED.payload,
         job_options = EXCLUDED.job_options, missed_ticks = EXCLUDED.missed_ticks, updated_at = EXCLUDED.updated_at,
         next_tick_at = CASE WHEN schedules.cron = EXCLUDED.cron AND schedules.time_zone = EXCLUDED.time_zone
                             THEN schedules.next_tick_at ELSE EXCLUDED.next_tick_at END,
         cron = EXCLUDED.cron, time_zone = EXCLUDED.time_zone
       RETURNING *`,
      [
        spec.name,
        spec.queue,
        spec.cron,
        timeZone,
        payloadJson,
        JSON.stringify(spec.options ?? {}),
        missedTicks,
        next,
        new Date(nowMs),
      ],
    );
    this.wake();
    return scheduleOf(result.rows[0] as ScheduleRow);
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.queue.sql.query(
      `DELETE FROM ${this.queue.schema}.schedules WHERE name = $1 RETURNING name`,
      [name],
    );
    return result.rows.length > 0;
  }

  async list(): Promise<Schedule[]> {
    const result = await this.queue.sql.query<ScheduleRow>(
      `SELECT * FROM ${this.queue.schema}.schedules ORDER BY name`,
    );
    return result.rows.map(scheduleOf);
  }

  /** Enqueues every due tick of every due schedule; resolves with how many jobs it created. */
  async tick(): Promise<number> {
    let created = 0;
    for (;;) {
      const { jobs, schedules } = await this.tickBatch();
      created += jobs;
      if (schedules < this.batch) return created;
    }
  }

  private async tickBatch(): Promise<{ jobs: number; schedules: number }> {
    const s = this.queue.schema;
    const inserts: JobInsert[] = [];
    const result = await this.queue.sql.tx(async (tx) => {
      const nowMs = this.queue.now();
      const due = await tx.query<ScheduleRow>(
        `SELECT * FROM ${s}.schedules WHERE next_tick_at <= $1 ORDER BY next_tick_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [new Date(nowMs), this.batch],
      );
      for (const row of due.rows) {
        const ticks = this.dueTicks(row, nowMs);
        for (const tickAt of ticks) {
          inserts.push(
            jobInsertOf(
              row.queue,
              row.payload,
              { ...row.job_options, runAt: tickAt, jobKey: `cron:${row.name}:${tickAt.toISOString()}` },
              nowMs,
              this.queue.limits,
            ),
          );
        }
        await tx.query(`UPDATE ${s}.schedules SET next_tick_at = $2, updated_at = $3 WHERE name = $1`, [
          row.name,
          nextTick(row.cron, row.time_zone, nowMs),
          new Date(nowMs),
        ]);
      }
      const results = inserts.length > 0 ? await this.queue.insertJobs(tx, inserts, { nowMs }) : [];
      return { jobs: results.filter((entry) => entry.created).length, schedules: due.rows.length };
    });
    if (inserts.length > 0) this.queue.wakeLocal(inserts);
    return result;
  }

  /**
   * The due ticks from the row's next tick up to now, after the missed-tick policy. Walks forward
   * with the same `next()` that set `next_tick_at` (cron-parser's backward walk disagrees with it
   * across a spring-forward gap), keeping the last `keep`. A downtime longer than
   * FORWARD_STEPS_MAX ticks (a per-second schedule down for hours) jumps to the tick before now.
   */
  private dueTicks(row: ScheduleRow, nowMs: number): Date[] {
    const keep = row.missed_ticks === 'skip' ? 1 : this.catchUpMax;
    const ticks: Date[] = [];
    let tick = new Date(row.next_tick_at);
    for (let step = 0; tick.getTime() <= nowMs; step += 1) {
      if (step === FORWARD_STEPS_MAX) {
        ticks.length = 0;
        // cron-parser works in whole seconds: start a second ahead and drop what is after now.
        const walk = CronExpressionParser.parse(row.cron, {
          currentDate: new Date(nowMs + 1_000),
          tz: row.time_zone,
        });
        while (ticks.length < keep) {
          const previous = walk.prev().toDate();
          if (previous.getTime() <= nowMs) ticks.unshift(previous);
        }
        return ticks;
      }
      ticks.push(tick);
      if (ticks.length > keep) ticks.shift();
      tick = nextTick(row.cron, row.time_zone, tick.getTime());
    }
    return ticks;
  }

  /** Runs `tick()` at each schedule's next tick (and at the safety poll) until `close()`. */
  start(): this {
    this.running = true;
    this.wake();
    return this;
  }

  async close(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  private wake(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.loop(), 0);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    if (!this.running || this.ticking) return;
    let delayMs = this.pollMs;
    try {
      this.ticking = this.tick();
      await this.ticking;
      const next = await this.queue.sql.query<{ at: Date | string | null }>(
        `SELECT min(next_tick_at) AS at FROM ${this.queue.schema}.schedules`,
      );
      const at = next.rows[0]?.at;
      if (at !== null && at !== undefined)
        delayMs = Math.min(this.pollMs, Math.max(0, new Date(at).getTime() - this.queue.now()));
    } catch (error) {
      this.onError(error);
      delayMs = Math.min(this.pollMs, 1_000);
    } finally {
      this.ticking = undefined;
    }
    if (!this.running) return;
    this.timer = setTimeout(() => void this.loop(), delayMs);
    this.timer.unref();
  }
}
