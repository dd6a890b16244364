import { fileURLToPath } from 'node:url';
import {
  type HttpScenario,
  type MicroResult,
  runHttpBench,
  runMicro,
  writeReport,
} from '@sysdesign/load-tests';
import {
  BloomFilter,
  DEFAULT_ID_EPOCH_MS,
  EmbeddedPostgres,
  migrate,
  SnowflakeGenerator,
} from '@sysdesign/platform';
import { type ClickEvent, countClicks } from '../src/domain/clicks.js';
import { hashCandidate, snowflakeCode } from '../src/domain/codes.js';
import { LruCache } from '../src/domain/lru.js';
import { checkTargetUrl, selfReferenceOf } from '../src/domain/target-url.js';
import { deviceClassOf, referrerHostOf } from '../src/domain/visitor.js';
import { PostgresClickStore } from '../src/store/click-store.js';
import { PostgresLinkStore } from '../src/store/link-store.js';

/**
 * `pnpm --filter @sysdesign/url-shortener bench`: the domain in-process (codes, validation, the
 * cache, the bloom filter, counting and flushing clicks), then the HTTP API under load beside a
 * bare-Fastify baseline measured in the same run: redirects with a warm cache (the design's hot
 * path, target >= 60% of the baseline's req/s) and creations.
 */

const FLUSH_CLICKS = 500;

async function microBenchmarks(): Promise<MicroResult[]> {
  const results: MicroResult[] = [];
  const generator = new SnowflakeGenerator({
    node: { datacenterId: 0, workerId: 1 },
    epochMs: DEFAULT_ID_EPOCH_MS,
  });
  results.push(
    await runMicro('snowflake code: next id + base62', () => snowflakeCode(generator.nextSync()), {
      note: '10-11 characters',
    }),
  );
  let counter = 0;
  results.push(
    await runMicro(
      'hash code: sha256 + base62, 7 chars',
      () => hashCandidate(`https://example.com/article/${counter++}`, 0),
      {
        note: 'one candidate',
      },
    ),
  );
  const self = selfReferenceOf('http://localhost:3004');
  results.push(
    await runMicro(
      'validate a target URL',
      () => checkTargetUrl('https://example.com/some/path?utm_source=x&id=42', self),
      {
        note: 'WHATWG parse + rules',
      },
    ),
  );
  const userAgent =
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148';
  results.push(
    await runMicro(
      'classify a visitor',
      () => [deviceClassOf(userAgent), referrerHostOf('https://news.ycombinator.com/item?id=1')],
      {
        note: 'device class + referrer host, per redirect',
      },
    ),
  );
  const lru = new LruCache<string>(100_000);
  for (let index = 0; index < 100_000; index++) lru.set(`code${index}`, 'https://example.com/', 600_000);
  let lookup = 0;
  results.push(
    await runMicro('LRU get (100k entries)', () => lru.get(`code${lookup++ % 100_000}`), {
      note: 'a cache hit',
    }),
  );
  const bloom = BloomFilter.create({ expectedKeys: 1_000_000, falsePositiveRate: 0.01 });
  for (let index = 0; index < 1_000_000; index++) bloom.add(`code${index}`);
  let probe = 0;
  results.push(
    await runMicro('bloom mightContain (1M codes, 1%)', () => bloom.mightContain(`absent${probe++}`), {
      note: `${(bloom.toBytes().length / 1_048_576).toFixed(1)} MiB for 1M codes`,
    }),
  );
  const clicks: ClickEvent[] = Array.from({ length: FLUSH_CLICKS }, (_, index) => ({
    code: `c${index % 50}`,
    at: Date.now(),
    referrer: index % 3 === 0 ? 'direct' : 't.co',
    device: 'mobile',
  }));
  const counted = await runMicro(`count ${FLUSH_CLICKS} clicks in memory`, () => countClicks([{ clicks }]));
  counted.note = `${Math.round(counted.opsPerSecond * FLUSH_CLICKS).toLocaleString('en')} clicks/s`;
  results.push(counted);

  const embedded = await EmbeddedPostgres.open('memory');
  try {
    const sql = await embedded.forSchema('bench');
    await migrate(sql, fileURLToPath(new URL('../migrations', import.meta.url)));
    const links = new PostgresLinkStore(sql);
    for (let index = 0; index < 50; index++) {
      await links.insert({
        code: `c${index}`,
        url: `https://example.com/${index}`,
        kind: 'alias',
        owner: undefined,
        createdAt: new Date(),
        expiresAt: undefined,
        maxClicks: undefined,
      });
    }
    const store = new PostgresClickStore(sql);
    let batch = 0;
    const flush = await runMicro(
      `flush ${FLUSH_CLICKS} clicks (50 codes) to PGlite`,
      () =>
        store.apply([
          { id: `bench-${batch++}`, topic: 'url.clicked', partition: 0, offset: String(batch), clicks },
        ]),
      { timeMs: 500 },
    );
    flush.note = `${Math.round(flush.opsPerSecond * FLUSH_CLICKS).toLocaleString('en')} clicks/s into the counters`;
    results.push(flush);
  } finally {
    await embedded.close();
  }
  return results;
}

const micro = await microBenchmarks();
process.env.NODE_ENV = 'production';

const setupLink = (alias: string) => ({
  method: 'POST' as const,
  path: '/v1/urls',
  body: { url: 'https://example.com/landing-page?utm_source=bench', alias },
});
const redirect = (name: string, alias: string): HttpScenario => ({
  name,
  path: `/${alias}`,
  expectStatus: 302,
  headers: {
    'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120',
    referer: 'https://t.co/x',
  },
  setupRequests: [setupLink(alias)],
});
const create = (name: string): HttpScenario => ({
  name,
  method: 'POST',
  path: '/v1/urls',
  body: { url: 'https://example.com/articles/2026/a-long-article-title' },
  headers: { 'x-bench-unique-url': '1' },
});

const http = await runHttpBench({
  service: 'url-shortener',
  target: { modulePath: new URL('./target.ts', import.meta.url) },
  scenarios: [
    redirect('redirect, warm LRU cache', 'bench'),
    create('create (snowflake code, PGlite)'),
    { ...create('create, same URL again (dedupe hit)'), headers: {} },
  ],
});
const extra: [string, HttpScenario[]][] = [
  [
    'createRedirectOnlyBenchTarget',
    [redirect('redirect, warm LRU cache, aggregator in another instance', 'bench')],
  ],
  ['createHashBenchTarget', [create('create (hash code + bloom, PGlite)')]],
  ['createRateLimitedBenchTarget', [create('create with the rate limiter on')]],
];
if (process.env.BENCH_REDIS_URL)
  extra.push(['createRedisBenchTarget', [redirect('redirect, warm Redis cache', 'bench')]]);
if (process.env.BENCH_DATABASE_URL) {
  extra.push([
    'createPostgresBenchTarget',
    [
      create('create (snowflake code, Postgres)'),
      { ...create('create, dedupe hit (Postgres)'), headers: {} },
    ],
  ]);
}
for (const [exportName, scenarios] of extra) {
  const result = await runHttpBench({
    service: 'url-shortener',
    target: { modulePath: new URL('./target.ts', import.meta.url), exportName },
    scenarios,
  });
  http.scenarios.push(...result.scenarios);
}

await writeReport({
  service: 'url-shortener',
  http,
  micro,
  notes: [
    'Service: NODE_ENV=production, embedded PGlite in memory, the durable in-process bus in a temp dir, LOG_LEVEL=warn, validation and metrics on; the click aggregator runs in the same process and is part of every redirect’s cost.',
    'Redirect scenarios: every response must be the 302 (anything else fails the bench); baseline: bare Fastify answering `{"ok":true}`.',
    'Create scenarios: a counter is appended to the URL per request, so each is a real insert; the dedupe scenario repeats one URL (a read, no insert).',
    process.env.BENCH_REDIS_URL
      ? 'Redis: a local Redis 7 (BENCH_REDIS_URL).'
      : 'Set BENCH_REDIS_URL to add the redirect with the cache in Redis.',
    process.env.BENCH_DATABASE_URL
      ? 'Postgres: a local PostgreSQL 15 (BENCH_DATABASE_URL).'
      : 'Set BENCH_DATABASE_URL to add creations against a real Postgres.',
  ],
});
