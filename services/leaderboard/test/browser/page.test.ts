import type { AddressInfo } from 'node:net';
import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumMissing, freshSchemaName } from '@sysdesign/testkit';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, type Client, clientOf } from '../helpers.js';

/**
 * The live page at `/`, in Debian's headless Chromium: what a person would check by eye. It
 * shows the board's top 10 and follows a new score without a reload.
 */

const missing = chromiumMissing();
const describeIf = missing === undefined ? describe : describe.skip;
if (missing) console.warn(`[leaderboard] skipping the browser test: ${missing}`);

describeIf('the live top-10 page', () => {
  let embedded: EmbeddedPostgres;
  let app: ServiceApp;
  let client: Client;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
    app = await buildFromEnv({ LIVE_INTERVAL_MS: '50' }, { embedded, schema: freshSchemaName('lb_page') });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    client = await clientOf(app);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await embedded?.close();
  });

  it('shows the top 10 of the chosen board and follows a new leader live', async () => {
    await client.createBoard({ id: 'arena' });
    for (let index = 0; index < 12; index += 1) await client.submit('arena', `player-${index}`, 100 + index);
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.fill('#board', 'arena');
    await page.click('button[type=submit]');
    await page.waitForFunction("document.querySelectorAll('#rows tr').length === 10");
    const firstRow = async () => page.locator('#rows tr').first().locator('td').allTextContents();
    expect(await firstRow()).toEqual(['1', 'player-11', '111']);
    expect(await page.locator('#status').getAttribute('data-state')).toBe('live');

    await client.submit('arena', 'newcomer', 500);
    await page.waitForFunction("document.querySelector('#rows tr td.player')?.textContent === 'newcomer'");
    expect(await firstRow()).toEqual(['1', 'newcomer', '500']);
    expect(await page.locator('#rows tr').count()).toBe(10);
    await page.close();
  });
});
