import { type HttpScenario, runHttpBench, writeReport } from '@sysdesign/load-tests';
import { TokenAuthority } from '@sysdesign/platform';
import { ADMIN_SCOPE, WRITE_SCOPE } from '../src/routes/schemas.js';
import { BENCH_AUTH_SECRET } from './target.js';

/**
 * `pnpm --filter @sysdesign/leaderboard bench http [--servers]` (or `bench:http`): reads under load
 * beside a bare-Fastify baseline in the same run, on a board of 10,000 players: embedded (PGlite
 * and the twin; `results/leaderboard.md`) or with `--servers` on Postgres and Redis (DATABASE_URL,
 * REDIS_URL; `results/leaderboard-servers.md`). The design's target: a rank read at 0.6 or more of
 * the baseline's req/s.
 */

const servers = process.argv.includes('--servers');
// The target process inherits the environment: it picks its backends from this.
if (servers) process.env.LEADERBOARD_BENCH_SERVERS = '1';
const backends = servers ? 'Redis + Postgres' : 'twin + PGlite';

const PLAYERS = 10_000;
const BATCH = 25;
const token = await new TokenAuthority({ secret: BENCH_AUTH_SECRET }).issue('bench', {
  ttlSeconds: 3_600,
  scopes: [WRITE_SCOPE, ADMIN_SCOPE],
});
const headers = { authorization: `Bearer ${token}` };

/** Creates the board and fills it with PLAYERS scores, as setup requests. */
function seed(board: string): NonNullable<HttpScenario['setupRequests']> {
  const requests: NonNullable<HttpScenario['setupRequests']> = [
    { method: 'POST', path: '/v1/boards', body: { id: board, ranking: 'competition' }, headers },
  ];
  for (let start = 0; start < PLAYERS; start += BATCH) {
    const scores = Array.from({ length: BATCH }, (_, index) => ({
      player: `p${start + index}`,
      score: ((start + index) * 7_919) % 1_000_003,
    }));
    requests.push({ method: 'POST', path: `/v1/boards/${board}/scores/batch`, body: { scores }, headers });
  }
  return requests;
}

process.env.NODE_ENV = 'production';
const http = await runHttpBench({
  service: 'leaderboard',
  target: { modulePath: new URL('./target.ts', import.meta.url) },
  scenarios: [
    {
      name: `rank read, 10k players (${backends})`,
      path: '/v1/boards/ranks/players/p4242',
      setupRequests: seed('ranks'),
    },
    {
      name: `top 10, 10k players (${backends})`,
      path: '/v1/boards/tops/top?limit=10',
      setupRequests: seed('tops'),
    },
  ],
});
await writeReport({ service: servers ? 'leaderboard-servers' : 'leaderboard', http });
