import type { Counter, Gauge, ServiceMetrics } from '@sysdesign/platform';
import type { EngineStats } from './storage/index.js';

/**
 * The kv-store's own series, beside the platform's HTTP and process metrics. Counters of events
 * this service sees (requests, hand-offs, anti-entropy rounds) are counted where they happen; the
 * library's and the engine's running totals (read repairs, bloom checks, fsyncs...) are copied in
 * on each scrape by `refresh`, as deltas, so they stay counters with working `rate()`.
 */

export const OPERATIONS = ['get', 'put', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];
/** How a client request ended. */
export const OUTCOMES = [
  'ok',
  'not_found',
  'siblings',
  'quorum_not_met',
  'too_many_siblings',
  'invalid',
  'error',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface KvMetrics {
  requests: Counter<'op' | 'outcome'>;
  quorumFailures: Counter<'op'>;
  readRepairs: Counter<'result'>;
  hintsStored: Counter;
  hintsHandedOff: Counter;
  hintsDropped: Counter<'reason'>;
  hintsPending: Gauge<'unit'>;
  antiEntropyRounds: Counter<'result'>;
  antiEntropyKeys: Counter<'direction'>;
  antiEntropyBytes: Counter<'direction'>;
  merkleRebuilds: Counter<'reason'>;
  gossipMembers: Gauge<'state'>;
  membershipChanges: Counter<'to'>;
  ringNodes: Gauge;
  engine: EngineMetrics;
}

interface EngineMetrics {
  state: Gauge<'engine'>;
  memtableBytes: Gauge<'engine'>;
  tables: Gauge<'engine'>;
  quarantinedKeys: Gauge<'engine'>;
  tableBytes: Gauge<'engine'>;
  pendingWrites: Gauge<'engine'>;
  writes: Counter<'engine'>;
  fsyncs: Counter<'engine'>;
  bloomChecks: Counter<'engine' | 'result'>;
  flushes: Counter<'engine'>;
  compactions: Counter<'engine'>;
  compactionBytes: Counter<'engine' | 'direction'>;
  tombstonesDropped: Counter<'engine'>;
  blockCache: Counter<'engine' | 'result'>;
}

export function createKvMetrics(metrics: ServiceMetrics): KvMetrics {
  return {
    requests: metrics.counter('kv_requests_total', 'Client requests by operation and outcome', [
      'op',
      'outcome',
    ]),
    quorumFailures: metrics.counter(
      'kv_quorum_failures_total',
      'Requests refused because W or R replicas did not answer in time',
      ['op'],
    ),
    readRepairs: metrics.counter(
      'kv_read_repairs_total',
      'Stale replicas sent the merged versions after a read',
      ['result'],
    ),
    hintsStored: metrics.counter('kv_hints_stored_total', 'Writes kept as hints for replicas that were down'),
    hintsHandedOff: metrics.counter('kv_hints_handed_off_total', 'Hinted keys delivered to their replica'),
    hintsDropped: metrics.counter(
      'kv_hints_dropped_total',
      'Hints given up: too old, or refused by a full hint store',
      ['reason'],
    ),
    hintsPending: metrics.gauge('kv_hints_pending', 'Hints held for other replicas', ['unit']),
    antiEntropyRounds: metrics.counter(
      'kv_anti_entropy_rounds_total',
      'Merkle-tree comparisons with a replica, by result',
      ['result'],
    ),
    antiEntropyKeys: metrics.counter('kv_anti_entropy_keys_total', 'Keys repaired by anti-entropy', [
      'direction',
    ]),
    antiEntropyBytes: metrics.counter(
      'kv_anti_entropy_bytes_total',
      'Bytes of versions moved by anti-entropy',
      ['direction'],
    ),
    merkleRebuilds: metrics.counter('kv_merkle_rebuilds_total', 'Merkle trees rebuilt from a store scan', [
      'reason',
    ]),
    gossipMembers: metrics.gauge(
      'kv_gossip_members',
      'Members by failure-detector state, this node included',
      ['state'],
    ),
    membershipChanges: metrics.counter('kv_gossip_state_changes_total', 'Members changing state', ['to']),
    ringNodes: metrics.gauge('kv_ring_nodes', "Nodes on this node's consistent-hashing ring"),
    engine: {
      state: metrics.gauge('kv_engine_open', '1 while the storage engine accepts writes', ['engine']),
      memtableBytes: metrics.gauge('kv_engine_memtable_bytes', 'Bytes in the active memtable', ['engine']),
      tables: metrics.gauge('kv_engine_sstables', 'Live SSTables', ['engine']),
      quarantinedKeys: metrics.gauge(
        'kv_engine_quarantined_keys',
        'Keys whose record could not be decoded, served as absent until rewritten',
        ['engine'],
      ),
      tableBytes: metrics.gauge('kv_engine_sstable_bytes', 'Bytes of live SSTables', ['engine']),
      pendingWrites: metrics.gauge('kv_engine_pending_writes', 'Writes admitted and not yet durable', [
        'engine',
      ]),
      writes: metrics.counter('kv_engine_writes_total', 'Records written to the commit log', ['engine']),
      fsyncs: metrics.counter('kv_engine_fsyncs_total', 'Commit log fsyncs', ['engine']),
      bloomChecks: metrics.counter('kv_engine_bloom_checks_total', 'SSTable bloom filter checks by result', [
        'engine',
        'result',
      ]),
      flushes: metrics.counter('kv_engine_flushes_total', 'Memtables flushed to SSTables', ['engine']),
      compactions: metrics.counter('kv_engine_compactions_total', 'SSTable compactions', ['engine']),
      compactionBytes: metrics.counter(
        'kv_engine_compaction_bytes_total',
        'Bytes read and written by compaction',
        ['engine', 'direction'],
      ),
      tombstonesDropped: metrics.counter(
        'kv_engine_tombstones_dropped_total',
        'Tombstones past their grace period dropped by compaction',
        ['engine'],
      ),
      blockCache: metrics.counter('kv_engine_block_cache_total', 'SSTable block cache lookups by result', [
        'engine',
        'result',
      ]),
    },
  };
}

/** Turns running totals into counter increments: each call adds what grew since the last. */
export class DeltaTracker {
  private readonly last = new Map<string, number>();

  add(counter: Counter<string>, labels: Record<string, string>, total: number, key: string): void {
    const previous = this.last.get(key) ?? 0;
    // A total that went down belongs to a reopened source: count it from zero again.
    const delta = total >= previous ? total - previous : total;
    this.last.set(key, total);
    if (delta > 0) counter.inc(labels, delta);
  }
}

/** Copies one engine's stats into the metrics. */
export function refreshEngineMetrics(
  metrics: KvMetrics,
  deltas: DeltaTracker,
  engine: string,
  stats: EngineStats,
): void {
  const m = metrics.engine;
  const labels = { engine };
  m.state.set(labels, stats.state === 'open' ? 1 : 0);
  m.memtableBytes.set(labels, stats.memtable.bytes);
  m.tables.set(labels, stats.tables.length);
  m.quarantinedKeys.set(labels, stats.quarantinedKeys);
  m.tableBytes.set(
    labels,
    stats.tables.reduce((sum, table) => sum + table.fileBytes, 0),
  );
  m.pendingWrites.set(labels, stats.pendingWrites);
  const c = stats.counters;
  const bloomPositives = c.bloomChecks - c.bloomNegatives - c.bloomFalsePositives;
  const totals: Array<[Counter<string>, Record<string, string>, number]> = [
    [m.writes, labels, c.writes],
    [m.fsyncs, labels, c.logSyncs],
    [m.bloomChecks, { engine, result: 'negative' }, c.bloomNegatives],
    [m.bloomChecks, { engine, result: 'false_positive' }, c.bloomFalsePositives],
    [m.bloomChecks, { engine, result: 'positive' }, bloomPositives],
    [m.flushes, labels, c.flushes],
    [m.compactions, labels, c.compactions],
    [m.compactionBytes, { engine, direction: 'read' }, c.compactionBytesRead],
    [m.compactionBytes, { engine, direction: 'written' }, c.compactionBytesWritten],
    [m.tombstonesDropped, labels, c.tombstonesDropped],
    [m.blockCache, { engine, result: 'hit' }, stats.blockCache.hits],
    [m.blockCache, { engine, result: 'miss' }, stats.blockCache.misses],
  ];
  for (const [counter, counterLabels, total] of totals) {
    deltas.add(
      counter,
      counterLabels,
      total,
      `${engine}:${JSON.stringify(counterLabels)}:${counterName(counter)}`,
    );
  }
}

function counterName(counter: Counter<string>): string {
  return (counter as unknown as { name: string }).name;
}
