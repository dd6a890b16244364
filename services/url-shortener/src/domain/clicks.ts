import { z } from 'zod';
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

export interface ClickEvent {
  code: string;
  /** ms since the epoch. */
  at: number;
  referrer: string;
  device: DeviceClass;
}

export interface ClickMessageValue {
  v: 1;
  clicks: ClickEvent[];
}

const clickEventSchema = z.object({
  code: z.string().regex(CODE_PATTERN),
  at: z.number().int().nonnegative(),
  referrer: z.string().min(1).max(253),
  device: z.enum(DEVICE_CLASSES),
});

/** A consumed value, validated: the bus carries JSON anyone with access could have written. */
export const clickMessageSchema = z.object({
  v: z.literal(1),
  clicks: z.array(clickEventSchema).max(100_000),
});

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
export interface CodeCount {
  code: string;
  clicks: number;
}

/** What one flush adds to the counters. */
export interface ClickDeltas {
  totals: CodeCount[];
  minutes: MinuteCount[];
  referrers: KeyedCount[];
  devices: KeyedCount[];
}

export function minuteOf(atMs: number): number {
  return atMs - (atMs % MINUTE_MS);
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The unit separator cannot occur in a code, a host or a device class. */
const SEPARATOR = '\u001f';

function split(key: string): [string, string] {
  const at = key.indexOf(SEPARATOR);
  return [key.slice(0, at), key.slice(at + 1)];
}

/** Counts a set of click events in memory: one row per (code, minute), (code, referrer)... */
export function countClicks(batches: Iterable<Pick<ClickBatch, 'clicks'>>): ClickDeltas {
  const totals = new Map<string, number>();
  const minutes = new Map<string, number>();
  const referrers = new Map<string, number>();
  const devices = new Map<string, number>();
  for (const batch of batches) {
    for (const click of batch.clicks) {
      bump(totals, click.code);
      bump(minutes, `${click.code}${SEPARATOR}${minuteOf(click.at)}`);
      bump(referrers, `${click.code}${SEPARATOR}${click.referrer}`);
      bump(devices, `${click.code}${SEPARATOR}${click.device}`);
    }
  }
  const keyed = (map: Map<string, number>) =>
    [...map].map(([key, clicks]) => {
      const [code, rest] = split(key);
      return { code, key: rest, clicks };
    });
  return {
    totals: [...totals].map(([code, clicks]) => ({ code, clicks })),
    minutes: keyed(minutes).map(({ code, key, clicks }) => ({ code, minuteMs: Number(key), clicks })),
    referrers: keyed(referrers),
    devices: keyed(devices),
  };
}

export interface ClickStats {
  total: number;
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
