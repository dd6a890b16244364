import type { AddressInfo } from 'node:net';
import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumMissing, freshSchemaName } from '@sysdesign/testkit';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildFromEnv, submit, waitForState } from '../helpers.js';

/**
 * What a person checks by eye on the dashboard, in Debian's headless chromium: the queue table
 * with its counts, last-hour throughput bars, a job's timeline with its attempts, and a DAG drawn
 * as SVG nodes and edges coloured by state, kept current by polling.
 */

const missing = chromiumMissing();
const haveChromium = missing === undefined;
if (missing) console.warn(`dashboard browser test skipped: ${missing}`);

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let browser: Browser;
let baseUrl: string;

beforeAll(async () => {
  if (!haveChromium) return;
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv({}, { embedded, schema: freshSchemaName('browser') });
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
});
afterAll(async () => {
  if (!haveChromium) return;
  await browser.close();
  await app.close();
  await embedded.close();
});

describe.skipIf(!haveChromium)('dashboard', () => {
  it('shows queue counts, throughput, a retried job timeline and a DAG with a failure cascade', async () => {
    const auth = await bearer();
    const retried = await submit(
      app,
      {
        queue: 'builtin',
        payload: { handler: 'fail-n-times', n: 1 },
        backoff: { kind: 'fixed', delayMs: 0 },
      },
      auth,
    );
    await waitForState(app, retried.id, 'succeeded');
    const dag = await app.inject({
      method: 'POST',
      url: '/v1/dags',
      headers: auth,
      payload: {
        jobs: [
          { ref: 'extract', queue: 'builtin', payload: { handler: 'echo', value: 1 } },
          {
            ref: 'broken',
            queue: 'builtin',
            payload: { handler: 'fail-n-times', n: 9 },
            maxAttempts: 1,
            dependsOn: ['extract'],
          },
          { ref: 'ok', queue: 'builtin', payload: { handler: 'echo' }, dependsOn: ['extract'] },
          { ref: 'report', queue: 'builtin', payload: { handler: 'echo' }, dependsOn: ['broken', 'ok'] },
        ],
      },
    });
    const { flowId, jobs } = dag.json<{ flowId: string; jobs: Record<string, string> }>();
    await waitForState(app, jobs.report as string, 'cancelled');

    const page = await browser.newPage();
    try {
      await page.goto(`${baseUrl}/?job=${retried.id}&flow=${flowId}`);
      const builtinRow = page.locator('#queues tr[data-queue="builtin"]');
      await builtinRow.waitFor();
      // columns: queue, depth, running, waiting, failed, dead, succeeded, paused
      expect(await builtinRow.locator('td').nth(5).textContent()).toBe('1');
      expect(Number(await builtinRow.locator('td').nth(6).textContent())).toBeGreaterThanOrEqual(3);
      await builtinRow.click();
      await page.locator('#throughput rect.bar').first().waitFor();
      expect(await page.locator('#throughput-queue').textContent()).toBe('builtin');

      const timeline = page.locator('#job ol.timeline li');
      await timeline.nth(3).waitFor();
      expect(await timeline.allTextContents()).toEqual([
        expect.stringContaining('→ running, attempt 1'),
        expect.stringContaining('→ failed, attempt 1'),
        expect.stringContaining('→ running, attempt 2'),
        expect.stringContaining('→ succeeded, attempt 2'),
      ]);

      await page.locator('#dag g.node').nth(3).waitFor();
      const states = await page
        .locator('#dag g.node')
        .evaluateAll((nodes) => nodes.map((node) => `${node.textContent}`).sort());
      expect(states).toEqual(['broken: dead', 'extract: succeeded', 'ok: succeeded', 'report: cancelled']);
      expect(await page.locator('#dag line.edge').count()).toBe(4);

      // Polling keeps it current: a new dead job shows without a reload.
      const doomed = await submit(
        app,
        { queue: 'builtin', payload: { handler: 'fail-n-times', n: 3 }, maxAttempts: 1 },
        auth,
      );
      await waitForState(app, doomed.id, 'dead');
      await expect.poll(() => builtinRow.locator('td').nth(5).textContent(), { timeout: 10_000 }).toBe('2');
    } finally {
      await page.close();
    }
  });
});
