/**
 * The rate-limiter service over HTTP against what a user would run instead: a Fastify app with
 * `@fastify/rate-limit` on its Redis store. Beside them, our Fastify plugin alone on Redis and a bare
 * Fastify app (no limiter). Every app answers one POST with the same JSON body, each in its own process,
 * loaded in turn by autocannon, rounds rotated; CPU per request from /proc.
 */
import { BASELINE_SMALL_PATH } from '../../baseline-target.js';
import { type ComparedTarget, runComparison } from '../../compare.js';
import type { PeerContext, PeerDesign, PeerDesignResult } from '../design.js';
import { withEnv } from '../env.js';
import { formatRate } from '../rounds.js';
import { CHECK_PATH } from '../targets/rate-limit.js';

const PEER_NAME = 'Fastify + @fastify/rate-limit (Redis store)';
const targetsModule = new URL('../targets/rate-limit.ts', import.meta.url);

const TARGETS: ComparedTarget[] = [
  {
    name: 'ours: the service, POST /v1/check (Redis)',
    target: {
      modulePath: new URL('../../../../services/rate-limiter/bench/target.ts', import.meta.url),
      exportName: 'createRedisBenchTarget',
    },
    path: '/v1/check',
  },
  {
    name: 'ours: Fastify + our plugin (Redis, token bucket)',
    target: { modulePath: targetsModule, exportName: 'createOurPluginTarget' },
    path: CHECK_PATH,
  },
  {
    name: PEER_NAME,
    target: { modulePath: targetsModule, exportName: 'createFastifyRateLimitTarget' },
    path: CHECK_PATH,
  },
  {
    name: 'bare Fastify, no limiter',
    target: { modulePath: new URL('../../baseline-target.ts', import.meta.url) },
    path: BASELINE_SMALL_PATH,
  },
];

async function run(context: PeerContext): Promise<PeerDesignResult> {
  if (context.redisUrl === undefined) throw new Error('rate-limiter needs a Redis');
  const durationSeconds = context.smoke ? 1 : 5;
  const connections = context.smoke ? 10 : 50;
  const warmupSeconds = context.smoke ? 0 : 1;
  // The targets' processes inherit this environment: every app counts in the same Redis.
  return withEnv({ BENCH_REDIS_URL: context.redisUrl }, async () => {
    const results = await runComparison({
      targets: TARGETS,
      request: {
        method: 'POST',
        body: { domain: 'bench', descriptors: [{ key: 'client', value: 'hot' }] },
      },
      durationSeconds,
      rounds: context.rounds,
      warmupSeconds,
      connections,
      log: context.log,
    });
    const peer = results.find((result) => result.name === PEER_NAME)!.stats;
    const bare = results.find((result) => result.name === TARGETS.at(-1)!.name)!.stats;
    const rows = results.map((result) => {
      const { stats, runs } = result;
      const rates = runs.map((run) => run.requestsPerSecond);
      const spread =
        runs.length > 1 ? ` (${formatRate(Math.min(...rates))}-${formatRate(Math.max(...rates))})` : '';
      return [
        result.name,
        `${formatRate(stats.requestsPerSecond)}${spread}`,
        (stats.requestsPerSecond / peer.requestsPerSecond).toFixed(2),
        (stats.requestsPerSecond / bare.requestsPerSecond).toFixed(2),
        stats.cpuMicrosPerRequest?.toFixed(1) ?? '-',
        cpuRatio(stats.cpuMicrosPerRequest, peer.cpuMicrosPerRequest),
        stats.userCpuMicrosPerRequest?.toFixed(1) ?? '-',
        `${stats.latencyP50Ms} / ${stats.latencyP99Ms}`,
      ];
    });
    return {
      settings: [
        `autocannon, ${connections} connections, pipelining 1, ${durationSeconds} s per run${warmupSeconds > 0 ? ` after ${warmupSeconds} s of warmup each` : ''}; every app in its own process, all on one Redis (ioredis, default options).`,
        `Every app is sent \`POST\` with the service's check body (\`{"domain":"bench","descriptors":[{"key":"client","value":"hot"}]}\`), so each parses the same JSON. One client, one hot key, a limit no run reaches: every decision admits, and a refusal or error fails the run.`,
        'The service runs as `services/rate-limiter/bench/target.ts` builds it: the platform (request id, metrics, validation, problem errors), the rules tree, token bucket for `client=hot`, FAIL_MODE=closed.',
      ],
      tables: [
        {
          title: 'Requests per second and CPU per request',
          intro:
            "**÷ peer** and **÷ bare** are req/s ratios of the medians. **CPU µs/req** is the app process's CPU time over the run divided by the requests it served (user: its JavaScript, without the kernel's socket work); Redis's own time is not in it. **CPU × peer**: this app's CPU per request over the peer's (below 1.00 ours spends less); on a loaded machine req/s swings with whatever else runs and CPU per request much less, so it is the steadier comparison.",
          header: [
            'app',
            'req/s',
            '÷ peer',
            '÷ bare',
            'CPU µs/req',
            'CPU × peer',
            'user µs/req',
            'p50 / p99 ms',
          ],
          rows,
        },
      ],
    };
  });
}

function cpuRatio(micros: number | undefined, peerMicros: number | undefined): string {
  if (micros === undefined || peerMicros === undefined || !(peerMicros > 0)) return '-';
  return (micros / peerMicros).toFixed(2);
}

export const rateLimiterPeers: PeerDesign = {
  name: 'rate-limiter',
  peers: ['@fastify/rate-limit'],
  needsRedis: true,
  run,
  findings: [
    "`@fastify/rate-limit`'s Redis store runs one Lua script per request: INCR, then PEXPIRE on the first hit or PTTL after, on a string key, answering two integers, and its hook sets three headers. Our plugin's token bucket runs TIME, HMGET, HSET and PEXPIREAT on a hash and answers six integers (see the redis-limiters peer bench: about twice the Redis time per decision), arms a timeout timer per decision for its circuit breaker, and writes five headers (the X-RateLimit trio plus the IETF `RateLimit` and `RateLimit-Policy`, the latter with the policy name escaped per request).",
    "The service's check adds, on top of a decision, what every platform route pays (request id, the per-request metrics histogram, zod validation of the body, problem+json error handling) and its own work: matching the descriptors against the rules tree and serializing the decision. The CPU µs/req column is the steadier comparison on this machine: the service's extra CPU over our plugin is that platform and rules work, not the limiter.",
  ],
};
