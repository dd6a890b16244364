import { EmbeddedPostgres } from '@sysdesign/platform';
import { freshSchemaName, tempDirSync } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, createLink, expectClicksSettle, metricValue } from './helpers.js';

let embedded: EmbeddedPostgres;
beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
});
afterAll(async () => embedded.close());

describe('hashed codes across a restart', () => {
  it('rebuilds the bloom filter from the database: old URLs keep their codes, nothing is read twice', async () => {
    // After a restart the filter must again hold every stored code, or candidates would look free.
    const dir = tempDirSync('url-shortener-hash-restart-');
    const schema = freshSchemaName('hash');
    const env = { DATA_DIR: dir, CODE_STRATEGY: 'hash' };
    const urls = Array.from({ length: 40 }, (_, index) => `https://example.com/article/${index}`);
    const first = await buildFromEnv(env, { embedded, schema });
    const codes: string[] = [];
    for (const url of urls) {
      const { status, link } = await createLink(first, { url });
      expect(status).toBe(201);
      expect(link.code).toMatch(/^[0-9A-Za-z]{7}$/);
      codes.push(link.code);
    }
    expect(await metricValue(first, 'urlshort_bloom_checks_total', { result: 'maybe_taken' })).toBe(0);
    await first.close();

    const second = await buildFromEnv(env, { embedded, schema });
    try {
      for (const [index, url] of urls.entries()) {
        expect(await createLink(second, { url })).toMatchObject({
          status: 200,
          link: { code: codes[index] },
        });
      }
      expect(await metricValue(second, 'urlshort_bloom_checks_total', { result: 'maybe_taken' })).toBe(40);
      expect(await metricValue(second, 'urlshort_bloom_false_positives_total')).toBe(0);
      const fresh = await createLink(second, { url: 'https://example.com/new-after-restart' });
      expect(fresh.status).toBe(201);
      expect(codes).not.toContain(fresh.link.code);
      expect((await second.inject({ url: `/${codes[7]}` })).headers.location).toBe(urls[7]);
    } finally {
      await second.close();
    }
  });
});

describe('clicks across a restart (embedded mode)', () => {
  it('counts clicks made before a restart once the next start consumes them from the durable bus', async () => {
    // The first life serves redirects without an aggregator; its clicks wait on disk under DATA_DIR.
    const dir = tempDirSync('url-shortener-bus-restart-');
    const schema = freshSchemaName('busrestart');
    const first = await buildFromEnv({ DATA_DIR: dir, AGGREGATOR_ENABLED: 'false' }, { embedded, schema });
    const { link } = await createLink(first, { url: 'https://example.com/survives' });
    for (let index = 0; index < 150; index++)
      expect((await first.inject({ url: `/${link.code}` })).statusCode).toBe(302);
    await first.close();
    const second = await buildFromEnv({ DATA_DIR: dir }, { embedded, schema });
    try {
      await expectClicksSettle(second, link.code, 150);
    } finally {
      await second.close();
    }
  });
});
