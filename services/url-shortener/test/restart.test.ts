import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EmbeddedPostgres } from '@sysdesign/platform';
import { freePort, freshSchemaName, tempDirSync, waitFor } from '@sysdesign/testkit';
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

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function startProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--conditions=@sysdesign/source', MAIN], {
    // The embedded mode whatever the test run has: CI's DATABASE_URL would put the child in the
    // service's default schema of a shared server. Empty means unset.
    env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', KAFKA_BROKERS: '', LOG_LEVEL: 'warn', ...env },
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

async function waitReady(base: string, child: ChildProcess): Promise<void> {
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
      return fetch(`${base}/readyz`).then(
        (response) => response.ok,
        () => false,
      );
    },
    'the service to be ready',
    { timeoutMs: 45_000, intervalMs: 100 },
  );
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((entry) => entry.startsWith(`${name}{`) || entry.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('a crash of the whole process (kill -9)', () => {
  it('counts exactly N clicks after the service is killed mid-aggregation and started again', async () => {
    // A real crash: no close hook runs. What the aggregator held is lost from memory; the durable
    // bus redelivers it after the restart, and the dedupe keeps what was already flushed from
    // counting twice. Flushes happen only at 150 held clicks (messages hold at most 20, and a
    // partition holds one at a time), so the kill always lands with 1..149 clicks in memory.
    const dir = tempDirSync('url-shortener-kill9-');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      PGLITE_DIR: `${dir}/pglite`,
      AUTH_SECRET: 'kill-nine-secret-of-at-least-32-bytes!',
      CLICK_LINGER_MS: '2',
      CLICK_BATCH_MAX: '20',
      FLUSH_IDLE_MS: '60000',
      FLUSH_INTERVAL_MS: '60000',
      FLUSH_MAX_CLICKS: '150',
    };
    const N = 400;
    let child = startProcess(env);
    try {
      await waitReady(base, child);
      const created = await fetch(`${base}/v1/urls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'https://example.com/crash-proof' }),
      });
      const { code } = (await created.json()) as { code: string };
      for (let sent = 0; sent < N; sent += 20) {
        await Promise.all(
          Array.from({ length: 20 }, () =>
            fetch(`${base}/${code}`, { redirect: 'manual' }).then((response) => response.status),
          ),
        );
      }
      // Every click is on the bus (published), and some are not yet flushed: crash now.
      await waitFor(
        async () => (await metric(base, 'urlshort_clicks_published_total')) === N,
        'all clicks published',
      );
      const aggregatedBeforeKill = await metric(base, 'urlshort_clicks_aggregated_total');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(aggregatedBeforeKill).toBeLessThan(N);

      child = startProcess({ ...env, FLUSH_IDLE_MS: '10' });
      await waitReady(base, child);
      let total = -1;
      await waitFor(
        async () => {
          const record = (await (await fetch(`${base}/v1/urls/${code}`)).json()) as {
            clicks: { total: number };
          };
          total = record.clicks.total;
          return total >= N;
        },
        `${N} clicks counted`,
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const record = (await (await fetch(`${base}/v1/urls/${code}`)).json()) as { clicks: { total: number } };
      expect(record.clicks.total).toBe(N);
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    }
  }, 120_000);
});
