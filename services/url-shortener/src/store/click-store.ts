import type { Sql, SqlQueryable } from '@sysdesign/platform';
import {
  type ClickBatch,
  type ClickDeltas,
  type ClickStats,
  countClicks,
  dayOf,
  MINUTE_MS,
  minuteOf,
  minuteSeries,
  OTHER_REFERRER,
  SERIES_MINUTES,
  TOP_REFERRERS,
} from '../domain/clicks.js';

/**
 * The click counters. `apply` is the aggregator's flush: in one transaction it records the ids of
 * the batches it has not seen (dedupe), adds their counts with additive upserts, and moves the
 * per-partition checkpoint. A batch whose id was applied before adds nothing, so a redelivery or
 * a retried flush never counts twice; a flush that fails rolls back whole, so nothing is counted
 * half. Clicks of codes that are unknown or deleted are dropped.
 *
 * Referrers are counted per link per UTC day and folded, in the same transaction, to the day's
 * top `referrerTopN` hosts plus one `other` row: however many distinct Referer headers arrive, a
 * link has at most N+1 referrer rows a day, kept for the retention.
 */

export interface ClickStoreOptions {
  /** Referrer hosts kept per link per day; the rest are counted as `other`. */
  referrerTopN: number;
}

export interface ApplyResult {
  /** Batches applied now. */
  applied: number;
  /** Batches whose id was applied before (or appeared twice in this call). */
  duplicates: number;
  /** Clicks in the applied batches. */
  clicks: number;
}

export interface Checkpoint {
  partition: number;
  /** The position after the last applied message. */
  nextOffset: string;
  clicks: number;
}

export interface RetentionPolicy {
  dedupeRetentionMs: number;
  minutesRetentionMs: number;
  referrerRetentionMs: number;
}

export interface ClickStore {
  apply(batches: readonly ClickBatch[]): Promise<ApplyResult>;
  stats(code: string, nowMs: number): Promise<ClickStats>;
  checkpoints(topic: string): Promise<Checkpoint[]>;
  /** Forgets dedupe ids, per-minute counts and referrer days older than the policy keeps. */
  prune(nowMs: number, policy: RetentionPolicy): Promise<void>;
}

/** Keeps the first batch of each id. */
function uniqueById(batches: readonly ClickBatch[]): ClickBatch[] {
  const seen = new Set<string>();
  return batches.filter((batch) => {
    if (seen.has(batch.id)) return false;
    seen.add(batch.id);
    return true;
  });
}

interface PartitionProgress {
  topic: string;
  partition: number;
  nextOffset: bigint;
  clicks: number;
}

/** Per (topic, partition): the furthest position among `all`, and the clicks of `applied`. */
function progressOf(all: readonly ClickBatch[], applied: ReadonlySet<ClickBatch>): PartitionProgress[] {
  const progress = new Map<string, PartitionProgress>();
  for (const batch of all) {
    const key = `${batch.topic}/${batch.partition}`;
    const entry = progress.get(key) ?? {
      topic: batch.topic,
      partition: batch.partition,
      nextOffset: 0n,
      clicks: 0,
    };
    const next = BigInt(batch.offset) + 1n;
    if (next > entry.nextOffset) entry.nextOffset = next;
    if (applied.has(batch)) entry.clicks += batch.clicks.length;
    progress.set(key, entry);
  }
  return [...progress.values()];
}

const byClicksThenName =
  <T extends { clicks: number }>(name: (item: T) => string) =>
  (left: T, right: T) =>
    right.clicks - left.clicks || (name(left) < name(right) ? -1 : name(left) > name(right) ? 1 : 0);

export const DEFAULT_REFERRER_TOP_N = 20;

/** A day's referrers cut to the top `topN` hosts (by clicks, then name) plus `other`. */
function foldReferrers(day: Map<string, number>, topN: number): Map<string, number> {
  if (day.size <= topN + 1) return day;
  const ranked = [...day]
    .filter(([referrer]) => referrer !== OTHER_REFERRER)
    .map(([referrer, clicks]) => ({ referrer, clicks }))
    .sort(byClicksThenName((item) => item.referrer));
  const folded = new Map(ranked.slice(0, topN).map((item) => [item.referrer, item.clicks]));
  const rest = ranked.slice(topN).reduce((sum, item) => sum + item.clicks, 0);
  const other = (day.get(OTHER_REFERRER) ?? 0) + rest;
  if (other > 0) folded.set(OTHER_REFERRER, other);
  return folded;
}

/** The in-memory adapter; `isLive` tells it which codes exist (the memory link store). */
export class MemoryClickStore implements ClickStore {
  private readonly appliedIds = new Map<string, number>();
  private readonly totals = new Map<string, { clicks: number; unique: number }>();
  private readonly minutes = new Map<string, Map<number, number>>();
  /** Per code, per UTC day, per referrer host. */
  private readonly referrers = new Map<string, Map<number, Map<string, number>>>();
  private readonly devices = new Map<string, Map<string, number>>();
  private readonly progress = new Map<string, Checkpoint & { topic: string }>();

  constructor(
    private readonly isLive: (code: string) => boolean,
    private readonly nowMs: () => number = Date.now,
    private readonly options: ClickStoreOptions = { referrerTopN: DEFAULT_REFERRER_TOP_N },
  ) {}

  async apply(batches: readonly ClickBatch[]): Promise<ApplyResult> {
    const fresh = uniqueById(batches).filter((batch) => !this.appliedIds.has(batch.id));
    for (const batch of fresh) this.appliedIds.set(batch.id, this.nowMs());
    this.add(countClicks(fresh));
    for (const entry of progressOf(batches, new Set(fresh))) {
      const key = `${entry.topic}/${entry.partition}`;
      const previous = this.progress.get(key);
      const nextOffset =
        previous && BigInt(previous.nextOffset) > entry.nextOffset
          ? previous.nextOffset
          : String(entry.nextOffset);
      this.progress.set(key, { ...entry, nextOffset, clicks: (previous?.clicks ?? 0) + entry.clicks });
    }
    const clicks = fresh.reduce((sum, batch) => sum + batch.clicks.length, 0);
    return { applied: fresh.length, duplicates: batches.length - fresh.length, clicks };
  }

  private add(deltas: ClickDeltas): void {
    const keyed = (target: Map<string, Map<string, number>>, code: string, key: string, clicks: number) => {
      const map = target.get(code) ?? new Map<string, number>();
      map.set(key, (map.get(key) ?? 0) + clicks);
      target.set(code, map);
    };
    for (const { code, clicks, unique } of deltas.totals) {
      if (!this.isLive(code)) continue;
      const total = this.totals.get(code) ?? { clicks: 0, unique: 0 };
      this.totals.set(code, { clicks: total.clicks + clicks, unique: total.unique + unique });
    }
    for (const { code, minuteMs, clicks } of deltas.minutes) {
      if (!this.isLive(code)) continue;
      const map = this.minutes.get(code) ?? new Map<number, number>();
      map.set(minuteMs, (map.get(minuteMs) ?? 0) + clicks);
      this.minutes.set(code, map);
    }
    for (const { code, dayMs, key, clicks } of deltas.referrers) {
      if (!this.isLive(code)) continue;
      const days = this.referrers.get(code) ?? new Map<number, Map<string, number>>();
      const day = days.get(dayMs) ?? new Map<string, number>();
      day.set(key, (day.get(key) ?? 0) + clicks);
      days.set(dayMs, foldReferrers(day, this.options.referrerTopN));
      this.referrers.set(code, days);
    }
    for (const { code, key, clicks } of deltas.devices)
      if (this.isLive(code)) keyed(this.devices, code, key, clicks);
  }

  /** Drops a deleted link's counters. */
  forget(code: string): void {
    this.totals.delete(code);
    this.minutes.delete(code);
    this.referrers.delete(code);
    this.devices.delete(code);
  }

  async stats(code: string, nowMs: number): Promise<ClickStats> {
    const summed = new Map<string, number>();
    for (const day of this.referrers.get(code)?.values() ?? []) {
      for (const [referrer, clicks] of day) summed.set(referrer, (summed.get(referrer) ?? 0) + clicks);
    }
    const referrers = [...summed].map(([referrer, clicks]) => ({ referrer, clicks }));
    const devices = [...(this.devices.get(code) ?? [])].map(([device, clicks]) => ({ device, clicks }));
    const totals = this.totals.get(code) ?? { clicks: 0, unique: 0 };
    return {
      total: totals.clicks,
      unique: totals.unique,
      perMinute: minuteSeries(this.minutes.get(code) ?? new Map(), nowMs),
      topReferrers: referrers.sort(byClicksThenName((item) => item.referrer)).slice(0, TOP_REFERRERS),
      devices: devices.sort(byClicksThenName((item) => item.device)),
    };
  }

  async checkpoints(topic: string) {
    return [...this.progress.values()]
      .filter((entry) => entry.topic === topic)
      .map(({ partition, nextOffset, clicks }) => ({ partition, nextOffset, clicks }))
      .sort((left, right) => left.partition - right.partition);
  }

  async prune(nowMs: number, policy: RetentionPolicy) {
    for (const [id, appliedAtMs] of this.appliedIds) {
      if (appliedAtMs < nowMs - policy.dedupeRetentionMs) this.appliedIds.delete(id);
    }
    const oldestMinute = minuteOf(nowMs - policy.minutesRetentionMs);
    for (const map of this.minutes.values()) {
      for (const minuteMs of map.keys()) if (minuteMs < oldestMinute) map.delete(minuteMs);
    }
    const oldestDay = dayOf(nowMs - policy.referrerRetentionMs);
    for (const days of this.referrers.values()) {
      for (const dayMs of days.keys()) if (dayMs < oldestDay) days.delete(dayMs);
    }
  }

  /** Referrer rows (code, day, host) held: the bound the fold keeps. */
  referrerRows(code: string): number {
    let rows = 0;
    for (const day of this.referrers.get(code)?.values() ?? []) rows += day.size;
    return rows;
  }
}

/** Postgres or PGlite. Arrays travel as parameters and are spread with unnest: one statement per table. */
export class PostgresClickStore implements ClickStore {
  constructor(
    private readonly sql: Sql,
    private readonly options: ClickStoreOptions = { referrerTopN: DEFAULT_REFERRER_TOP_N },
  ) {}

  async apply(batches: readonly ClickBatch[]): Promise<ApplyResult> {
    const unique = uniqueById(batches);
    if (unique.length === 0) return { applied: 0, duplicates: 0, clicks: 0 };
    return this.sql.tx(async (tx) => {
      // The dedupe and the counts commit together: an id is recorded if and only if its clicks are.
      const { rows } = await tx.query<{ message_id: string }>(
        `INSERT INTO click_messages (message_id, applied_at)
         SELECT id, now() FROM unnest($1::text[]) AS t(id)
         ON CONFLICT (message_id) DO NOTHING
         RETURNING message_id`,
        [unique.map((batch) => batch.id)],
      );
      const newIds = new Set(rows.map((row) => row.message_id));
      const fresh = unique.filter((batch) => newIds.has(batch.id));
      const deltas = countClicks(fresh);
      await addDeltas(tx, deltas);
      await foldReferrerDays(tx, deltas, this.options.referrerTopN);
      await moveCheckpoints(tx, progressOf(batches, new Set(fresh)));
      const clicks = fresh.reduce((sum, batch) => sum + batch.clicks.length, 0);
      return { applied: fresh.length, duplicates: batches.length - fresh.length, clicks };
    });
  }

  async stats(code: string, nowMs: number): Promise<ClickStats> {
    const sinceMs = minuteOf(nowMs) - (SERIES_MINUTES - 1) * MINUTE_MS;
    const { rows } = await this.sql.query<{ kind: string; key: string | null; clicks: bigint }>(
      `SELECT 'total' AS kind, NULL AS key, clicks FROM click_totals WHERE code = $1
       UNION ALL
       SELECT 'unique', NULL, unique_clicks FROM click_totals WHERE code = $1
       UNION ALL
       SELECT 'minute', (extract(epoch FROM minute) * 1000)::bigint::text, clicks
         FROM click_minutes WHERE code = $1 AND minute >= to_timestamp($2::bigint / 1000.0)
       UNION ALL
       (SELECT 'referrer', referrer, sum(clicks)::bigint FROM click_referrer_days WHERE code = $1
         GROUP BY referrer ORDER BY 3 DESC, referrer COLLATE "C" LIMIT ${TOP_REFERRERS})
       UNION ALL
       SELECT 'device', device, clicks FROM click_devices WHERE code = $1`,
      [code, sinceMs],
    );
    let total = 0;
    let unique = 0;
    const minutes = new Map<number, number>();
    const topReferrers: ClickStats['topReferrers'] = [];
    const devices: ClickStats['devices'] = [];
    for (const row of rows) {
      const clicks = Number(row.clicks);
      if (row.kind === 'total') total = clicks;
      else if (row.kind === 'unique') unique = clicks;
      else if (row.kind === 'minute') minutes.set(Number(row.key), clicks);
      else if (row.kind === 'referrer') topReferrers.push({ referrer: row.key!, clicks });
      else devices.push({ device: row.key!, clicks });
    }
    topReferrers.sort(byClicksThenName((item) => item.referrer));
    devices.sort(byClicksThenName((item) => item.device));
    return { total, unique, perMinute: minuteSeries(minutes, nowMs), topReferrers, devices };
  }

  async checkpoints(topic: string) {
    const { rows } = await this.sql.query<{ partition: number; next_offset: bigint; clicks: bigint }>(
      'SELECT partition, next_offset, clicks FROM click_checkpoints WHERE topic = $1 ORDER BY partition',
      [topic],
    );
    return rows.map((row) => ({
      partition: row.partition,
      nextOffset: String(row.next_offset),
      clicks: Number(row.clicks),
    }));
  }

  async prune(nowMs: number, policy: RetentionPolicy) {
    await this.sql.query('DELETE FROM click_messages WHERE applied_at < to_timestamp($1::bigint / 1000.0)', [
      nowMs - policy.dedupeRetentionMs,
    ]);
    await this.sql.query('DELETE FROM click_minutes WHERE minute < to_timestamp($1::bigint / 1000.0)', [
      minuteOf(nowMs - policy.minutesRetentionMs),
    ]);
    await this.sql.query(
      `DELETE FROM click_referrer_days WHERE day < (to_timestamp($1::bigint / 1000.0) AT TIME ZONE 'UTC')::date`,
      [dayOf(nowMs - policy.referrerRetentionMs)],
    );
  }
}

/** Additive upserts, joined to the live links so a deleted or unknown code gains nothing. */
async function addDeltas(tx: SqlQueryable, deltas: ClickDeltas): Promise<void> {
  if (deltas.totals.length === 0) return;
  await tx.query(
    `INSERT INTO click_totals (code, clicks, unique_clicks)
     SELECT d.code, d.clicks, d.unique_clicks
     FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(code, clicks, unique_clicks)
     JOIN links l ON l.code = d.code AND l.deleted_at IS NULL
     ON CONFLICT (code) DO UPDATE SET clicks = click_totals.clicks + EXCLUDED.clicks,
       unique_clicks = click_totals.unique_clicks + EXCLUDED.unique_clicks`,
    [
      deltas.totals.map((row) => row.code),
      deltas.totals.map((row) => row.clicks),
      deltas.totals.map((row) => row.unique),
    ],
  );
  await tx.query(
    `INSERT INTO click_referrer_days (code, day, referrer, clicks)
     SELECT d.code, (to_timestamp(d.day_ms / 1000) AT TIME ZONE 'UTC')::date, d.key, d.clicks
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[]) AS d(code, day_ms, key, clicks)
     JOIN links l ON l.code = d.code AND l.deleted_at IS NULL
     ON CONFLICT (code, day, referrer) DO UPDATE SET clicks = click_referrer_days.clicks + EXCLUDED.clicks`,
    [
      deltas.referrers.map((row) => row.code),
      deltas.referrers.map((row) => row.dayMs),
      deltas.referrers.map((row) => row.key),
      deltas.referrers.map((row) => row.clicks),
    ],
  );
  await tx.query(
    `INSERT INTO click_minutes (code, minute, clicks)
     SELECT d.code, to_timestamp(d.minute_ms / 1000), d.clicks
     FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(code, minute_ms, clicks)
     JOIN links l ON l.code = d.code AND l.deleted_at IS NULL
     ON CONFLICT (code, minute) DO UPDATE SET clicks = click_minutes.clicks + EXCLUDED.clicks`,
    [
      deltas.minutes.map((row) => row.code),
      deltas.minutes.map((row) => row.minuteMs),
      deltas.minutes.map((row) => row.clicks),
    ],
  );
  const devices = deltas.devices;
  await tx.query(
    `INSERT INTO click_devices (code, device, clicks)
     SELECT d.code, d.key, d.clicks FROM unnest($1::text[], $2::text[], $3::bigint[]) AS d(code, key, clicks)
     JOIN links l ON l.code = d.code AND l.deleted_at IS NULL
     ON CONFLICT (code, device) DO UPDATE SET clicks = click_devices.clicks + EXCLUDED.clicks`,
    [devices.map((row) => row.code), devices.map((row) => row.key), devices.map((row) => row.clicks)],
  );
}

/**
 * Cuts every (code, day) this flush touched back to its top `topN` hosts: the rest are deleted
 * and their clicks added to the day's `other` row, in one statement. Days still within the bound
 * are not touched beyond the ranking.
 */
async function foldReferrerDays(tx: SqlQueryable, deltas: ClickDeltas, topN: number): Promise<void> {
  const touched = new Map<string, { code: string; dayMs: number }>();
  for (const row of deltas.referrers) touched.set(`${row.code}/${row.dayMs}`, row);
  if (touched.size === 0) return;
  const days = [...touched.values()];
  await tx.query(
    `WITH touched AS (
       SELECT t.code, (to_timestamp(t.day_ms / 1000) AT TIME ZONE 'UTC')::date AS day
       FROM unnest($1::text[], $2::bigint[]) AS t(code, day_ms)
     ), ranked AS (
       SELECT r.code, r.day, r.referrer,
              row_number() OVER (PARTITION BY r.code, r.day ORDER BY r.clicks DESC, r.referrer COLLATE "C") AS rank
       FROM click_referrer_days r JOIN touched t ON t.code = r.code AND t.day = r.day
       WHERE r.referrer <> $3
     ), folded AS (
       DELETE FROM click_referrer_days r USING ranked k
       WHERE k.rank > $4 AND r.code = k.code AND r.day = k.day AND r.referrer = k.referrer
       RETURNING r.code, r.day, r.clicks
     )
     INSERT INTO click_referrer_days (code, day, referrer, clicks)
     SELECT code, day, $3, sum(clicks) FROM folded GROUP BY code, day
     ON CONFLICT (code, day, referrer) DO UPDATE SET clicks = click_referrer_days.clicks + EXCLUDED.clicks`,
    [days.map((day) => day.code), days.map((day) => day.dayMs), OTHER_REFERRER, topN],
  );
}

async function moveCheckpoints(tx: SqlQueryable, progress: PartitionProgress[]): Promise<void> {
  if (progress.length === 0) return;
  await tx.query(
    `INSERT INTO click_checkpoints (topic, partition, next_offset, clicks, flushed_at)
     SELECT p.topic, p.partition, p.next_offset, p.clicks, now()
     FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS p(topic, partition, next_offset, clicks)
     ON CONFLICT (topic, partition) DO UPDATE SET
       next_offset = GREATEST(click_checkpoints.next_offset, EXCLUDED.next_offset),
       clicks = click_checkpoints.clicks + EXCLUDED.clicks,
       flushed_at = EXCLUDED.flushed_at`,
    [
      progress.map((entry) => entry.topic),
      progress.map((entry) => entry.partition),
      progress.map((entry) => String(entry.nextOffset)),
      progress.map((entry) => entry.clicks),
    ],
  );
}
