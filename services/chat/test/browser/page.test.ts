import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumMissing } from '@sysdesign/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment } from '../helpers.js';

/**
 * The chat page at `/`, in Debian's headless Chromium: two users, each in a browser context of
 * their own (their own storage, their own socket), log in as demo users and talk to each other.
 */

const missing = chromiumMissing();
const describeIf = missing === undefined ? describe : describe.skip;
if (missing) console.warn(`[chat] skipping the browser test: ${missing}`);

async function logIn(browser: Browser, base: string, userId: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.fill('#user', userId);
  await page.click('#login button[type=submit]');
  await page.waitForFunction("document.querySelector('#status').dataset.state === 'live'");
  expect(await page.textContent('#me')).toBe(`as ${userId}`);
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#body', text);
  await page.click('#composer button[type=submit]');
}

async function bodies(page: Page): Promise<string[]> {
  return page.locator('#messages li:not(.pending) .body').allTextContents();
}

describeIf('the chat page in two browsers', () => {
  // Embedded mode (no AUTH_SECRET): the page's demo login is on.
  const chat = deployment({ env: { PRESENCE_GRACE_MS: '0' } });
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    base = (await chat.start({ AUTH_SECRET: '' })).url.replace(/^ws/, 'http');
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
  });

  afterAll(async () => {
    await browser?.close();
    await chat.close();
  });

  it('alice opens a direct channel with bob; they exchange messages live, in order, with presence', async () => {
    const alice = await logIn(browser, base, 'alice');
    const bob = await logIn(browser, base, 'bob');

    await alice.fill('#peer', 'bob');
    await alice.click('#direct button[type=submit]');
    await alice.waitForSelector('#channels li.active');
    expect(await alice.locator('#channels li.active .label').textContent()).toBe('bob');

    // Bob's list gets the channel from the socket's `channel` frame, without a reload.
    await bob.waitForSelector('#channels li');
    expect(await bob.locator('#channels li .label').textContent()).toBe('alice');
    // Each sees the other online (presence pushed to subscribers).
    await alice.waitForSelector('#channels li .dot.online[data-user=bob]');
    await bob.waitForSelector('#channels li .dot.online[data-user=alice]');

    await say(alice, 'hi bob');
    await say(alice, 'are you there?');
    // Unread on bob's side until he opens the channel.
    await bob.waitForFunction("document.querySelector('#channels li .unread')?.textContent === '2'");
    await bob.click('#channels li');
    await bob.waitForFunction("document.querySelectorAll('#messages li:not(.pending)').length === 2");
    expect(await bodies(bob)).toEqual(['hi bob', 'are you there?']);
    expect(await bob.locator('#messages li .sender').allTextContents()).toEqual(['alice', 'alice']);

    await say(bob, 'yes, hello alice');
    await alice.waitForFunction("document.querySelectorAll('#messages li:not(.pending)').length === 3");
    expect(await bodies(alice)).toEqual(['hi bob', 'are you there?', 'yes, hello alice']);

    // Typing is shown to the other side, and never stored.
    await bob.fill('#body', 'typing something');
    await bob.dispatchEvent('#body', 'input');
    await alice.waitForFunction("document.querySelector('#typing').textContent === 'bob typing…'");

    // Bob's page reloads (a new socket): the history comes back in order, no repeat.
    await bob.reload();
    await bob.fill('#user', 'bob');
    await bob.click('#login button[type=submit]');
    await bob.waitForFunction("document.querySelector('#status').dataset.state === 'live'");
    await bob.waitForSelector('#channels li');
    await bob.click('#channels li');
    await bob.waitForFunction("document.querySelectorAll('#messages li:not(.pending)').length === 3");
    expect(await bodies(bob)).toEqual(['hi bob', 'are you there?', 'yes, hello alice']);

    // Bob's socket drops (the reconnect held back by hand): alice's message is missed and bob's
    // send waits, greyed. On reconnect the page resumes the channel and resends its send with the
    // same client message id: both sides end with the same five messages, none twice.
    await bob.evaluate('state.reconnectMs = 3600000; state.ws.close()');
    await bob.waitForFunction("document.querySelector('#status').dataset.state === 'offline'");
    await say(alice, 'while you were away');
    await say(bob, 'sent offline');
    expect(await bob.locator('#messages li.pending .body').allTextContents()).toEqual(['sent offline']);
    await alice.waitForFunction("document.querySelectorAll('#messages li:not(.pending)').length === 4");
    await bob.evaluate('state.reconnectMs = 500; connect()');
    const five = ['hi bob', 'are you there?', 'yes, hello alice', 'while you were away', 'sent offline'];
    await bob.waitForFunction("document.querySelectorAll('#messages li:not(.pending)').length === 5");
    expect(await bodies(bob)).toEqual(five);
    expect(await bob.locator('#messages li.pending').count()).toBe(0);
    await alice.waitForFunction("document.querySelectorAll('#messages li:not(.pending)').length === 5");
    expect(await bodies(alice)).toEqual(five);

    // Bob leaves: alice sees him offline (grace 0 here).
    await bob.context().close();
    await alice.waitForSelector('#channels li .dot[data-user=bob]:not(.online)');
    await alice.context().close();
  }, 60_000);
});
