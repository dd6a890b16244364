import type { Sql, SqlQueryable } from '@sysdesign/platform';
import {
  type ClickBatch,
  type ClickDeltas,
  type ClickStats,
  countClicks,
  MINUTE_MS,
  minuteOf,
  minuteSeries,
  SERIES_MINUTES,
  TOP_REFERRERS,
} from '../domain/clicks.js';

/**
 * The click counters. `apply` is the aggregator's flush: in one transaction it records the ids of
 * the batches it has not seen (dedupe), adds their counts with additive upserts, and moves the
 * per-partition checkpoint. A batch whose id was applied before adds nothing, so a redelivery or
 * a retried flush never counts twice; a flush that fails rolls back whole, so nothing is counted
 * half. Clicks of codes that are unknown or deleted are dropped.
 */

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
}

export interface ClickStore {
  apply(batches: readonly ClickBatch[]): Promise<ApplyResult>;
  stats(code: string, nowMs: number): Promise<ClickStats>;
  checkpoints(topic: string): Promise<Checkpoint[]>;
  /** Forgets dedupe ids and per-minute counts older than the policy keeps. */
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

/** The in-memory adapter; `isLive` tells it which codes exist (the memory link store). */
export class MemoryClickStore implements ClickStore {
  private readonly appliedIds = new Map<string, number>();
  private readonly totals = new Map<string, number>();
  private readonly minutes = new Map<string, Map<number, number>>();
  private readonly referrers = new Map<string, Map<string, number>>();
  private readonly devices = new Map<string, Map<string, number>>();
  private readonly progress = new Map<string, Checkpoint & { topic: string }>();

  constructor(
    private readonly isLive: (code: string) => boolean,
    private readonly nowMs: () => number = Date.now,
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
    for (const { code, clicks } of deltas.totals) {
      if (this.isLive(code)) this.totals.set(code, (this.totals.get(code) ?? 0) + clicks);
    }
    for (const { code, minuteMs, clicks } of deltas.minutes) {
      if (!this.isLive(code)) continue;
      const map = this.minutes.get(code) ?? new Map<number, number>();
      map.set(minuteMs, (map.get(minuteMs) ?? 0) + clicks);
      this.minutes.set(code, map);
    }
    for (const { code, key, clicks } of deltas.referrers)
      if (this.isLive(code)) keyed(this.referrers, code, key, clicks);
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
    const referrers = [...(this.referrers.get(code) ?? [])].map(([referrer, clicks]) => ({
      referrer,
      clicks,
    }));
    const devices = [...(this.devices.get(code) ?? [])].map(([device, clicks]) => ({ device, clicks }));
    return {
      total: this.totals.get(code) ?? 0,
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
  }
}

/** Postgres or PGlite. Arrays travel as parameters and are spread with unnest: one statement per table. */
export class PostgresClickStore implements ClickStore {
  constructor(private readonly sql: Sql) {}

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
      await addDeltas(tx, countClicks(fresh));
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
       SELECT 'minute', (extract(epoch FROM minute) * 1000)::bigint::text, clicks
         FROM click_minutes WHERE code = $1 AND minute >= to_timestamp($2::bigint / 1000.0)
       UNION ALL
       (SELECT 'referrer', referrer, clicks FROM click_referrers WHERE code = $1
         ORDER BY clicks DESC, referrer COLLATE "C" LIMIT ${TOP_REFERRERS})
       UNION ALL
       SELECT 'device', device, clicks FROM click_devices WHERE code = $1`,
      [code, sinceMs],
    );
    let total = 0;
    const minutes = new Map<number, number>();
    const topReferrers: ClickStats['topReferrers'] = [];
    const devices: ClickStats['devices'] = [];
    for (const row of rows) {
      const clicks = Number(row.clicks);
      if (row.kind === 'total') total = clicks;
      else if (row.kind === 'minute') minutes.set(Number(row.key), clicks);
      else if (row.kind === 'referrer') topReferrers.push({ referrer: row.key!, clicks });
      else devices.push({ device: row.key!, clicks });
    }
    topReferrers.sort(byClicksThenName((item) => item.referrer));
    devices.sort(byClicksThenName((item) => item.device));
    return { total, perMinute: minuteSeries(minutes, nowMs), topReferrers, devices };
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
  }
}

/** Additive upserts, joined to the live links so a deleted or unknown code gains nothing. */
async function addDeltas(tx: SqlQueryable, deltas: ClickDeltas): Promise<void> {
  if (deltas.totals.length === 0) return;
  await tx.query(
    `INSERT INTO click_totals (code, clicks)
     SELECT d.code, d.clicks FROM unnest($1::text[], $2::bigint[]) AS d(code, clicks)
     JOIN links l ON l.code = d.code AND l.deleted_at IS NULL
     ON CONFLICT (code) DO UPDATE SET clicks = click_totals.clicks + EXCLUDED.clicks`,
    [deltas.totals.map((row) => row.code), deltas.totals.map((row) => row.clicks)],
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
  for (const [table, column, rows] of [
    ['click_referrers', 'referrer', deltas.referrers],
    ['click_devices', 'device', deltas.devices],
  ] as const) {
    await tx.query(
      `INSERT INTO ${table} (code, ${column}, clicks)
       SELECT d.code, d.key, d.clicks FROM unnest($1::text[], $2::text[], $3::bigint[]) AS d(code, key, clicks)
       JOIN links l ON l.code = d.code AND l.deleted_at IS NULL
       ON CONFLICT (code, ${column}) DO UPDATE SET clicks = ${table}.clicks + EXCLUDED.clicks`,
      [rows.map((row) => row.code), rows.map((row) => row.key), rows.map((row) => row.clicks)],
    );
  }
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
