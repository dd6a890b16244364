/**
 * Reset schedules: when a board's periods begin, as wall-clock boundaries in the board's time
 * zone (local midnight; Monday for weeks; the 1st for months). DST moves the UTC instant of a
 * boundary, never the local one: a day may last 23 or 25 hours.
 */

import { type Cron, cronMatchesDay } from './cron.js';

export const RESETS = ['never', 'daily', 'weekly', 'monthly', 'cron'] as const;
export type Reset = (typeof RESETS)[number];

const HOUR_MS = 3_600_000;
/** How far a cron schedule's previous or next firing is searched for (and its longest period). */
export const CRON_SEARCH_DAYS = 400;
/** The longest period of each schedule (a DST day is 25 hours), for the tie-break's horizon. */
export const PERIOD_MS_MAX: Record<Exclude<Reset, 'never'>, number> = {
  daily: 25 * HOUR_MS,
  weekly: (7 * 24 + 1) * HOUR_MS,
  monthly: (31 * 24 + 1) * HOUR_MS,
  // A cron board's periods may last up to this long; a schedule with a longer gap is refused.
  cron: CRON_SEARCH_DAYS * 24 * HOUR_MS,
};

export class BadTimeZoneError extends Error {
  constructor(readonly timeZone: string) {
    super(`unknown time zone ${JSON.stringify(timeZone)} (an IANA name such as Europe/Paris)`);
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const FORMATTERS_MAX = 1_000;

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new BadTimeZoneError(timeZone);
    }
    if (formatters.size >= FORMATTERS_MAX) formatters.clear();
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function checkTimeZone(timeZone: string): void {
  if (timeZone.length > 64) throw new BadTimeZoneError(timeZone);
  formatterOf(timeZone);
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localTimeOf(ms: number, timeZone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const part of formatterOf(timeZone).formatToParts(ms)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/** The zone's offset from UTC at an instant, in ms (local = utc + offset). */
function offsetAt(ms: number, timeZone: string): number {
  const local = localTimeOf(ms, timeZone);
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The instant of a local wall time (two passes settle the offset on either side of a DST change). */
function localToUtc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timeZone: string,
): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  const first = guess - offsetAt(guess, timeZone);
  return guess - offsetAt(first, timeZone);
}

function localMidnight(year: number, month: number, day: number, timeZone: string): number {
  return localToUtc(year, month, day, 0, 0, timeZone);
}

/** The local calendar day `offset` days from the given one. */
function dayFrom(year: number, month: number, day: number, offset: number): [number, number, number] {
  const date = new Date(Date.UTC(year, month - 1, day + offset));
  return [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
}

/** The cron's latest firing at or before `atMs`, or null when none in CRON_SEARCH_DAYS. */
export function previousFire(cron: Cron, timeZone: string, atMs: number): number | null {
  const local = localTimeOf(atMs, timeZone);
  for (let back = 0; back <= CRON_SEARCH_DAYS; back += 1) {
    const [year, month, day] = dayFrom(local.year, local.month, local.day, -back);
    if (!cronMatchesDay(cron, year, month, day)) continue;
    for (let hourIndex = cron.hours.length - 1; hourIndex >= 0; hourIndex -= 1) {
      for (let minuteIndex = cron.minutes.length - 1; minuteIndex >= 0; minuteIndex -= 1) {
        const fire = localToUtc(
          year,
          month,
          day,
          cron.hours[hourIndex]!,
          cron.minutes[minuteIndex]!,
          timeZone,
        );
        if (fire <= atMs) return fire;
      }
    }
  }
  return null;
}

/** The cron's first firing after `afterMs`, or null when none in CRON_SEARCH_DAYS. */
export function nextFire(cron: Cron, timeZone: string, afterMs: number): number | null {
  const local = localTimeOf(afterMs, timeZone);
  for (let ahead = 0; ahead <= CRON_SEARCH_DAYS; ahead += 1) {
    const [year, month, day] = dayFrom(local.year, local.month, local.day, ahead);
    if (!cronMatchesDay(cron, year, month, day)) continue;
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const fire = localToUtc(year, month, day, hour, minute, timeZone);
        if (fire > afterMs) return fire;
      }
    }
  }
  return null;
}

/**
 * The start of the period that contains `nowMs`; `never` has one period, from the board's
 * creation, and so does a cron board until its schedule first fires.
 */
export function periodStartOf(
  reset: Reset,
  timeZone: string,
  nowMs: number,
  createdAtMs: number,
  cron?: Cron,
): number {
  if (reset === 'never') return createdAtMs;
  if (reset === 'cron') {
    if (!cron) throw new Error('a cron board needs its schedule');
    const fired = previousFire(cron, timeZone, nowMs);
    return fired === null || fired < createdAtMs ? createdAtMs : fired;
  }
  const local = localTimeOf(nowMs, timeZone);
  if (reset === 'daily') return localMidnight(local.year, local.month, local.day, timeZone);
  if (reset === 'monthly') return localMidnight(local.year, local.month, 1, timeZone);
  // Weeks start on Monday (ISO 8601); Date.UTC normalises a day before the 1st into last month.
  const weekday = new Date(Date.UTC(local.year, local.month - 1, local.day)).getUTCDay();
  const monday = new Date(Date.UTC(local.year, local.month - 1, local.day - ((weekday + 6) % 7)));
  return localMidnight(monday.getUTCFullYear(), monday.getUTCMonth() + 1, monday.getUTCDate(), timeZone);
}

/** The start of the period after the one that began at `periodStartMs` (null for `never`). */
export function nextPeriodStart(
  reset: Reset,
  timeZone: string,
  periodStartMs: number,
  cron?: Cron,
): number | null {
  if (reset === 'never') return null;
  if (reset === 'cron') {
    if (!cron) throw new Error('a cron board needs its schedule');
    return nextFire(cron, timeZone, periodStartMs);
  }
  // A few hours in, the local date is the period's first day whatever the DST shift.
  const local = localTimeOf(periodStartMs + 3 * HOUR_MS, timeZone);
  if (reset === 'daily') return localMidnight(local.year, local.month, local.day + 1, timeZone);
  if (reset === 'weekly') return localMidnight(local.year, local.month, local.day + 7, timeZone);
  return localMidnight(local.year, local.month + 1, 1, timeZone);
}
