/**
 * The hash ring against the rings on npm: construction of 1,000 nodes x 256 tokens against `hashring`
 * (ketama, 64 vnodes x 4 points = 256 tokens a node), lookups per second at 1,000 nodes against
 * `hashring` and `consistent-hash` (its default, 40 random points a node), with the balance each gives
 * (busiest node ÷ mean) beside its speed, the heap each ring holds per token, and whether two rings built
 * from the same nodes place keys alike.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HashRing } from '@sysdesign/consistent-hashing';
import ConsistentHash from 'consistent-hash';
import KetamaRing from 'hashring';
import { runMicro } from '../../micro.js';
import type { PeerContext, PeerDesign, PeerDesignResult } from '../design.js';
import { alternateRounds, formatMs, formatRatio, formatSpread } from '../rounds.js';

const VNODES = 256;
/** hashring makes 4 points per vnode (ketama): 64 vnodes give our 256 tokens per node. */
const KETAMA_VNODES = VNODES / 4;
const LOOKUP_KEYS = 100_000;
/** Fewer keys than hashring's lookup cache holds (5,000). */
const CACHED_KEYS = 1_000;

interface Ring {
  lookup(key: string): string;
  tokens: number;
}

interface Contender {
  name: string;
  tokensPerNode: string;
  build(nodes: string[]): Ring;
}

const OURS: Contender = {
  name: 'ours HashRing (murmur3)',
  tokensPerNode: String(VNODES),
  build(nodes) {
    const ring = new HashRing({ nodes, vnodes: VNODES });
    return { lookup: (key) => ring.lookup(key), tokens: ring.tokenCount };
  },
};

const KETAMA: Contender = {
  name: 'hashring (ketama, md5)',
  tokensPerNode: `${KETAMA_VNODES} x 4 = ${VNODES}`,
  build(nodes) {
    const ring = new KetamaRing(nodes, 'md5', { 'vnode count': KETAMA_VNODES });
    return { lookup: (key) => ring.get(key), tokens: ring.ring.length };
  },
};

const RANDOM_POINTS: Contender = {
  name: 'consistent-hash (defaults)',
  tokensPerNode: '40 (random)',
  build(nodes) {
    const ring = new ConsistentHash();
    for (const node of nodes) ring.add(node);
    return { lookup: (key) => ring.get(key), tokens: ring.keyCount };
  },
};

/** Node ids shaped as host:port, which hashring parses. */
function nodeIds(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `10.0.${index >> 8}.${index & 255}:11211`);
}

function lookupKeys(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `user:${index * 7_919}`);
}

/** The busiest node's keys ÷ the mean, over `keys`. */
function busiestOverMean(ring: Ring, nodes: number, keys: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const key of keys) {
    const node = ring.lookup(key);
    counts.set(node, (counts.get(node) ?? 0) + 1);
  }
  let busiest = 0;
  for (const count of counts.values()) busiest = Math.max(busiest, count);
  return busiest / (keys.length / nodes);
}

/** The share of keys two rings built from the same nodes send to the same node. */
function agreement(first: Ring, second: Ring, keys: readonly string[]): number {
  let same = 0;
  for (const key of keys) if (first.lookup(key) === second.lookup(key)) same++;
  return same / keys.length;
}

let collectGarbage: (() => void) | undefined;

/** The engine's collector, exposed at run time: a heap measurement must start from a clean heap. */
function gc(): void {
  if (collectGarbage === undefined) {
    setFlagsFromString('--expose-gc');
    collectGarbage = runInNewContext('gc') as () => void;
  }
  collectGarbage();
}

function heapBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Full collections until the heap is quiet: array buffers freed by one collection are released a little
 * later, and would otherwise be counted against the next ring.
 */
async function settleHeap(): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Builds a ring and measures the heap bytes per token it holds (after full collections). */
async function measuredBuild(
  contender: Contender,
  nodes: string[],
): Promise<{ ring: Ring; bytesPerToken: number }> {
  await settleHeap();
  const before = heapBytes();
  const ring = contender.build(nodes);
  await settleHeap();
  const after = heapBytes();
  return { ring, bytesPerToken: (after - before) / ring.tokens };
}

async function run(context: PeerContext): Promise<PeerDesignResult> {
  const nodeCount = context.smoke ? 100 : 1_000;
  const nodes = nodeIds(nodeCount);
  const balanceKeys = lookupKeys(context.smoke ? 50_000 : 1_000_000);
  const keys = balanceKeys.slice(0, LOOKUP_KEYS);
  const contenders = [OURS, KETAMA, RANDOM_POINTS];
  const byName = new Map(contenders.map((contender) => [contender.name, contender]));

  // Memory first, while the heap holds nothing else of this run's; these rings serve the lookups.
  const rings = new Map<string, Ring>();
  const bytesPerToken = new Map<string, number>();
  for (const contender of contenders) {
    const measured = await measuredBuild(contender, nodes);
    rings.set(contender.name, measured.ring);
    bytesPerToken.set(contender.name, measured.bytesPerToken);
  }

  const buildTimes = await alternateRounds(
    [OURS.name, KETAMA.name],
    context.rounds,
    (name) => {
      const started = performance.now();
      byName.get(name)!.build(nodes);
      return performance.now() - started;
    },
    context.log,
    (milliseconds) => `${formatMs(milliseconds)} ms`,
  );

  const sampleMs = context.smoke ? 30 : 400;
  // hashring caches the node of its last 5,000 keys: its rate on a few hot keys, beside the spread.
  const cachedName = `${KETAMA.name}, ${CACHED_KEYS.toLocaleString('en-US')} hot keys (its cache hits)`;
  const hotKeys = keys.slice(0, CACHED_KEYS);
  const lookups = await alternateRounds(
    [...contenders.map((contender) => contender.name), cachedName],
    context.rounds,
    async (name) => {
      const ring = rings.get(name === cachedName ? KETAMA.name : name)!;
      const cycle = name === cachedName ? hotKeys : keys;
      let next = 0;
      const lookup = () => ring.lookup(cycle[next++ % cycle.length]!);
      return (await runMicro(name, lookup, { timeMs: sampleMs, samples: 1 })).opsPerSecond;
    },
    context.log,
  );

  const ourBuild = buildTimes.get(OURS.name)!;
  const ketamaBuild = buildTimes.get(KETAMA.name)!;
  const ourLookups = lookups.get(OURS.name)!;
  const lookupRows = contenders.map((contender) => {
    const spread = lookups.get(contender.name)!;
    const ring = rings.get(contender.name)!;
    rings.delete(contender.name);
    return [
      contender.name,
      contender.tokensPerNode,
      formatSpread(spread),
      contender === OURS ? '-' : formatRatio(ourLookups.median, spread.median),
      `${busiestOverMean(ring, nodeCount, balanceKeys).toFixed(2)}x`,
      `${(agreement(ring, contender.build(nodes), keys) * 100).toFixed(1)} %`,
      bytesPerToken.get(contender.name)!.toFixed(1),
    ];
  });
  const cached = lookups.get(cachedName)!;
  lookupRows.push([
    cachedName,
    KETAMA.tokensPerNode,
    formatSpread(cached),
    formatRatio(ourLookups.median, cached.median),
    '-',
    '-',
    '-',
  ]);
  return {
    settings: [
      `${nodeCount.toLocaleString('en-US')} nodes named \`10.0.x.y:11211\` (hashring parses host:port), every node weight 1.`,
      `Lookups cycle through ${LOOKUP_KEYS.toLocaleString('en-US')} keys \`user:<n>\`, more than hashring's 5,000-entry lookup cache holds, so its cache misses as it would under a real spread of keys.`,
      `Balance over ${balanceKeys.length.toLocaleString('en-US')} keys; heap per token measured after a full collection around one ring's construction.`,
    ],
    tables: [
      {
        title: `Construction, ${nodeCount.toLocaleString('en-US')} nodes x ${VNODES} tokens`,
        intro:
          'Time to build the ring from the node list in one call (ms, lower is better). consistent-hash is left out: it places random points and builds its sorted array lazily.',
        header: ['ring', 'build ms', 'ours ÷ peer (by speed)'],
        rows: [
          [OURS.name, formatSpread(ourBuild, formatMs), '-'],
          [
            KETAMA.name,
            formatSpread(ketamaBuild, formatMs),
            formatRatio(ketamaBuild.median, ourBuild.median),
          ],
        ],
      },
      {
        title: `Lookups at ${nodeCount.toLocaleString('en-US')} nodes, with balance, agreement and memory`,
        intro:
          '**busiest ÷ mean**: the most loaded node over the mean (1.00 is perfect). **two rings agree**: keys that two rings built from the same node list send to the same node (a ring every client must compute alike needs 100 %). **heap B/token**: bytes of heap (and array buffers) the built ring holds, per token.',
        header: [
          'ring',
          'tokens per node',
          'lookups/s',
          'ours ÷ this',
          'busiest ÷ mean',
          'two rings agree',
          'heap B/token',
        ],
        nameColumns: 2,
        rows: lookupRows,
      },
    ],
  };
}

export const consistentHashingPeers: PeerDesign = {
  name: 'consistent-hashing',
  peers: ['hashring', 'consistent-hash'],
  run,
  findings: [
    "Construction: our constructor calls `add` once per node, and each `add` merges the new node's tokens into a fresh copy of the whole sorted array and computes the ranges that moved (which the constructor then discards): quadratic in the number of nodes. `hashring` generates every point in one pass and sorts once.",
    "Lookups: `consistent-hash` hashes a key with a 24-bit PJW string hash (a few shifts per character) into a ring of 100,003 slots; ours computes murmur3 x86 128 over the key's UTF-8 bytes for a 53-bit position. The cheap hash is why it is faster; it balances worse because each node has 40 points by default, drawn with `Math.random()`. Random points also mean that two processes built from the same node list disagree on almost every key: it cannot be the shared placement of a cluster. `hashring` runs `crypto.createHash('md5')` per lookup (a native hash object and a Buffer each) and then writes the answer into a 5,000-entry LRU cache; keys the cache holds answer from a plain object lookup, which is its fast row.",
    "Memory: ours keeps a float64 position and an int32 owner per token (12 bytes, as documented) plus each node's own sorted Float64Array copy of its tokens (8 more): about 20 bytes. `hashring` holds one `{ value, server }` object per point; `consistent-hash` an object keyed by point plus per-node arrays.",
  ],
};
