import { CODE_PATTERN } from './codes.js';
import { DEVICE_CLASSES, type DeviceClass } from './visitor.js';

/**
 * Click analytics as a stream. Each redirect makes one click event; the publisher ships them on
 * the event bus as `url.clicked` messages of 1..CLICK_BATCH_MAX events (as a Kafka producer
 * lingers), and the aggregator folds them into per-minute, per-referrer and per-device counts.
 * A message's bus id is the unit of dedupe: it stays the same across redeliveries and publisher
 * retries, and the store applies each id at most once.
 */

export const CLICKS_TOPIC = 'url.clicked';
export const MINUTE_MS = 60_000;
/** The per-minute series the API returns: the last hour, current minute included. */
export const SERIES_MINUTES = 60;
export const TOP_REFERRERS = 10;
export const DAY_MS = 86_400_000;
/** The row that holds a day's referrers beyond its top N. */
export const OTHER_REFERRER = 'other';

export interface ClickEvent {
  code: string;
  /** ms since the epoch. */
  at: number;
  referrer: string;
  device: DeviceClass;
  /**
   * The first click of this client on this code within the unique window (as the redirecting
   * instance saw it). Absent in messages of earlier versions, which count as unique.
   */
  unique?: boolean;
}

export interface ClickMessageValue {
  v: 1;
  clicks: ClickEvent[];
}

/** Clicks in one message at most: a bound on what one delivery may make the aggregator hold. */
export const CLICKS_PER_MESSAGE_MAX = 100_000;
const MAX_REFERRER_LENGTH = 253;
const DEVICES: ReadonlySet<string> = new Set(DEVICE_CLASSES);

function isClickEvent(value: unknown): value is ClickEvent {
  if (typeof value !== 'object' || value === null) return false;
  const click = value as Record<string, unknown>;
  return (
    typeof click.code === 'string' &&
    CODE_PATTERN.test(click.code) &&
    typeof click.at === 'number' &&
    Number.isSafeInteger(click.at) &&
    click.at >= 0 &&
    typeof click.referrer === 'string' &&
    click.referrer.length > 0 &&
    click.referrer.length <= MAX_REFERRER_LENGTH &&
    typeof click.device === 'string' &&
    DEVICES.has(click.device) &&
    (click.unique === undefined || typeof click.unique === 'boolean')
  );
}

/**
 * The clicks of a consumed `url.clicked` value, or undefined if it is not one: the bus carries
 * JSON anyone with access could have written. Checked by hand rather than by a schema library,
 * because it runs for every click.
 */
export function parseClickMessage(value: unknown): ClickEvent[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const message = value as Record<string, unknown>;
  if (message.v !== 1 || !Array.isArray(message.clicks) || message.clicks.length > CLICKS_PER_MESSAGE_MAX)
    return undefined;
  for (const click of message.clicks) if (!isClickEvent(click)) return undefined;
  return message.clicks as ClickEvent[];
}

/** One delivered message as the aggregator holds it until its flush. */
export interface ClickBatch {
  /** The bus message id: stable across redeliveries. */
  id: string;
  topic: string;
  partition: number;
  offset: string;
  clicks: ClickEvent[];
}

export interface MinuteCount {
  code: string;
  minuteMs: number;
  clicks: number;
}
export interface KeyedCount {
  code: string;
  key: string;
  clicks: number;
}
export interface DayKeyedCount extends KeyedCount {
  /** The UTC day, as ms since the epoch of its midnight. */
  dayMs: number;
}
export interface CodeCount {
  code: string;
  clicks: number;
  /** Of `clicks`, those marked unique. */
  unique: number;
}

/** What one flush adds to the counters. */
export interface ClickDeltas {
  totals: CodeCount[];
  minutes: MinuteCount[];
  referrers: DayKeyedCount[];
  devices: KeyedCount[];
}

export function minuteOf(atMs: number): number {
  return atMs - (atMs % MINUTE_MS);
}

export function dayOf(atMs: number): number {
  return atMs - (atMs % DAY_MS);
}

interface CodeCounts {
  total: number;
  unique: number;
  minutes: Map<number, number>;
  /** Per day, per referrer host. */
  referrers: Map<number, Map<string, number>>;
  devices: Map<string, number>;
}

function referrersOfDay(counts: CodeCounts, dayMs: number): Map<string, number> {
  let day = counts.referrers.get(dayMs);
  if (day === undefined) {
    day = new Map();
    counts.referrers.set(dayMs, day);
  }
  return day;
}

function bump<Key>(map: Map<Key, number>, key: Key): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/**
 * Counts a set of click events in memory: one row per (code, minute), (code, day, referrer) and
 * (code, device class), and a total per code. Grouping by code first keeps the per-click work to
 * a few map updates without building composite keys (this runs for every click).
 */
export function countClicks(batches: Iterable<Pick<ClickBatch, 'clicks'>>): ClickDeltas {
  const byCode = new Map<string, CodeCounts>();
  for (const batch of batches) {
    for (const click of batch.clicks) {
      let counts = byCode.get(click.code);
      if (counts === undefined) {
        counts = { total: 0, unique: 0, minutes: new Map(), referrers: new Map(), devices: new Map() };
        byCode.set(click.code, counts);
      }
      counts.total++;
      if (click.unique !== false) counts.unique++;
      bump(counts.minutes, minuteOf(click.at));
      bump(referrersOfDay(counts, dayOf(click.at)), click.referrer);
      bump(counts.devices, click.device);
    }
  }
  const deltas: ClickDeltas = { totals: [], minutes: [], referrers: [], devices: [] };
  for (const [code, counts] of byCode) {
    deltas.totals.push({ code, clicks: counts.total, unique: counts.unique });
    for (const [minuteMs, clicks] of counts.minutes) deltas.minutes.push({ code, minuteMs, clicks });
    for (const [dayMs, day] of counts.referrers)
      for (const [key, clicks] of day) deltas.referrers.push({ code, dayMs, key, clicks });
    for (const [key, clicks] of counts.devices) deltas.devices.push({ code, key, clicks });
  }
  return deltas;
}

export interface ClickStats {
  total: number;
  /** Clicks less repeats of one client within the unique window. */
  unique: number;
  /** Oldest first; the last entry is the current minute. */
  perMinute: { minute: string; clicks: number }[];
  topReferrers: { referrer: string; clicks: number }[];
  devices: { device: string; clicks: number }[];
}

/** The last hour as SERIES_MINUTES buckets, zeros where nothing was counted. */
export function minuteSeries(counts: ReadonlyMap<number, number>, nowMs: number): ClickStats['perMinute'] {
  const current = minuteOf(nowMs);
  const series: ClickStats['perMinute'] = [];
  for (let index = SERIES_MINUTES - 1; index >= 0; index--) {
    const minuteMs = current - index * MINUTE_MS;
    series.push({ minute: new Date(minuteMs).toISOString(), clicks: counts.get(minuteMs) ?? 0 });
  }
  return series;
}
