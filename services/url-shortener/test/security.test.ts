import { EmbeddedPostgres, type ServiceApp, TokenAuthority } from '@sysdesign/platform';
import { freshSchemaName, tempDirSync } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SCOPE } from '../src/routes/admin.js';
import { buildFromEnv, createLink, TEST_AUTH_SECRET, totalClicks } from './helpers.js';

/** Issue #9, items 5 to 8, through the HTTP API: each of these held for an attacker before. */

const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });
const bearer = async (user: string, scopes: string[] = []) => ({
  authorization: `Bearer ${await authority.issue(user, { ttlSeconds: 600, scopes })}`,
});

let embedded: EmbeddedPostgres;
beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
});
afterAll(async () => embedded.close());

async function open(env: Record<string, string> = {}): Promise<ServiceApp> {
  return buildFromEnv(
    { DATA_DIR: tempDirSync('url-shortener-security-'), QR_RATE_LIMIT: '100000', ...env },
    { embedded, schema: freshSchemaName('security') },
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** One redirect over a real socket: the event loop must turn for it, as for any client. */
async function redirectLatencyMs(baseUrl: string, code: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/${code}`, { redirect: 'manual' });
  await response.arrayBuffer();
  expect(response.status).toBe(302);
  return performance.now() - started;
}

describe('QR codes are not a cheap DoS', () => {
  let app: ServiceApp;
  let baseUrl: string;
  beforeAll(async () => {
    app = await open();
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => app.close());

  it('keeps the median redirect latency within a bound while 32 distinct QR images are asked for at once', async () => {
    const target = await createLink(app, { url: 'https://example.com/hot' });
    const codes = [];
    for (let index = 0; index < 32; index++)
      codes.push((await createLink(app, { url: `https://example.com/qr/${index}` })).link.code);
    const before: number[] = [];
    for (let index = 0; index < 30; index++) before.push(await redirectLatencyMs(baseUrl, target.link.code));

    const burst = Promise.all(
      codes.map(async (code) => {
        const response = await fetch(`${baseUrl}/v1/urls/${code}/qr?format=png&size=l`);
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: await response.text(),
        };
      }),
    );
    let settled = false;
    void burst.finally(() => {
      settled = true;
    });
    // Four clients redirect in a loop for as long as the burst lasts, as a load generator would.
    const during: number[] = [];
    const client = async () => {
      while (!settled) during.push(await redirectLatencyMs(baseUrl, target.link.code));
    };
    await Promise.all([client(), client(), client(), client()]);
    const answers = await burst;

    // Before the fix each PNG held the event loop ~75 ms and the median went from 2 ms to 1.4 s.
    console.info(
      `median redirect: ${median(before).toFixed(2)} ms before, ${median(during).toFixed(2)} ms during`,
    );
    expect(median(during)).toBeLessThan(Math.max(100, median(before) * 20));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(0);
    for (const busy of answers.filter((answer) => answer.status === 503)) {
      expect(busy.retryAfter).toBe('1');
      expect(JSON.parse(busy.body)).toMatchObject({ code: 'URLSHORT_ERR_QR_BUSY' });
    }
  });

  it('serves a repeated image from its cache, once rendered', async () => {
    const { link } = await createLink(app, { url: 'https://example.com/qr-cached' });
    const first = await app.inject({ url: `/v1/urls/${link.code}/qr?size=s` });
    const second = await app.inject({ url: `/v1/urls/${link.code}/qr?size=s` });
    expect(second.statusCode).toBe(200);
    expect(second.body).toBe(first.body);
  });

  it('refuses sizes outside the presets with a 400', async () => {
    const { link } = await createLink(app, { url: 'https://example.com/qr-size' });
    for (const size of ['200', '1024', '64', 'xl', '']) {
      const response = await app.inject({ url: `/v1/urls/${link.code}/qr?size=${size}` });
      expect(response.statusCode, size).toBe(400);
      expect(response.json().errors[0]).toMatchObject({ in: 'query', field: 'size' });
    }
  });

  it('rate-limits QR requests per client', async () => {
    const limited = await open({ QR_RATE_LIMIT: '2' });
    try {
      const { link } = await createLink(limited, { url: 'https://example.com/qr-limited' });
      const statuses = [];
      for (let index = 0; index < 3; index++)
        statuses.push((await limited.inject({ url: `/v1/urls/${link.code}/qr` })).statusCode);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('no redirect loops through this shortener', () => {
  let app: ServiceApp;
  beforeAll(async () => {
    app = await open({ HOST: '0.0.0.0', PORT: '3004' });
  });
  afterAll(async () => app.close());

  it.each([
    'http://localhost.:3004/abc',
    'http://[::ffff:127.0.0.1]:3004/abc',
    'http://0.0.0.0:3004/abc',
    'http://0x7f.1:3004/abc',
    'http://2130706433:3004/abc',
  ])('refuses %s, one of its own addresses', async (url) => {
    const response = await app.inject({ method: 'POST', url: '/v1/urls', payload: { url } });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0]).toMatchObject({
      field: 'url',
      message: 'must not point back at this shortener',
    });
  });

  it('refuses private and metadata targets only with BLOCK_PRIVATE_TARGETS', async () => {
    const metadata = { url: 'http://169.254.169.254/latest/meta-data/' };
    expect((await app.inject({ method: 'POST', url: '/v1/urls', payload: metadata })).statusCode).toBe(201);
    const blocking = await open({ BLOCK_PRIVATE_TARGETS: 'true' });
    try {
      const refused = await blocking.inject({ method: 'POST', url: '/v1/urls', payload: metadata });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().errors[0].message).toMatch(/^must not point at a link-local address/);
    } finally {
      await blocking.close();
    }
  });
});

describe('aliases and takedowns', () => {
  let app: ServiceApp;
  beforeAll(async () => {
    app = await open();
  });
  afterAll(async () => app.close());

  it('refuses an alias that differs from a taken one only in case (409)', async () => {
    await createLink(app, { url: 'https://example.com/dev', alias: 'DevLink' });
    const lookAlike = await app.inject({
      method: 'POST',
      url: '/v1/urls',
      payload: { url: 'https://evil.example/', alias: 'devlink' },
    });
    expect(lookAlike.statusCode).toBe(409);
    expect(lookAlike.json()).toMatchObject({ code: 'URLSHORT_ERR_ALIAS_TAKEN', field: 'alias' });
  });

  it('lets only an operator disable an anonymous link, with a reason; it then answers 410 everywhere', async () => {
    const { link } = await createLink(app, { url: 'https://phish.example/login' });
    const disable = (headers: Record<string, string>, payload: unknown = { reason: 'abuse report #7' }) =>
      app.inject({
        method: 'POST',
        url: `/v1/admin/links/${link.code}/disable`,
        headers,
        payload: payload as object,
      });
    expect((await disable({})).statusCode).toBe(401);
    expect((await disable(await bearer('mallory'))).statusCode).toBe(403);
    const operator = await bearer('ops', [ADMIN_SCOPE]);
    expect((await disable(operator, { reason: '' })).statusCode).toBe(400);
    const done = await disable(operator);
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({ code: link.code, disabledReason: 'abuse report #7' });
    for (const url of [`/${link.code}`, `/v1/urls/${link.code}`, `/v1/urls/${link.code}/qr`]) {
      const gone = await app.inject({ url });
      expect(gone.statusCode, url).toBe(410);
      expect(gone.json(), url).toMatchObject({ code: 'URLSHORT_ERR_DISABLED' });
      expect(gone.body, url).not.toContain('abuse report');
    }
    const enabled = await app.inject({
      method: 'POST',
      url: `/v1/admin/links/${link.code}/enable`,
      headers: operator,
    });
    expect(enabled.json()).toMatchObject({ disabledAt: null, disabledReason: null });
    expect((await app.inject({ url: `/${link.code}` })).statusCode).toBe(302);
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/admin/links/nothingHere/disable',
      headers: operator,
      payload: { reason: 'x' },
    });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('unique clicks and the client address', () => {
  async function uniqueOf(app: ServiceApp, code: string, total: number): Promise<number> {
    for (let attempt = 0; attempt < 200 && (await totalClicks(app, code)) < total; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const stats = (await app.inject({ url: `/v1/urls/${code}` })).json();
    expect(stats.clicks.total).toBe(total);
    return stats.clicks.unique;
  }

  it('counts a client once per window by its socket address, ignoring a forged X-Forwarded-For', async () => {
    const app = await open();
    try {
      const { link } = await createLink(app, { url: 'https://example.com/unique' });
      for (let index = 0; index < 4; index++) {
        await app.inject({
          url: `/${link.code}`,
          remoteAddress: '203.0.113.5',
          headers: { 'x-forwarded-for': `198.51.100.${index}` },
        });
      }
      await app.inject({ url: `/${link.code}`, remoteAddress: '203.0.113.6' });
      expect(await uniqueOf(app, link.code, 5)).toBe(2);
    } finally {
      await app.close();
    }
  });

  it('believes the last X-Forwarded-For address only with TRUST_PROXY', async () => {
    const app = await open({ TRUST_PROXY: 'true' });
    try {
      const { link } = await createLink(app, { url: 'https://example.com/unique-proxied' });
      for (let index = 0; index < 4; index++) {
        await app.inject({
          url: `/${link.code}`,
          remoteAddress: '10.0.0.2',
          headers: { 'x-forwarded-for': `1.2.3.4, 198.51.100.${index % 2}` },
        });
      }
      expect(await uniqueOf(app, link.code, 4)).toBe(2);
    } finally {
      await app.close();
    }
  });
});
