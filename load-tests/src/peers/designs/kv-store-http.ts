/**
 * One kv-store node over HTTP against a Fastify app on classic-level, each in its own process, driven
 * by the kv-store bench's closed-loop client (a new key for each PUT, a preloaded key for each GET).
 */
import { randomBytes } from 'node:crypto';
import { freePort, withTempDir } from '@sysdesign/testkit';
import { type LoadStats, runLoad } from '../../../../services/kv-store/bench/load.js';
import { median } from '../../stats.js';
import { type RunningTarget, startTarget } from '../../target.js';
import type { PeerContext, PeerTable } from '../design.js';
import { withEnv } from '../env.js';
import { alternateRounds, formatSpread } from '../rounds.js';

const OURS: string = 'ours: one kv-store node (fsync always)';
const PEER: string = 'Fastify + classic-level (put sync: true)';
const PRELOADED_KEYS = 2_000;
const VALUE = 'v'.repeat(100);
const READY_TIMEOUT_MS = 30_000;

interface Scenario {
  name: string;
  method: 'PUT' | 'GET';
  status: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'PUT 100 B, a new key each', method: 'PUT', status: 204 },
  { name: 'GET 100 B, a preloaded key', method: 'GET', status: 200 },
];

async function startNode(dir: string): Promise<RunningTarget> {
  // The node's bench target reads these from the environment startTarget forks it with.
  const variables = {
    KV_BENCH_PORT: String(await freePort()),
    KV_BENCH_PEER_PORT: String(await freePort()),
    KV_BENCH_DATA_DIR: `${dir}/node`,
    KV_BENCH_NODE_ID: 'kv-1',
    KV_BENCH_SEEDS: '',
    KV_BENCH_CLUSTER_SECRET: randomBytes(32).toString('hex'),
    KV_BENCH_FSYNC: 'always',
  };
  const node = await withEnv(variables, () =>
    startTarget({ modulePath: new URL('../../../../services/kv-store/bench/target.ts', import.meta.url) }),
  );
  await waitReady(node);
  return node;
}

async function startLevelApp(dir: string): Promise<RunningTarget> {
  const variables = { PEERS_KV_LEVEL_DIR: `${dir}/level`, PEERS_KV_LEVEL_SYNC: 'true' };
  return withEnv(variables, () =>
    startTarget({
      modulePath: new URL('../targets/kv-level.ts', import.meta.url),
      exportName: 'createLevelKvTarget',
    }),
  );
}

async function waitReady(target: RunningTarget): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const response = await fetch(`${target.url}/readyz`).catch(() => undefined);
    if (response?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${target.url} was not ready within ${READY_TIMEOUT_MS} ms`);
}

async function preload(target: RunningTarget): Promise<void> {
  for (let start = 0; start < PRELOADED_KEYS; start += 100) {
    await Promise.all(
      Array.from({ length: 100 }, async (_, offset) => {
        const response = await fetch(`${target.url}/v1/kv/get-${start + offset}`, {
          method: 'PUT',
          body: VALUE,
        });
        if (response.status !== 204) throw new Error(`preload of ${target.url} answered ${response.status}`);
      }),
    );
  }
}

function request(scenario: Scenario, run: number) {
  return (sequence: number) =>
    scenario.method === 'PUT'
      ? {
          method: 'PUT' as const,
          path: `/v1/kv/put-${run}-${sequence}`,
          body: VALUE,
          headers: { 'content-type': 'text/plain' },
        }
      : { method: 'GET' as const, path: `/v1/kv/get-${(sequence * 7_919) % PRELOADED_KEYS}` };
}

export async function httpTable(context: PeerContext): Promise<PeerTable> {
  const durationMs = context.smoke ? 1_000 : 5_000;
  const connections = context.smoke ? 10 : 50;
  return withTempDir('peers-kv-http-', async (dir) => {
    const targets = new Map<string, RunningTarget>();
    try {
      targets.set(OURS, await startNode(dir));
      targets.set(PEER, await startLevelApp(dir));
      for (const target of targets.values()) await preload(target);
      const rows: string[][] = [];
      let run = 0;
      for (const scenario of SCENARIOS) {
        const stats = new Map<string, LoadStats[]>([
          [OURS, []],
          [PEER, []],
        ]);
        const rates = await alternateRounds(
          [OURS, PEER],
          context.rounds,
          async (name) => {
            const target = targets.get(name)!;
            const result = await runLoad({
              url: target.url,
              connections,
              durationMs,
              request: request(scenario, run++),
              expectStatus: scenario.status,
              pids: [target.pid],
            });
            stats.get(name)!.push(result);
            return result.requestsPerSecond;
          },
          context.log,
        );
        const peerRate = rates.get(PEER)!.median;
        const peerCpu = median(stats.get(PEER)!.map((result) => result.cpuMicrosPerRequest ?? Number.NaN));
        for (const name of [OURS, PEER]) {
          const runs = stats.get(name)!;
          const cpu = runs.map((result) => result.cpuMicrosPerRequest ?? Number.NaN);
          const middle = runs.map((result) => result.latencyP50Ms);
          rows.push([
            scenario.name,
            name,
            formatSpread(rates.get(name)!),
            name === OURS ? (rates.get(OURS)!.median / peerRate).toFixed(2) : '-',
            median(cpu).toFixed(1),
            name === OURS ? (median(cpu) / peerCpu).toFixed(2) : '-',
            `${median(middle)} / ${median(runs.map((result) => result.latencyP99Ms))}`,
          ]);
        }
      }
      return {
        title: 'One node over HTTP',
        intro: `${connections} connections, pipelining 1, ${durationMs / 1_000} s per run, each app in its own process; every answer's status checked (a failure fails the run). CPU µs/req is the app process's CPU time per request.`,
        header: ['scenario', 'app', 'req/s', 'ours ÷ peer', 'CPU µs/req', 'CPU × peer', 'p50 / p99 ms'],
        nameColumns: 2,
        rows,
      };
    } finally {
      await Promise.all([...targets.values()].map((target) => target.stop()));
    }
  });
}
