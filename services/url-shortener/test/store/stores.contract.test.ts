import { fileURLToPath } from 'node:url';
import { createRedis, EmbeddedPostgres, migrate, openSql, type Sql } from '@sysdesign/platform';
import {
  deleteRedisPrefix,
  describeWith,
  dropSchema,
  freshRedisPrefix,
  freshSchemaName,
  postgresBackend,
  redisBackend,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickBatch, type ClickEvent, DAY_MS, MINUTE_MS } from '../../src/domain/clicks.js';
import type { CachedLink, NewLink } from '../../src/domain/link.js';
import { type ClickStore, type ClickStoreOptions, PostgresClickStore } from '../../src/store/click-store.js';
import { type LinkCache, MemoryLinkCache, RedisLinkCache } from '../../src/store/link-cache.js';
import { type LinkStore, PostgresLinkStore } from '../../src/store/link-store.js';
import { memoryStores } from '../memory.js';

const MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url));
let sequence = 0;

function newLink(overrides: Partial<NewLink> = {}): NewLink {
  sequence++;
  return {
    code: `c${sequence}x${Date.now().toString(36)}`,
    url: `https://example.com/${sequence}`,
    kind: 'snowflake',
    owner: undefined,
    createdAt: new Date(),
    expiresAt: undefined,
    maxClicks: undefined,
    ...overrides,
  };
}

function batch(id: string, clicks: ClickEvent[], partition = 0, offset = 0): ClickBatch {
  return { id, topic: 'url.clicked', partition, offset: String(offset), clicks };
}

const NOW = 1_800_000_000_000 - (1_800_000_000_000 % MINUTE_MS) + 30_000;
const click = (code: string, overrides: Partial<ClickEvent> = {}): ClickEvent => ({
  code,
  at: NOW,
  referrer: 'direct',
  device: 'desktop',
  ...overrides,
});

/** What every LinkStore must do, whatever keeps the rows. */
function linkStoreContract(open: () => { links: LinkStore; clicks: ClickStore }) {
  it('inserts a link and finds it by code, with every field intact', async () => {
    const { links } = open();
    const link = newLink({ owner: 'alice', expiresAt: new Date(NOW + 60_000), maxClicks: 5, kind: 'alias' });
    const outcome = await links.insert(link);
    expect(outcome).toMatchObject({
      kind: 'inserted',
      link: { ...link, redirectsUsed: 0, deletedAt: undefined },
    });
    expect(await links.find(link.code)).toEqual(outcome.kind === 'inserted' ? outcome.link : undefined);
    expect(await links.find('no-such-code')).toBeUndefined();
  });

  it('refuses a taken code, and reports the existing plain link of the same URL and owner', async () => {
    const { links } = open();
    const first = newLink();
    await links.insert(first);
    expect(await links.insert({ ...newLink(), code: first.code })).toEqual({ kind: 'code-taken' });
    const duplicate = await links.insert({ ...newLink(), url: first.url });
    expect(duplicate).toMatchObject({ kind: 'duplicate', link: { code: first.code } });
    expect(await links.insert({ ...newLink(), url: first.url, owner: 'bob' })).toMatchObject({
      kind: 'inserted',
    });
    expect(await links.insert({ ...newLink(), url: first.url, maxClicks: 2 })).toMatchObject({
      kind: 'inserted',
    });
    expect((await links.findPlain(first.url, undefined))?.code).toBe(first.code);
  });

  it('refuses an alias that differs from another only in case; generated codes keep their case', async () => {
    const { links } = open();
    const alias = `DevLink${sequence}`;
    expect(await links.insert(newLink({ code: alias, kind: 'alias' }))).toMatchObject({ kind: 'inserted' });
    expect(await links.insert(newLink({ code: alias.toLowerCase(), kind: 'alias' }))).toEqual({
      kind: 'code-taken',
    });
    expect(await links.insert(newLink({ code: alias.toUpperCase(), kind: 'alias' }))).toEqual({
      kind: 'code-taken',
    });
    const generated = newLink({ code: `aBc${sequence}Xy` });
    await links.insert(generated);
    expect(await links.insert(newLink({ code: generated.code.toLowerCase() }))).toMatchObject({
      kind: 'inserted',
    });
  });

  it('disables a live link with a reason and enables it again; a deleted link is left alone', async () => {
    const { links } = open();
    const link = newLink();
    await links.insert(link);
    const disabled = await links.setDisabled(link.code, 'abuse report #12', NOW);
    expect(disabled).toMatchObject({ disabledAt: new Date(NOW), disabledReason: 'abuse report #12' });
    expect(await links.find(link.code)).toMatchObject({ disabledReason: 'abuse report #12' });
    expect(await links.setDisabled(link.code, undefined, NOW)).toMatchObject({
      disabledAt: undefined,
      disabledReason: undefined,
    });
    await links.delete(link.code);
    expect(await links.setDisabled(link.code, 'too late', NOW)).toBeUndefined();
    expect(await links.setDisabled('no-such-code', 'x', NOW)).toBeUndefined();
  });

  it('lets exactly one of 20 concurrent plain inserts of one URL win', async () => {
    // Two instances creating the same URL at once must still store it once.
    const { links } = open();
    const url = `https://example.com/race/${Date.now()}`;
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => links.insert({ ...newLink(), url })));
    const inserted = outcomes.filter((outcome) => outcome.kind === 'inserted');
    expect(inserted).toHaveLength(1);
    const winner = inserted[0]!.kind === 'inserted' ? inserted[0]!.link.code : '';
    for (const outcome of outcomes) {
      if (outcome.kind === 'duplicate') expect(outcome.link.code).toBe(winner);
    }
  });

  it('tombstones on delete: the code stays taken, the URL may be shortened again', async () => {
    const { links } = open();
    const link = newLink();
    await links.insert(link);
    expect(await links.delete(link.code)).toBe(true);
    expect(await links.delete(link.code)).toBe(false);
    const tombstone = await links.find(link.code);
    expect(tombstone).toMatchObject({ url: undefined, deletedAt: expect.any(Date) });
    expect(await links.insert({ ...newLink(), code: link.code })).toEqual({ kind: 'code-taken' });
    expect(await links.insert({ ...newLink(), url: link.url })).toMatchObject({ kind: 'inserted' });
  });

  it('admits exactly maxClicks of 30 concurrent redirects', async () => {
    const { links } = open();
    const link = newLink({ maxClicks: 7 });
    await links.insert(link);
    const admitted = await Promise.all(Array.from({ length: 30 }, () => links.admitRedirect(link.code)));
    expect(admitted.filter(Boolean)).toHaveLength(7);
    expect((await links.find(link.code))?.redirectsUsed).toBe(7);
    const unlimited = newLink();
    await links.insert(unlimited);
    expect(await links.admitRedirect(unlimited.code)).toBe(false);
  });

  it('pages through codes in byte order', async () => {
    const { links } = open();
    const prefix = `p${Date.now().toString(36)}`;
    for (const suffix of ['b', 'A', 'a', '_', '-', '0'])
      await links.insert(newLink({ code: `${prefix}${suffix}` }));
    const all: string[] = [];
    let after = prefix;
    for (;;) {
      const page = (await links.codesAfter(after, 2)).filter((code) => code.startsWith(prefix));
      all.push(...page);
      if (page.length < 2) break;
      after = page.at(-1)!;
    }
    expect(all).toEqual(['-', '0', 'A', '_', 'a', 'b'].map((suffix) => `${prefix}${suffix}`));
  });
}

/** What every ClickStore must do. */
type OpenStores = (options?: ClickStoreOptions) => {
  links: LinkStore;
  clicks: ClickStore;
  referrerRows(code: string): Promise<number>;
};

function clickStoreContract(open: OpenStores) {
  it('folds 2,000 distinct referrers of a day into the top 10 plus other: at most 11 rows, nothing lost', async () => {
    // Issue #9: distinct Referer hosts made one row each, forever. Scaled down from 30,000 with N=10.
    const { links, clicks, referrerRows } = open({ referrerTopN: 10 });
    const link = newLink();
    await links.insert(link);
    const popular = Array.from({ length: 10 }, (_, index) =>
      Array.from({ length: 50 }, () => click(link.code, { referrer: `popular${index}.example` })),
    ).flat();
    const flood = Array.from({ length: 2_000 }, (_, index) =>
      click(link.code, { referrer: `r${index}.attacker.example` }),
    );
    const events = [...popular, ...flood];
    for (let flush = 0; flush < 5; flush++) {
      await clicks.apply([
        batch(`m-${link.code}-fold-${flush}`, events.slice(flush * 500, (flush + 1) * 500)),
      ]);
      expect(await referrerRows(link.code)).toBeLessThanOrEqual(11);
    }
    const stats = await clicks.stats(link.code, NOW);
    expect(stats.total).toBe(2_500);
    expect(stats.topReferrers[0]).toEqual({ referrer: 'other', clicks: 2_000 });
    expect(
      stats.topReferrers.slice(1).every((row) => row.clicks === 50 && row.referrer.startsWith('popular')),
    ).toBe(true);
  });

  it('keeps referrer days apart and forgets the days past their retention', async () => {
    const { links, clicks, referrerRows } = open({ referrerTopN: 10 });
    const link = newLink();
    await links.insert(link);
    await clicks.apply([
      batch(`m-${link.code}-days`, [
        click(link.code, { referrer: 'old.example', at: NOW - 40 * DAY_MS }),
        click(link.code, { referrer: 'new.example' }),
      ]),
    ]);
    expect(await referrerRows(link.code)).toBe(2);
    await clicks.prune(NOW, {
      dedupeRetentionMs: DAY_MS,
      minutesRetentionMs: DAY_MS,
      referrerRetentionMs: 30 * DAY_MS,
    });
    expect((await clicks.stats(link.code, NOW)).topReferrers).toEqual([
      { referrer: 'new.example', clicks: 1 },
    ]);
  });

  it('counts every click in the total and only the unique ones in unique', async () => {
    const { links, clicks } = open();
    const link = newLink();
    await links.insert(link);
    await clicks.apply([
      batch(`m-${link.code}-unique`, [
        click(link.code, { unique: true }),
        click(link.code, { unique: false }),
        click(link.code, { unique: false }),
        click(link.code),
      ]),
    ]);
    expect(await clicks.stats(link.code, NOW)).toMatchObject({ total: 4, unique: 2 });
  });

  it('applies a batch once: a redelivered id adds nothing', async () => {
    const { links, clicks } = open();
    const link = newLink();
    await links.insert(link);
    const first = batch(
      `m-${link.code}-1`,
      [click(link.code), click(link.code, { at: NOW - MINUTE_MS })],
      0,
      10,
    );
    expect(await clicks.apply([first])).toEqual({ applied: 1, duplicates: 0, clicks: 2 });
    expect(await clicks.apply([first, first])).toEqual({ applied: 0, duplicates: 2, clicks: 0 });
    const stats = await clicks.stats(link.code, NOW);
    expect(stats.total).toBe(2);
    expect(stats.perMinute.slice(-2).map((entry) => entry.clicks)).toEqual([1, 1]);
  });

  it('counts referrers and device classes, top referrers first', async () => {
    const { links, clicks } = open();
    const link = newLink();
    await links.insert(link);
    const events = [
      ...Array.from({ length: 3 }, () => click(link.code, { referrer: 'a.example', device: 'mobile' })),
      ...Array.from({ length: 5 }, () => click(link.code, { referrer: 'b.example', device: 'desktop' })),
      click(link.code, { device: 'bot' }),
    ];
    await clicks.apply([batch(`m-${link.code}`, events)]);
    const stats = await clicks.stats(link.code, NOW);
    expect(stats.total).toBe(9);
    expect(stats.topReferrers).toEqual([
      { referrer: 'b.example', clicks: 5 },
      { referrer: 'a.example', clicks: 3 },
      { referrer: 'direct', clicks: 1 },
    ]);
    expect(stats.devices).toEqual([
      { device: 'desktop', clicks: 5 },
      { device: 'mobile', clicks: 3 },
      { device: 'bot', clicks: 1 },
    ]);
  });

  it('keeps only the top 10 referrers', async () => {
    const { links, clicks } = open();
    const link = newLink();
    await links.insert(link);
    const events = Array.from({ length: 15 }, (_, index) =>
      Array.from({ length: index + 1 }, () =>
        click(link.code, { referrer: `r${String(index).padStart(2, '0')}.example` }),
      ),
    ).flat();
    await clicks.apply([batch(`m-${link.code}`, events)]);
    const { topReferrers } = await clicks.stats(link.code, NOW);
    expect(topReferrers).toHaveLength(10);
    expect(topReferrers[0]).toEqual({ referrer: 'r14.example', clicks: 15 });
  });

  it('drops clicks of unknown and deleted codes, and a delete drops the counters', async () => {
    const { links, clicks } = open();
    const kept = newLink();
    const deleted = newLink();
    await links.insert(kept);
    await links.insert(deleted);
    await clicks.apply([batch(`m-${kept.code}-a`, [click(kept.code), click(deleted.code)])]);
    await links.delete(deleted.code);
    expect((await clicks.stats(deleted.code, NOW)).total).toBe(0);
    await clicks.apply([
      batch(`m-${kept.code}-b`, [click(kept.code), click(deleted.code), click('never-existed')]),
    ]);
    expect((await clicks.stats(kept.code, NOW)).total).toBe(2);
    expect((await clicks.stats(deleted.code, NOW)).total).toBe(0);
  });

  it('moves the checkpoint to the furthest offset per partition, never back', async () => {
    const { links, clicks } = open();
    const link = newLink();
    await links.insert(link);
    const topic = 'url.clicked';
    const before = new Map((await clicks.checkpoints(topic)).map((entry) => [entry.partition, entry]));
    const base = Number(before.get(3)?.nextOffset ?? 0) + 100;
    await clicks.apply([
      batch(`m-${link.code}-7`, [click(link.code)], 3, base + 7),
      batch(`m-${link.code}-5`, [click(link.code)], 3, base + 5),
    ]);
    await clicks.apply([batch(`m-${link.code}-2`, [click(link.code)], 3, base + 2)]);
    const after = (await clicks.checkpoints(topic)).find((entry) => entry.partition === 3);
    expect(after?.nextOffset).toBe(String(base + 8));
    expect(after!.clicks - (before.get(3)?.clicks ?? 0)).toBe(3);
  });

  it('prunes dedupe ids and minute counts past retention, keeping totals', async () => {
    const { links, clicks } = open();
    const link = newLink();
    await links.insert(link);
    const old = batch(`m-${link.code}-old`, [click(link.code, { at: NOW - 3 * 60 * MINUTE_MS })]);
    await clicks.apply([old]);
    await clicks.prune(Date.now() + 60_000, {
      dedupeRetentionMs: 1,
      minutesRetentionMs: 60 * MINUTE_MS,
      referrerRetentionMs: 30 * 24 * 60 * MINUTE_MS,
    });
    // The id is forgotten, so the same id counts again: retention must outlast any redelivery.
    expect(await clicks.apply([old])).toMatchObject({ applied: 1 });
    const stats = await clicks.stats(link.code, NOW);
    expect(stats.total).toBe(2);
  });
}

function cacheContract(open: () => LinkCache) {
  const link: CachedLink = {
    url: 'https://example.com/c',
    expiresAtMs: undefined,
    limited: false,
    gone: false,
  };

  it('misses, then holds what was set, until deleted', async () => {
    const cache = open();
    expect(await cache.get('k1')).toBeUndefined();
    await cache.set('k1', link, 60_000);
    expect(await cache.get('k1')).toEqual({ kind: 'link', link });
    await cache.delete('k1');
    expect(await cache.get('k1')).toBeUndefined();
  });

  it('holds negative entries apart from links', async () => {
    const cache = open();
    await cache.setAbsent('k2', 60_000);
    expect(await cache.get('k2')).toEqual({ kind: 'absent' });
    await cache.set('k2', { ...link, expiresAtMs: 123, limited: true }, 60_000);
    expect(await cache.get('k2')).toEqual({
      kind: 'link',
      link: { ...link, expiresAtMs: 123, limited: true },
    });
  });

  it('forgets entries after their TTL', async () => {
    const cache = open();
    await cache.set('k3', link, 30);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await cache.get('k3')).toBeUndefined();
  });
}

describe('memory stores', () => {
  linkStoreContract(() => memoryStores(() => Date.now()));
  clickStoreContract((options) => {
    const stores = memoryStores(() => Date.now(), options);
    return { ...stores, referrerRows: async (code: string) => stores.clicks.referrerRows(code) };
  });
});

describe('memory LRU cache', () => {
  cacheContract(() => new MemoryLinkCache(1_000));
});

function sqlStores(sql: () => Sql): OpenStores {
  return (options) => ({
    links: new PostgresLinkStore(sql()),
    clicks: new PostgresClickStore(sql(), options),
    referrerRows: async (code) => {
      const { rows } = await sql().query<{ rows: bigint }>(
        'SELECT count(*) AS rows FROM click_referrer_days WHERE code = $1',
        [code],
      );
      return Number(rows[0]!.rows);
    },
  });
}

describe('PGlite stores', () => {
  let embedded: EmbeddedPostgres;
  let sql: Sql;
  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
    sql = await embedded.forSchema(freshSchemaName('stores'));
    await migrate(sql, MIGRATIONS);
  });
  afterAll(async () => embedded.close());
  linkStoreContract(sqlStores(() => sql));
  clickStoreContract(sqlStores(() => sql));
});

describeWith(await postgresBackend(), 'Postgres stores', ({ url }) => {
  const schema = freshSchemaName('stores');
  let sql: Sql;
  beforeAll(async () => {
    sql = await openSql({ schema, databaseUrl: url });
    await migrate(sql, MIGRATIONS);
  });
  afterAll(async () => {
    await sql.close();
    await dropSchema(url, schema);
  });
  linkStoreContract(sqlStores(() => sql));
  clickStoreContract(sqlStores(() => sql));
});

describe('the Redis cache adapter while Redis is down', () => {
  it('reports a miss, not an error, when Redis does not answer', async () => {
    // A cache outage must cost latency, never a failed redirect; an invalidation that cannot be
    // made sure of must fail loudly instead (503), so the DELETE is retried.
    const failures: string[] = [];
    const down = () => Promise.reject(new Error('connection refused'));
    const offline = new RedisLinkCache({ get: down, set: down, del: down } as never, {
      keyPrefix: 'test:offline:',
      onError: (operation) => failures.push(operation),
    });
    expect(await offline.get('x')).toBeUndefined();
    await offline.set(
      'x',
      { url: 'https://e.example/', expiresAtMs: undefined, limited: false, gone: false },
      1_000,
    );
    expect(failures).toEqual(['get', 'set']);
    await expect(offline.delete('x')).rejects.toThrow(/redis is unavailable/);
  });
});

describeWith(await redisBackend(), 'Redis cache', ({ url }) => {
  const prefix = freshRedisPrefix('urlshort');
  let redis: Awaited<ReturnType<typeof createRedis>>;
  beforeAll(async () => {
    redis = await createRedis({ url });
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteRedisPrefix(url, prefix);
  });
  cacheContract(() => new RedisLinkCache(redis, { keyPrefix: prefix }));
});
