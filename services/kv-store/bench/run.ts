/**
 * `pnpm --filter @sysdesign/kv-store bench`: the storage engine alone (bench/engine.ts, its own
 * report), micro-benchmarks of the node's hot paths, then HTTP load on a three-node cluster
 * (N=3, W=2, R=2; fsync `always` and `interval`) beside a single node (N=1) and the bare-Fastify
 * baseline, all started once and measured in interleaved rounds of the same run.
 *
 * Every node runs in its own child process (the harness's `startTarget`), as it would on its own
 * machine; on this 2-core machine the three then share the cores, so a cluster request pays for
 * three nodes' work on the CPUs of one. The CPU column charges all three processes.
 *
 *   BENCH_DURATION_SECONDS (5) BENCH_ROUNDS (3) BENCH_CONNECTIONS (50) BENCH_WARMUP_SECONDS (1)
 *   BENCH_SKIP_ENGINE=1 skips bench/engine.ts (its last report stays in load-tests/results).
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { HashRing } from '@sysdesign/consistent-hashing';
import {
  BASELINE_SMALL_PATH,
  type MicroResult,
  type RunningTarget,
  type RunStats,
  runMicro,
  type ScenarioResult,
  startTarget,
  writeReport,
} from '@sysdesign/load-tests';
import { decodeContext, encodeContext, reconcile, type Version } from '@sysdesign/quorum';
import { freePort, tempDir } from '@sysdesign/testkit';
import { ClusterRing } from '../src/domain/ring.js';
import { StorageEngine } from '../src/storage/index.js';
import { EngineReplicaStore } from '../src/store/replica-store.js';
import { decodeVersions, encodeVersions } from '../src/store/version-codec.js';
import { type LoadRequest, type LoadStats, runLoad } from './load.js';

const DURATION_MS = Number(process.env.BENCH_DURATION_SECONDS ?? 5) * 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1) * 1000;
const VALUE = 'v'.repeat(100);
/** Keys written before the GET scenarios, read at random. */
const PRELOADED_KEYS = 2_000;
const READY_TIMEOUT_MS = 60_000;

const progress = (line: string) => process.stderr.write(`[kv-store] ${line}\n`);
const packageRoot = fileURLToPath(new URL('../', import.meta.url));
const baselineModule = new URL('./baseline-target.ts', import.meta.resolve('@sysdesign/load-tests'));
const nodeModule = new URL('./target.ts', import.meta.url);

// ---------------------------------------------------------------- engine

function runEngineBench(): void {
  if (process.env.BENCH_SKIP_ENGINE === '1') {
    progress(
      'BENCH_SKIP_ENGINE=1: engine benchmarks skipped (load-tests/results/kv-store-engine.md keeps the last run)',
    );
    return;
  }
  progress('engine benchmarks (bench/engine.ts) ...');
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=@sysdesign/source', 'bench/engine.ts'],
    {
      cwd: packageRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  if (result.status !== 0) throw new Error(`bench/engine.ts failed (exit ${result.status})`);
}

// ---------------------------------------------------------------- micro

function version(node: number, counter: number, value: string): Version {
  const actor = `http://kv-${node}:3002#1795000000`;
  return {
    dot: { actor, counter, timeMs: 1_795_000_000_000 },
    clock: [1, 2, 3].map((other) => ({
      actor: `http://kv-${other}:3002#1795000000`,
      counter: counter - 1 || 1,
      timeMs: 1_795_000_000_000,
    })),
    value: Buffer.from(value),
  };
}

async function microBenchmarks(): Promise<MicroResult[]> {
  const results: MicroResult[] = [];
  const one = [version(1, 7, VALUE)];
  const three = [version(1, 7, VALUE), version(2, 9, VALUE), version(3, 4, VALUE)];
  const encodedOne = encodeVersions(one);
  const encodedThree = encodeVersions(three);
  results.push(
    await runMicro('encode sibling set (1 version, 100 B)', () => encodeVersions(one), {
      note: `${encodedOne.byteLength} bytes on disk`,
    }),
  );
  results.push(await runMicro('decode sibling set (1 version, 100 B)', () => decodeVersions(encodedOne)));
  results.push(
    await runMicro('encode sibling set (3 siblings)', () => encodeVersions(three), {
      note: `${encodedThree.byteLength} bytes on disk`,
    }),
  );
  results.push(
    await runMicro('reconcile 3 siblings with 1 new version', () => reconcile(three, [version(1, 8, VALUE)])),
  );
  const context = encodeContext(three.map((item) => item.dot).sort((a, b) => (a.actor < b.actor ? -1 : 1)));
  results.push(
    await runMicro('decode X-Context (3 entries)', () => decodeContext(context), {
      note: `${context.length} characters`,
    }),
  );

  const ring = new ClusterRing({
    nodes: ['http://kv-1:3002', 'http://kv-2:3002', 'http://kv-3:3002'],
    n: 3,
    vnodes: 256,
  });
  let index = 0;
  results.push(
    await runMicro(
      'preference list + Merkle range of a key (3 nodes)',
      () => ring.rangeOf(`key-${index++}`),
      { note: 'per request: placement and the replica group' },
    ),
  );
  const big = new HashRing({
    vnodes: 256,
    nodes: Array.from({ length: 30 }, (_, node) => `http://kv-${node}:3002`),
  });
  results.push(
    await runMicro('preferenceList(key, 6) on 30 nodes', () => big.preferenceList(`key-${index++}`, 6), {
      note: 'N=3 replicas + 3 fallbacks',
    }),
  );

  const dir = await tempDir('kv-bench-store-');
  const engine = await StorageEngine.open({ dir, fsync: 'interval' });
  try {
    const store = new EngineReplicaStore(engine);
    let key = 0;
    results.push(
      await runMicro(
        'replica store: merge a new version (engine write)',
        () => store.update(`k-${key++ % 10_000}`, (current) => reconcile(current, [version(1, key, VALUE)])),
        {
          timeMs: 500,
          note: 'read, merge, encode, log write (fsync interval)',
        },
      ),
    );
    await store.update('same', () => one);
    results.push(
      await runMicro(
        'replica store: merge a set it already holds',
        () => store.update('same', (current) => reconcile(current, one)),
        {
          note: 'replication/repair of an in-sync key: a read, no write',
        },
      ),
    );
  } finally {
    await engine.close();
  }
  return results;
}

// ---------------------------------------------------------------- HTTP

interface Group {
  name: string;
  nodes: RunningTarget[];
  entry: string;
}

/** Starts `size` nodes, each in its own process, seeded with the others. */
async function startGroup(name: string, size: number, fsync: 'always' | 'interval'): Promise<Group> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  // Peers talk on a listener of their own; their URLs are the nodes' identities on the ring.
  const peerPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  const peerUrls = peerPorts.map((port) => `http://127.0.0.1:${port}`);
  const nodes: RunningTarget[] = [];
  process.env.KV_BENCH_CLUSTER_SECRET = randomBytes(32).toString('hex');
  for (const [index, port] of ports.entries()) {
    // startTarget forks with a copy of this process's environment: the node reads these.
    process.env.KV_BENCH_PORT = String(port);
    process.env.KV_BENCH_PEER_PORT = String(peerPorts[index]);
    process.env.KV_BENCH_DATA_DIR = await tempDir(`kv-bench-${name}-`);
    process.env.KV_BENCH_NODE_ID = `kv-${index + 1}`;
    process.env.KV_BENCH_SEEDS = peerUrls.filter((_, other) => other !== index).join(',');
    process.env.KV_BENCH_FSYNC = fsync;
    nodes.push(await startTarget({ modulePath: nodeModule }));
  }
  const group = { name, nodes, entry: urls[0]! };
  await waitReady(group, size);
  return group;
}

async function waitReady(group: Group, size: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (const node of group.nodes) {
    for (;;) {
      try {
        const body = (await (await fetch(`${node.url}/v1/cluster`)).json()) as {
          members: Array<{ heartbeat: number; state: string }>;
        };
        if (
          body.members.length === size &&
          body.members.every((member) => member.state === 'alive' && member.heartbeat > 0)
        )
          break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`${group.name}: ${node.url} did not see ${size} live members`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function preload(group: Group): Promise<void> {
  for (let start = 0; start < PRELOADED_KEYS; start += 100) {
    await Promise.all(
      Array.from({ length: 100 }, async (_, offset) => {
        const response = await fetch(`${group.entry}/v1/kv/get-${start + offset}`, {
          method: 'PUT',
          body: VALUE,
        });
        if (response.status !== 204) throw new Error(`${group.name}: preload answered ${response.status}`);
      }),
    );
  }
}

interface Scenario {
  name: string;
  method: 'GET' | 'PUT';
  service: (round: string) => (sequence: number) => LoadRequest;
  serviceStatus: number;
}

const scenarios: Scenario[] = [
  {
    name: 'PUT 100 B, a new key each',
    method: 'PUT',
    service: (run) => (sequence) => ({
      method: 'PUT',
      path: `/v1/kv/put-${run}-${sequence}`,
      body: VALUE,
      headers: { 'content-type': 'text/plain' },
    }),
    serviceStatus: 204,
  },
  {
    name: 'GET 100 B, a random written key',
    method: 'GET',
    service: () => (sequence) => ({
      method: 'GET',
      path: `/v1/kv/get-${(sequence * 7919) % PRELOADED_KEYS}`,
    }),
    serviceStatus: 200,
  },
];

function baselineRequest(method: 'GET' | 'PUT'): () => LoadRequest {
  return () =>
    method === 'PUT'
      ? { method: 'PUT', path: BASELINE_SMALL_PATH, body: VALUE, headers: { 'content-type': 'text/plain' } }
      : { method: 'GET', path: BASELINE_SMALL_PATH };
}

function toRunStats(stats: LoadStats): RunStats {
  return {
    requestsPerSecond: stats.requestsPerSecond,
    ...(stats.cpuMicrosPerRequest === undefined ? {} : { cpuMicrosPerRequest: stats.cpuMicrosPerRequest }),
    latencyP50Ms: stats.latencyP50Ms,
    latencyP99Ms: stats.latencyP99Ms,
    unexpected: stats.unexpected,
    errors: stats.errors,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function medianStats(runs: RunStats[]): RunStats {
  const cpu = runs
    .map((run) => run.cpuMicrosPerRequest)
    .filter((value): value is number => value !== undefined);
  return {
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    ...(cpu.length === runs.length ? { cpuMicrosPerRequest: median(cpu) } : {}),
    latencyP50Ms: median(runs.map((run) => run.latencyP50Ms)),
    latencyP99Ms: median(runs.map((run) => run.latencyP99Ms)),
    unexpected: 0,
    errors: 0,
  };
}

let runCounter = 0;

async function measureScenario(
  scenario: Scenario,
  group: Group,
  baseline: RunningTarget,
): Promise<ScenarioResult> {
  const service = (durationMs: number) =>
    runLoad({
      url: group.entry,
      connections: CONNECTIONS,
      durationMs,
      request: scenario.service(String(runCounter++)),
      expectStatus: scenario.serviceStatus,
      pids: group.nodes.map((node) => node.pid),
    });
  const base = (durationMs: number) =>
    runLoad({
      url: baseline.url,
      connections: CONNECTIONS,
      durationMs,
      request: baselineRequest(scenario.method),
      expectStatus: 200,
      pids: [baseline.pid],
    });
  if (WARMUP_MS > 0) {
    await base(WARMUP_MS);
    await service(WARMUP_MS);
  }
  const runs: { service: RunStats[]; baseline: RunStats[] } = { service: [], baseline: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? (['baseline', 'service'] as const) : (['service', 'baseline'] as const);
    for (const role of order) {
      const stats = toRunStats(role === 'service' ? await service(DURATION_MS) : await base(DURATION_MS));
      runs[role].push(stats);
      progress(
        `${scenario.name} / ${group.name} round ${round}/${ROUNDS} ${role}: ${Math.round(stats.requestsPerSecond)} req/s, ` +
          `p50 ${stats.latencyP50Ms} ms, p99 ${stats.latencyP99Ms} ms, ${stats.cpuMicrosPerRequest?.toFixed(0) ?? '?'} µs CPU/req`,
      );
    }
  }
  const serviceStats = medianStats(runs.service);
  const baselineStats = medianStats(runs.baseline);
  return {
    name: `${scenario.name}: ${group.name}`,
    method: scenario.method,
    path: scenario.method === 'PUT' ? '/v1/kv/put-<run>-<n>' : '/v1/kv/get-<n>',
    baselinePath: BASELINE_SMALL_PATH,
    connections: CONNECTIONS,
    service: serviceStats,
    baseline: baselineStats,
    ratio: serviceStats.requestsPerSecond / baselineStats.requestsPerSecond,
    ...(serviceStats.cpuMicrosPerRequest !== undefined && baselineStats.cpuMicrosPerRequest !== undefined
      ? { cpuRatio: serviceStats.cpuMicrosPerRequest / baselineStats.cpuMicrosPerRequest }
      : {}),
    runs,
  };
}

async function httpBenchmarks(): Promise<ScenarioResult[]> {
  const started: RunningTarget[] = [];
  try {
    const baseline = await startTarget({ modulePath: baselineModule });
    started.push(baseline);
    const groups: Group[] = [];
    for (const [name, size, fsync] of [
      ['1 node, N=1 (fsync always)', 1, 'always'],
      ['3 nodes, N=3 W=2 R=2 (fsync always)', 3, 'always'],
      ['3 nodes, N=3 W=2 R=2 (fsync interval)', 3, 'interval'],
    ] as const) {
      progress(`starting ${name} ...`);
      const group = await startGroup(name, size, fsync);
      started.push(...group.nodes);
      await preload(group);
      groups.push(group);
    }
    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      for (const group of groups) results.push(await measureScenario(scenario, group, baseline));
    }
    return results;
  } finally {
    await Promise.all(started.map((target) => target.stop()));
  }
}

// ---------------------------------------------------------------- report

runEngineBench();
const micro = await microBenchmarks();
process.env.NODE_ENV = 'production';
const scenarioResults = await httpBenchmarks();
await writeReport({
  service: 'kv-store',
  http: {
    service: 'kv-store',
    settings: {
      durationSeconds: DURATION_MS / 1000,
      rounds: ROUNDS,
      warmupSeconds: WARMUP_MS / 1000,
      connections: CONNECTIONS,
    },
    scenarios: scenarioResults,
  },
  micro,
  notes: [
    "Load: not autocannon (the line above is the harness's wording) but bench/load.ts (undici, closed loop, pipelining 1, the same connections and rounds), because every PUT must write a new key: blind PUTs of one fixed key " +
      "would pile up siblings, which a Dynamo store keeps. The baseline is the harness's bare Fastify (`/baseline`) under the same generator.",
    'Every node is its own process (LOG_LEVEL=warn, NODE_ENV=production, gossip and anti-entropy running); clients talk to node 1, ' +
      'which coordinates every request. On this 2-core machine the three nodes share the cores with the load generator, so a cluster ' +
      "request pays for three replicas' work on the CPUs of one: the CPU column sums all three processes.",
    'Engine alone (no HTTP, no replication): [kv-store-engine.md](kv-store-engine.md). Stale reads per (N, R, W) under concurrent writes and faults: ' +
      '[quorum.md](quorum.md), from `pnpm --filter @sysdesign/quorum run simulate`.',
  ],
});
