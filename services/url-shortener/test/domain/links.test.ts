import { describe, expect, it } from 'vitest';
import { CodeFilter } from '../../src/domain/code-filter.js';
import { type CodeHash, hashCandidate } from '../../src/domain/codes.js';
import {
  AliasTakenError,
  type CacheLookupResult,
  Links,
  type LinksOptions,
  NoFreeCodeError,
  NotOwnerError,
} from '../../src/domain/links.js';
import { MemoryLinkCache } from '../../src/store/link-cache.js';
import { type LinkStore, MemoryLinkStore } from '../../src/store/link-store.js';

/** A store that counts the reads the design is about. */
function countingStore(inner: LinkStore = new MemoryLinkStore()) {
  const counts = { find: 0, insert: 0 };
  const store: LinkStore = {
    find: (code) => {
      counts.find++;
      return inner.find(code);
    },
    findPlain: (url, owner) => inner.findPlain(url, owner),
    insert: (link) => {
      counts.insert++;
      return inner.insert(link);
    },
    delete: (code) => inner.delete(code),
    admitRedirect: (code) => inner.admitRedirect(code),
    codesAfter: (after, limit) => inner.codesAfter(after, limit),
    setDisabled: (code, reason, atMs) => inner.setDisabled(code, reason, atMs),
  };
  return { store, counts };
}

function newFilter() {
  return new CodeFilter({ expectedKeys: 10_000, falsePositiveRate: 0.001 });
}

let nextId = 1_000_000_000_000n;
function links(overrides: Partial<LinksOptions> & Pick<LinksOptions, 'store'>): Links {
  return new Links({
    cache: new MemoryLinkCache(1_000),
    strategy: 'snowflake',
    nextId: () => nextId++,
    hashMaxAttempts: 8,
    cacheTtlMs: 60_000,
    negativeCacheTtlMs: 5_000,
    ...overrides,
  });
}

/** A hash with only `buckets` distinct values: collisions on demand. */
const tinyHash =
  (buckets: number): CodeHash =>
  (input) => {
    let sum = 0n;
    for (const character of input) sum += BigInt(character.charCodeAt(0));
    return sum % BigInt(buckets);
  };

describe('creating links with snowflake codes', () => {
  it('gives each URL a new base62 snowflake code, and the same plain URL its existing code', async () => {
    const service = links({ store: new MemoryLinkStore() });
    const first = await service.create({ url: 'https://example.com/a' });
    const second = await service.create({ url: 'https://example.com/b' });
    const again = await service.create({ url: 'https://example.com/a' });
    expect(first.created).toBe(true);
    expect(first.link.code).toMatch(/^[0-9A-Za-z]{6,11}$/);
    expect(second.link.code).not.toBe(first.link.code);
    expect(again).toEqual({ created: false, link: first.link });
  });

  it('does not dedupe across owners, or links with an expiry or a click limit', async () => {
    // "Stored once" is per creator: another user's link for the same URL is theirs to delete.
    const service = links({ store: new MemoryLinkStore() });
    const anonymous = await service.create({ url: 'https://example.com/' });
    const alice = await service.create({ url: 'https://example.com/', owner: 'alice' });
    const expiring = await service.create({
      url: 'https://example.com/',
      expiresAt: new Date(Date.now() + 60_000),
    });
    const limited = await service.create({ url: 'https://example.com/', maxClicks: 3 });
    const codes = new Set([anonymous, alice, expiring, limited].map((result) => result.link.code));
    expect(codes.size).toBe(4);
    expect([alice, expiring, limited].every((result) => result.created)).toBe(true);
    expect((await service.create({ url: 'https://example.com/', owner: 'alice' })).link.code).toBe(
      alice.link.code,
    );
  });

  it('skips a snowflake code that an alias already took', async () => {
    // Aliases and generated codes share one namespace; the generator must step over a squatter.
    const store = new MemoryLinkStore();
    const service = links({ store, nextId: () => nextId++ });
    const upcoming = nextId;
    const { snowflakeCode } = await import('../../src/domain/codes.js');
    await service.create({ url: 'https://squatter.example/', alias: snowflakeCode(upcoming) });
    const created = await service.create({ url: 'https://example.com/after-squat' });
    expect(created.created).toBe(true);
    expect(created.link.code).not.toBe(snowflakeCode(upcoming));
  });
});

describe('creating links with hashed codes', () => {
  it('uses the first 7 base62 characters of the hash, and returns the same code for the same URL', async () => {
    const service = links({ store: new MemoryLinkStore(), strategy: 'hash', filter: newFilter() });
    const first = await service.create({ url: 'https://example.com/hashed' });
    expect(first.link.code).toBe(hashCandidate('https://example.com/hashed', 0));
    expect(first.link.code).toHaveLength(7);
    const again = await service.create({ url: 'https://example.com/hashed' });
    expect(again).toEqual({ created: false, link: first.link });
  });

  it('resolves forced collisions by salting and rehashing, and finds each URL again at its salted code', async () => {
    // A hash with 3 values: the 1st URL takes candidate 0, later ones walk salted candidates.
    const hash = tinyHash(3);
    const service = links({
      store: new MemoryLinkStore(),
      strategy: 'hash',
      filter: newFilter(),
      hash,
      hashMaxAttempts: 20,
    });
    const urls = ['https://a.example/', 'https://b.example/', 'https://c.example/'];
    const created = [];
    for (const url of urls) created.push(await service.create({ url }));
    expect(new Set(created.map((result) => result.link.code)).size).toBe(3);
    for (const [index, url] of urls.entries()) {
      const again = await service.create({ url });
      expect(again.created).toBe(false);
      expect(again.link.code).toBe(created[index]!.link.code);
    }
  });

  it('answers 503-worthy NoFreeCodeError when every salted candidate is taken', async () => {
    const service = links({
      store: new MemoryLinkStore(),
      strategy: 'hash',
      filter: newFilter(),
      hash: () => 7n,
      hashMaxAttempts: 4,
    });
    await service.create({ url: 'https://first.example/' });
    await expect(service.create({ url: 'https://second.example/' })).rejects.toThrow(NoFreeCodeError);
  });

  it('skips the database read for candidates the bloom filter has never seen', async () => {
    // The filter's whole point: a fresh URL costs one insert and no read.
    const { store, counts } = countingStore();
    const service = links({ store, strategy: 'hash', filter: newFilter() });
    for (let index = 0; index < 100; index++) await service.create({ url: `https://example.com/${index}` });
    expect(counts.insert).toBe(100);
    expect(counts.find).toBe(0);
  });

  it('reads only colliding candidates under forced collisions', async () => {
    const { store, counts } = countingStore();
    const service = links({ store, strategy: 'hash', filter: newFilter(), hash: tinyHash(1_000_000) });
    await service.create({ url: 'https://ab.example/' });
    // Same character sum, so the same first candidate: one read, then the salted one is free.
    const collision = await service.create({ url: 'https://ba.example/' });
    expect(collision.created).toBe(true);
    expect(counts.find).toBe(1);
  });

  it('is still correct after a restart: the rebuilt filter holds every stored code', async () => {
    // A new instance on the same store must neither re-read every candidate nor miss a taken code.
    const inner = new MemoryLinkStore();
    const hash = tinyHash(7);
    const before = links({ store: inner, strategy: 'hash', filter: newFilter(), hash, hashMaxAttempts: 30 });
    const urls = Array.from({ length: 5 }, (_, index) => `https://site${index}.example/`);
    const codes = [];
    for (const url of urls) codes.push((await before.create({ url })).link.code);

    const filter = newFilter();
    expect(await filter.rebuild((after, limit) => inner.codesAfter(after, limit), 2)).toBe(5);
    for (const code of codes) expect(filter.mightContain(code)).toBe(true);
    const { store, counts } = countingStore(inner);
    const after = links({ store, strategy: 'hash', filter, hash, hashMaxAttempts: 30 });
    for (const [index, url] of urls.entries()) {
      const again = await after.create({ url });
      expect(again).toMatchObject({ created: false, link: { code: codes[index] } });
    }
    const fresh = await after.create({ url: 'https://new.example/' });
    expect(fresh.created).toBe(true);
    expect(codes).not.toContain(fresh.link.code);
    // Every taken candidate was known to the filter, so no insert ever hit an existing code.
    expect(counts.insert).toBe(1);
  });

  it('learns codes another instance inserted when its own insert finds them taken', async () => {
    // Two instances, each with its own filter, one store: the second never heard of the first's code.
    const shared = new MemoryLinkStore();
    const one = links({ store: shared, strategy: 'hash', filter: newFilter() });
    const otherFilter = newFilter();
    const other = links({ store: shared, strategy: 'hash', filter: otherFilter });
    const created = await one.create({ url: 'https://shared.example/' });
    expect(otherFilter.mightContain(created.link.code)).toBe(false);
    const seen = await other.create({ url: 'https://shared.example/' });
    expect(seen).toEqual({ created: false, link: created.link });
    expect(otherFilter.mightContain(created.link.code)).toBe(true);
  });
});

describe('aliases', () => {
  it('takes a free alias, refuses a taken one, and treats a retried identical request as done', async () => {
    const service = links({ store: new MemoryLinkStore() });
    const created = await service.create({ url: 'https://example.com/x', alias: 'launch' });
    expect(created).toMatchObject({ created: true, link: { code: 'launch', kind: 'alias' } });
    expect(await service.create({ url: 'https://example.com/x', alias: 'launch' })).toEqual({
      created: false,
      link: created.link,
    });
    await expect(service.create({ url: 'https://example.com/other', alias: 'launch' })).rejects.toThrow(
      AliasTakenError,
    );
    await expect(
      service.create({ url: 'https://example.com/x', alias: 'launch', owner: 'mallory' }),
    ).rejects.toThrow(AliasTakenError);
  });

  it('never hands out a deleted alias again', async () => {
    const service = links({ store: new MemoryLinkStore() });
    await service.create({ url: 'https://example.com/x', alias: 'gone-soon', owner: 'alice' });
    await service.delete('gone-soon', 'alice');
    await expect(
      service.create({ url: 'https://example.com/x', alias: 'gone-soon', owner: 'alice' }),
    ).rejects.toThrow(AliasTakenError);
  });
});

describe('the redirect cache', () => {
  function observed() {
    const lookups: CacheLookupResult[] = [];
    return { lookups, observer: { onCacheLookup: (result: CacheLookupResult) => lookups.push(result) } };
  }

  it('misses once, then hits, and invalidates on delete', async () => {
    const { store, counts } = countingStore();
    const { lookups, observer } = observed();
    const service = links({ store, observer });
    const { link } = await service.create({ url: 'https://example.com/cached', owner: 'alice' });
    counts.find = 0;
    expect((await service.lookup(link.code))?.url).toBe('https://example.com/cached');
    expect((await service.lookup(link.code))?.url).toBe('https://example.com/cached');
    expect(lookups).toEqual(['miss', 'hit']);
    expect(counts.find).toBe(1);
    await service.delete(link.code, 'alice');
    expect((await service.lookup(link.code))?.gone).toBe(true);
    expect(lookups.at(-1)).toBe('miss');
  });

  it('caches unknown codes briefly, and a creation clears the negative entry at once', async () => {
    let now = 1_000_000;
    const { store, counts } = countingStore();
    const { lookups, observer } = observed();
    const service = links({ store, observer, cache: new MemoryLinkCache(100, () => now), nowMs: () => now });
    expect(await service.lookup('later')).toBeUndefined();
    expect(await service.lookup('later')).toBeUndefined();
    expect(lookups).toEqual(['miss', 'negative-hit']);
    expect(counts.find).toBe(1);
    now += 5_000;
    expect(await service.lookup('unknown-again')).toBeUndefined();
    await service.create({ url: 'https://example.com/now-exists', alias: 'later' });
    expect((await service.lookup('later'))?.url).toBe('https://example.com/now-exists');
  });

  it('reads the store once for 50 concurrent misses of one code', async () => {
    // Single flight: a hot link falling out of the cache must not stampede the database.
    const { store, counts } = countingStore();
    const service = links({ store });
    const { link } = await service.create({ url: 'https://example.com/hot' });
    counts.find = 0;
    const answers = await Promise.all(Array.from({ length: 50 }, () => service.lookup(link.code)));
    expect(answers.every((answer) => answer?.url === 'https://example.com/hot')).toBe(true);
    expect(counts.find).toBe(1);
  });
});

describe('deleting', () => {
  it('lets only the creator delete, and refuses anonymous links', async () => {
    const service = links({ store: new MemoryLinkStore() });
    const owned = await service.create({ url: 'https://example.com/owned', owner: 'alice' });
    const anonymous = await service.create({ url: 'https://example.com/anon' });
    await expect(service.delete(owned.link.code, 'mallory')).rejects.toThrow(NotOwnerError);
    await expect(service.delete(anonymous.link.code, 'alice')).rejects.toThrow(NotOwnerError);
    await service.delete(owned.link.code, 'alice');
    await service.delete(owned.link.code, 'alice');
    expect((await service.find(owned.link.code))?.deletedAt).toBeInstanceOf(Date);
    service.close();
  });
});
