import { type HttpBenchResult, runHttpBench, type ScenarioResult, writeReport } from '@sysdesign/load-tests';
import { TokenAuthority } from '@sysdesign/platform';
import { READER, READER_FOLLOWING } from './prepare.js';
import { BENCH_AUTH_SECRET } from './target.js';

/**
 * `pnpm --filter @sysdesign/news-feed bench:http`: one reader's home feed (20 items, following
 * 100 accounts, 3 of them celebrities) under load in each fanout mode, beside a bare-Fastify
 * baseline in the same run, on the same generated graph and posts (embedded: PGlite, the twin,
 * the in-process bus). The design's target: the write mode's feed read at 0.6 or more of the baseline.
 */

const token = await new TokenAuthority({ secret: BENCH_AUTH_SECRET }).issue(READER, { ttlSeconds: 3_600 });
const headers = { authorization: `Bearer ${token}` };

process.env.NODE_ENV = 'production';
const modes = [
  ['write', 'createWriteTarget'],
  ['hybrid', 'createHybridTarget'],
  ['read', 'createReadTarget'],
] as const;
const scenarios: ScenarioResult[] = [];
let first: HttpBenchResult | undefined;
for (const [mode, exportName] of modes) {
  const result = await runHttpBench({
    service: 'news-feed',
    target: { modulePath: new URL('./target.ts', import.meta.url), exportName },
    platformFloor: first === undefined,
    scenarios: [
      {
        name: `feed read, ${mode} mode (follows ${READER_FOLLOWING}, 20 items)`,
        path: '/v1/feed?limit=20',
        headers,
      },
    ],
  });
  first ??= result;
  scenarios.push(...result.scenarios);
}
await writeReport({
  service: 'news-feed',
  http: { ...first!, scenarios },
  notes: [
    'Each mode runs on the same power-law graph (500 users, 3 celebrities at 40 % reach, CELEBRITY_THRESHOLD 100) and the same 400 posts; the reader follows 100 accounts. The machine is 2 cores shared with other benches running at the same time.',
    'Fanout lag, write amplification and memory per feed: `load-tests/results/news-feed-fanout.md` (`pnpm --filter @sysdesign/news-feed bench`).',
  ],
});
