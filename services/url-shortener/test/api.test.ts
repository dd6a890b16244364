import { EmbeddedPostgres, type ServiceApp, TokenAuthority } from '@sysdesign/platform';
import { describeWith, dropSchema, freshSchemaName, postgresBackend, tempDirSync } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, createLink, expectClicksSettle, metricValue, TEST_AUTH_SECRET } from './helpers.js';

const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });
const bearer = async (user: string) => ({
  authorization: `Bearer ${await authority.issue(user, { ttlSeconds: 600 })}`,
});

/** A clock the test moves: expiry without sleeping. */
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };

/** The HTTP behaviour of the service, whichever database backs it. */
function apiContract(open: (env?: Record<string, string>) => Promise<ServiceApp>) {
  let app: ServiceApp;
  beforeAll(async () => {
    app = await open();
  });
  afterAll(async () => app.close());

  describe('creation', () => {
    it('answers 201 with a short URL under PUBLIC_BASE_URL, and 200 with the same code for the same URL', async () => {
      const created = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload: { url: 'https://example.com/landing?utm=1' },
      });
      expect(created.statusCode).toBe(201);
      const link = created.json();
      expect(link).toMatchObject({
        url: 'https://example.com/landing?utm=1',
        expiresAt: null,
        maxClicks: null,
      });
      expect(link.shortUrl).toBe(`http://localhost:3004/${link.code}`);
      expect(created.headers.location).toBe(`/v1/urls/${link.code}`);
      expect(Date.parse(link.createdAt)).toBeGreaterThan(0);
      const again = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload: { url: 'https://example.com/landing?utm=1' },
      });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual(link);
    });

    it('stores one link for 20 concurrent creations of the same URL', async () => {
      const url = `https://example.com/concurrent/${Date.now()}`;
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => app.inject({ method: 'POST', url: '/v1/urls', payload: { url } })),
      );
      expect(responses.filter((response) => response.statusCode === 201)).toHaveLength(1);
      expect(new Set(responses.map((response) => response.json().code)).size).toBe(1);
    });

    it('normalises the URL before dedupe: case of scheme and host, default port', async () => {
      const first = await createLink(app, { url: 'HTTPS://Example.COM:443/Case' });
      const second = await createLink(app, { url: 'https://example.com/Case' });
      expect(first.link.url).toBe('https://example.com/Case');
      expect(second).toEqual({ status: 200, link: first.link });
    });

    it('takes a free alias, refuses it once taken (409), and returns it again for an identical retry', async () => {
      const alias = `spring-${Date.now().toString(36)}`;
      const created = await createLink(app, { url: 'https://example.com/spring', alias });
      expect(created).toMatchObject({
        status: 201,
        link: { code: alias, shortUrl: `http://localhost:3004/${alias}` },
      });
      expect((await createLink(app, { url: 'https://example.com/spring', alias })).status).toBe(200);
      const taken = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload: { url: 'https://example.com/other', alias },
      });
      expect(taken.statusCode).toBe(409);
      expect(taken.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(taken.json()).toMatchObject({ code: 'URLSHORT_ERR_ALIAS_TAKEN', field: 'alias' });
    });

    it('records expiresAt and maxClicks', async () => {
      const expiresAt = new Date(clock.now() + 3_600_000).toISOString();
      const { link } = await createLink(app, { url: 'https://example.com/terms', expiresAt, maxClicks: 3 });
      expect(link).toMatchObject({ expiresAt, maxClicks: 3 });
    });
  });

  describe('redirects', () => {
    it('redirects with 302, no-cache, and an empty body', async () => {
      const { link } = await createLink(app, { url: 'https://example.com/go?x=1#top' });
      const response = await app.inject({ url: `/${link.code}` });
      expect(response.statusCode).toBe(302);
      expect(response.headers.location).toBe('https://example.com/go?x=1#top');
      expect(response.headers['cache-control']).toBe('private, no-cache');
      expect(response.body).toBe('');
    });

    it('answers 404 problem+json for an unknown or malformed code', async () => {
      for (const path of ['/unknownCode1', '/abc.def', `/${'x'.repeat(40)}`, '/%00', '/a%2Fb']) {
        const response = await app.inject({ url: path });
        expect(response.statusCode, path).toBe(404);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
      expect((await app.inject({ url: '/unknownCode1' })).json()).toMatchObject({
        code: 'URLSHORT_ERR_NOT_FOUND',
      });
    });

    it('answers 410 once a link has expired, and reports it expired', async () => {
      const expiresAt = new Date(clock.now() + 60_000).toISOString();
      const { link } = await createLink(app, { url: 'https://example.com/soon', expiresAt });
      expect((await app.inject({ url: `/${link.code}` })).statusCode).toBe(302);
      clock.offsetMs += 60_001;
      try {
        const gone = await app.inject({ url: `/${link.code}` });
        expect(gone.statusCode).toBe(410);
        expect(gone.json()).toMatchObject({ code: 'URLSHORT_ERR_EXPIRED' });
        expect((await app.inject({ url: `/v1/urls/${link.code}` })).json()).toMatchObject({
          status: 'expired',
        });
        expect((await app.inject({ url: `/v1/urls/${link.code}/qr` })).statusCode).toBe(410);
      } finally {
        clock.offsetMs -= 60_001;
      }
    });

    it('admits exactly maxClicks of 25 concurrent redirects, then answers 410', async () => {
      const { link } = await createLink(app, { url: 'https://example.com/limited', maxClicks: 5 });
      const responses = await Promise.all(
        Array.from({ length: 25 }, () => app.inject({ url: `/${link.code}` })),
      );
      expect(responses.filter((response) => response.statusCode === 302)).toHaveLength(5);
      const refused = responses.filter((response) => response.statusCode === 410);
      expect(refused).toHaveLength(20);
      expect(refused[0]!.json()).toMatchObject({ code: 'URLSHORT_ERR_CLICK_LIMIT_REACHED' });
      const record = (await app.inject({ url: `/v1/urls/${link.code}` })).json();
      expect(record).toMatchObject({ status: 'exhausted', remainingClicks: 0 });
      await expectClicksSettle(app, link.code, 5);
    });
  });

  describe('deletion', () => {
    it('lets the creator delete (204); others get 401 or 403; the link then answers 410', async () => {
      const alice = await bearer('alice');
      const { link } = await createLink(app, { url: 'https://example.com/mine' }, alice);
      expect((await app.inject({ url: `/${link.code}` })).statusCode).toBe(302);
      const anonymous = await app.inject({ method: 'DELETE', url: `/v1/urls/${link.code}` });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
      const mallory = await app.inject({
        method: 'DELETE',
        url: `/v1/urls/${link.code}`,
        headers: await bearer('mallory'),
      });
      expect(mallory.statusCode).toBe(403);
      expect(mallory.json()).toMatchObject({ code: 'URLSHORT_ERR_NOT_OWNER' });
      const forged = await app.inject({
        method: 'DELETE',
        url: `/v1/urls/${link.code}`,
        headers: { authorization: 'Bearer abc.def.ghi' },
      });
      expect(forged.statusCode).toBe(401);
      expect(
        (await app.inject({ method: 'DELETE', url: `/v1/urls/${link.code}`, headers: alice })).statusCode,
      ).toBe(204);
      expect(
        (await app.inject({ method: 'DELETE', url: `/v1/urls/${link.code}`, headers: alice })).statusCode,
      ).toBe(204);
      const gone = await app.inject({ url: `/${link.code}` });
      expect(gone.statusCode).toBe(410);
      expect(gone.json()).toMatchObject({ code: 'URLSHORT_ERR_DELETED' });
      expect((await app.inject({ url: `/v1/urls/${link.code}` })).statusCode).toBe(410);
    });

    it('refuses to delete an anonymous link (403) and an unknown one (404)', async () => {
      const { link } = await createLink(app, { url: 'https://example.com/anonymous' });
      const alice = await bearer('alice');
      expect(
        (await app.inject({ method: 'DELETE', url: `/v1/urls/${link.code}`, headers: alice })).statusCode,
      ).toBe(403);
      expect(
        (await app.inject({ method: 'DELETE', url: '/v1/urls/nothingHere', headers: alice })).statusCode,
      ).toBe(404);
    });

    it('keeps one user’s link apart from another’s for the same URL', async () => {
      const url = 'https://example.com/shared-target';
      const alices = await createLink(app, { url }, await bearer('alice'));
      const bobs = await createLink(app, { url }, await bearer('bob'));
      expect(bobs.status).toBe(201);
      expect(bobs.link.code).not.toBe(alices.link.code);
      expect(
        (
          await app.inject({
            method: 'DELETE',
            url: `/v1/urls/${alices.link.code}`,
            headers: await bearer('alice'),
          })
        ).statusCode,
      ).toBe(204);
      expect((await app.inject({ url: `/${bobs.link.code}` })).statusCode).toBe(302);
    });

    it('refuses a creation with an invalid bearer token instead of creating anonymously', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload: { url: 'https://example.com/x' },
        headers: { authorization: 'Bearer not-a-token' },
      });
      expect(response.statusCode).toBe(401);
    });
  });

  describe('the record and its clicks', () => {
    it('counts every redirect once: total, this minute, referrers and device classes', async () => {
      const { link } = await createLink(app, { url: 'https://example.com/counted' });
      const iphone = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148';
      const desktop = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120';
      const requests = [
        ...Array.from({ length: 12 }, () => ({
          referer: 'https://news.ycombinator.com/item?id=1',
          'user-agent': iphone,
        })),
        ...Array.from({ length: 7 }, () => ({ referer: 'https://t.co/abc', 'user-agent': desktop })),
        ...Array.from({ length: 3 }, () => ({ 'user-agent': 'curl/8.5.0' })),
      ];
      await Promise.all(requests.map((headers) => app.inject({ url: `/${link.code}`, headers })));
      await expectClicksSettle(app, link.code, 22);
      const record = (await app.inject({ url: `/v1/urls/${link.code}` })).json();
      expect(record).toMatchObject({
        code: link.code,
        url: 'https://example.com/counted',
        status: 'active',
        remainingClicks: null,
      });
      expect(record.clicks.perMinute).toHaveLength(60);
      expect(
        record.clicks.perMinute.reduce((sum: number, entry: { clicks: number }) => sum + entry.clicks, 0),
      ).toBe(22);
      expect(record.clicks.topReferrers).toEqual([
        { referrer: 'news.ycombinator.com', clicks: 12 },
        { referrer: 't.co', clicks: 7 },
        { referrer: 'direct', clicks: 3 },
      ]);
      expect(record.clicks.devices).toEqual([
        { device: 'mobile', clicks: 12 },
        { device: 'desktop', clicks: 7 },
        { device: 'bot', clicks: 3 },
      ]);
    });

    it('answers 404 for an unknown code and 400 for a malformed one', async () => {
      expect((await app.inject({ url: '/v1/urls/nothingHere' })).statusCode).toBe(404);
      const bad = await app.inject({ url: '/v1/urls/bad.code' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().errors[0]).toMatchObject({ in: 'params', field: 'code' });
    });
  });

  describe('QR codes', () => {
    it('draws the short URL as SVG by default and as PNG on request', async () => {
      const { link } = await createLink(app, { url: 'https://example.com/qr' });
      const svg = await app.inject({ url: `/v1/urls/${link.code}/qr` });
      expect(svg.statusCode).toBe(200);
      expect(svg.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
      expect(svg.body).toMatch(/^<svg[^>]*viewBox/);
      const png = await app.inject({ url: `/v1/urls/${link.code}/qr?format=png&size=l` });
      expect(png.headers['content-type']).toBe('image/png');
      expect(png.rawPayload.subarray(0, 8)).toEqual(
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      );
      expect(png.rawPayload.readUInt32BE(16)).toBe(512);
      expect((await app.inject({ url: '/v1/urls/nothingHere/qr' })).statusCode).toBe(404);
    });

    it.each([
      ['format=gif', 'format'],
      ['format=', 'format'],
      // Only the presets: every other size would be one more image to render and cache.
      ['size=10', 'size'],
      ['size=256', 'size'],
      ['size=5000', 'size'],
      ['size=abc', 'size'],
      ['size=1.5', 'size'],
      ['size=S', 'size'],
    ])('rejects %s with a 400 naming query.%s', async (query, field) => {
      const { link } = await createLink(app, { url: 'https://example.com/qr-bad' });
      const response = await app.inject({ url: `/v1/urls/${link.code}/qr?${query}` });
      expect(response.statusCode).toBe(400);
      expect(response.json().errors[0]).toMatchObject({ in: 'query', field });
    });
  });

  describe('bad input on every field', () => {
    const longUrl = `https://example.com/${'a'.repeat(2030)}`;
    it.each([
      ['missing url', {}, 'url'],
      ['url of the wrong type', { url: 42 }, 'url'],
      ['url null', { url: null }, 'url'],
      ['url as an array', { url: ['https://example.com'] }, 'url'],
      ['an empty url', { url: '' }, 'url'],
      ['a relative url', { url: '/just/a/path' }, 'url'],
      ['a javascript: url', { url: 'javascript:alert(document.cookie)' }, 'url'],
      ['a data: url', { url: 'data:text/html,<script>alert(1)</script>' }, 'url'],
      ['a file: url', { url: 'file:///etc/passwd' }, 'url'],
      ['a url with credentials', { url: 'https://admin:hunter2@example.com/' }, 'url'],
      ['a url with a user only', { url: 'https://paypal.com@evil.example/' }, 'url'],
      ['a url over 2048 characters', { url: longUrl }, 'url'],
      ['a url of 100 KB', { url: `https://example.com/${'b'.repeat(100_000)}` }, 'url'],
      ['a url pointing at this shortener', { url: 'http://localhost:3004/abc' }, 'url'],
      ['a url with a newline', { url: 'https://example.com/\r\nSet-Cookie: x=1' }, 'url'],
      ['a url with a NUL', { url: 'https://example.com/\u0000' }, 'url'],
      ['alias of the wrong type', { url: 'https://example.com', alias: 7 }, 'alias'],
      ['an alias too short', { url: 'https://example.com', alias: 'ab' }, 'alias'],
      ['an alias too long', { url: 'https://example.com', alias: 'a'.repeat(33) }, 'alias'],
      ['an alias of 10 KB', { url: 'https://example.com', alias: 'a'.repeat(10_000) }, 'alias'],
      ['an alias with a slash', { url: 'https://example.com', alias: 'a/b/c' }, 'alias'],
      ['an alias with a dot', { url: 'https://example.com', alias: 'file.txt' }, 'alias'],
      ['an alias with markup', { url: 'https://example.com', alias: '<img src=x>' }, 'alias'],
      ['a reserved alias', { url: 'https://example.com', alias: 'docs' }, 'alias'],
      ['a reserved alias in capitals', { url: 'https://example.com', alias: 'METRICS' }, 'alias'],
      ['the reserved alias healthz', { url: 'https://example.com', alias: 'healthz' }, 'alias'],
      ['expiresAt of the wrong type', { url: 'https://example.com', expiresAt: 1_900_000_000 }, 'expiresAt'],
      ['expiresAt not a date', { url: 'https://example.com', expiresAt: 'tomorrow' }, 'expiresAt'],
      [
        'expiresAt without a time zone',
        { url: 'https://example.com', expiresAt: '2031-01-01T00:00:00' },
        'expiresAt',
      ],
      [
        'expiresAt in the past',
        { url: 'https://example.com', expiresAt: '2001-01-01T00:00:00Z' },
        'expiresAt',
      ],
      [
        'expiresAt in year 29999',
        { url: 'https://example.com', expiresAt: '2999-01-01T00:00:00Z' },
        'expiresAt',
      ],
      ['maxClicks zero', { url: 'https://example.com', maxClicks: 0 }, 'maxClicks'],
      ['maxClicks negative', { url: 'https://example.com', maxClicks: -5 }, 'maxClicks'],
      ['maxClicks fractional', { url: 'https://example.com', maxClicks: 1.5 }, 'maxClicks'],
      ['maxClicks as a string', { url: 'https://example.com', maxClicks: '5' }, 'maxClicks'],
      ['maxClicks too large', { url: 'https://example.com', maxClicks: 1e12 }, 'maxClicks'],
      ['an unknown field', { url: 'https://example.com', owner: 'admin' }, ''],
    ])('rejects %s with a 400 problem naming the field', async (_name, payload, field) => {
      const response = await app.inject({ method: 'POST', url: '/v1/urls', payload });
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = response.json();
      expect(problem).toMatchObject({ status: 400, code: 'ERR_VALIDATION' });
      expect(
        problem.errors.map((error: { in: string; field: string }) => `${error.in}.${error.field}`),
      ).toContain(field ? `body.${field}` : 'body.');
    });

    it('names every bad field at once when the shapes are right', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload: { url: 'javascript:alert(1)', alias: 'docs', expiresAt: '2001-01-01T00:00:00Z' },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().errors.map((error: { field: string }) => error.field)).toEqual([
        'url',
        'alias',
        'expiresAt',
      ]);
    });

    it.each([
      ['a body that is not JSON', '{"url": ', 'application/json', 400],
      ['a JSON array', '[]', 'application/json', 400],
      ['a JSON string', '"https://example.com"', 'application/json', 400],
      ['an empty body', '', 'application/json', 400],
      ['form encoding', 'url=https://example.com', 'application/x-www-form-urlencoded', 415],
    ])('rejects %s', async (_name, payload, contentType, status) => {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload,
        headers: { 'content-type': contentType },
      });
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    });
  });

  describe('operability', () => {
    it('counts cache hits after the first read, and reports ready', async () => {
      const { link } = await createLink(app, { url: 'https://example.com/metrics' });
      const hitsBefore = await metricValue(app, 'urlshort_cache_lookups_total', { result: 'hit' });
      const missesBefore = await metricValue(app, 'urlshort_cache_lookups_total', { result: 'miss' });
      for (let index = 0; index < 5; index++) await app.inject({ url: `/${link.code}` });
      expect(
        (await metricValue(app, 'urlshort_cache_lookups_total', { result: 'miss' })) - missesBefore,
      ).toBe(1);
      expect((await metricValue(app, 'urlshort_cache_lookups_total', { result: 'hit' })) - hitsBefore).toBe(
        4,
      );
      expect(await metricValue(app, 'urlshort_redirects_total', { status: '302' })).toBeGreaterThanOrEqual(5);
      const ready = await app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(Object.keys(ready.json().checks)).toEqual(
        expect.arrayContaining(['postgres', 'event-bus', 'worker-lease']),
      );
    });

    it('publishes its OpenAPI document with every route', async () => {
      const document = (await app.inject({ url: '/docs/json' })).json();
      expect(Object.keys(document.paths)).toEqual(
        expect.arrayContaining(['/v1/urls', '/v1/urls/{code}', '/v1/urls/{code}/qr', '/{code}']),
      );
    });

    it('keeps its own paths out of the code namespace', async () => {
      for (const path of ['/healthz', '/readyz', '/metrics', '/docs']) {
        expect((await app.inject({ url: path })).statusCode, path).not.toBe(404);
      }
    });
  });
}

describe('url-shortener API on embedded PGlite', () => {
  let embedded: EmbeddedPostgres;
  const dir = tempDirSync('url-shortener-api-');
  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
  });
  afterAll(async () => {
    await embedded.close();
  });
  apiContract((env = {}) =>
    buildFromEnv({ DATA_DIR: dir, ...env }, { embedded, schema: freshSchemaName('api'), nowMs: clock.now }),
  );

  it('sends 301 with a cache lifetime when REDIRECT_STATUS=301, but 302 for expiring and limited links', async () => {
    const other = tempDirSync('url-shortener-api301-');
    const app = await buildFromEnv(
      {
        DATA_DIR: other,
        REDIRECT_STATUS: '301',
        PERMANENT_REDIRECT_MAX_AGE_SECONDS: '600',
        PUBLIC_BASE_URL: 'https://sho.rt/',
      },
      { embedded, schema: freshSchemaName('api301') },
    );
    try {
      const plain = await createLink(app, { url: 'https://example.com/forever' });
      expect(plain.link.shortUrl).toBe(`https://sho.rt/${plain.link.code}`);
      const permanent = await app.inject({ url: `/${plain.link.code}` });
      expect(permanent.statusCode).toBe(301);
      expect(permanent.headers['cache-control']).toBe('public, max-age=600');
      const expiring = await createLink(app, {
        url: 'https://example.com/x',
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      });
      expect((await app.inject({ url: `/${expiring.link.code}` })).statusCode).toBe(302);
      const limited = await createLink(app, { url: 'https://example.com/y', maxClicks: 2 });
      expect((await app.inject({ url: `/${limited.link.code}` })).statusCode).toBe(302);
      const self = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload: { url: 'https://sho.rt/abc' },
      });
      expect(self.statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });
});

describeWith(await postgresBackend(), 'url-shortener API on Postgres', ({ url }) => {
  const schema = freshSchemaName('api');
  const dir = tempDirSync('url-shortener-api-pg-');
  afterAll(async () => {
    await dropSchema(url, schema);
  });
  apiContract((env = {}) =>
    buildFromEnv({ DATABASE_URL: url, DATA_DIR: dir, ...env }, { schema, nowMs: clock.now }),
  );
});
