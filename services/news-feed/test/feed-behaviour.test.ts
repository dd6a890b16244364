import { type BusMessage, EmbeddedPostgres, InProcessEventBus } from '@sysdesign/platform';
import { freshSchemaName, seededRandom } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreOfId } from '../src/domain/score.js';
import { type Built, buildFromEnv, Client, drained } from './helpers.js';

/**
 * The promises a reader sees in the write mode with FEED_MAX 10: pages past the cap come from
 * Postgres seamlessly; a cursor stays stable while new posts arrive; a user back after
 * INACTIVE_DAYS gets a complete page flagged `rebuilding`, then the rebuilt cache; redelivered
 * and reordered fanout messages leave no duplicates and the order of the scores.
 */

const DAY_MS = 86_400_000;
let clockMs = Date.now();
let embedded: EmbeddedPostgres;
let bus: InProcessEventBus;
let built: Built;
let postsMade = 0;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  bus = await InProcessEventBus.open();
  built = await buildFromEnv(
    { FANOUT: 'write', FEED_MAX: '10', INACTIVE_DAYS: '7', POST_RATE_LIMIT: '100000' },
    { embedded, bus, schema: freshSchemaName('feed_behaviour'), nowMs: () => clockMs },
  );
});

afterAll(async () => {
  await built?.app.close();
  await bus?.close();
  await embedded?.close();
});

async function users(...names: string[]): Promise<Client[]> {
  const clients = await Promise.all(names.map((name) => Client.of(built.app, name)));
  for (const client of clients) await client.register();
  return clients;
}

async function postMany(author: Client, prefix: string, count: number): Promise<string[]> {
  const texts: string[] = [];
  for (let index = 0; index < count; index += 1) {
    texts.push(`${prefix}${index}`);
    await author.post(`${prefix}${index}`);
    postsMade += 1;
  }
  await drained(built.parts, postsMade);
  return texts.reverse();
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await built.app.inject({ url: '/metrics' })).body;
  const line = text.split('\n').find((row) => row.startsWith(name) && row.includes(labels));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('paging past the cap', () => {
  it('serves all 35 posts of a feed capped at 10, the deep pages from Postgres', async () => {
    const [reader, author] = await users('deep-reader', 'deep-author');
    await reader!.follow('deep-author');
    const expected = await postMany(author!, 'deep', 35);
    expect(await built.parts.timelines.feedSize('deep-reader')).toBe(10);
    const fromPostgres = await metric('news_feed_page_items_total', 'source="postgres"');
    expect(await reader!.wholeFeed(6)).toEqual(expected);
    expect(await metric('news_feed_page_items_total', 'source="postgres"')).toBeGreaterThanOrEqual(
      fromPostgres + 25,
    );
  });
});

describe('cursor stability', () => {
  it('continues after the last item seen while new posts arrive above it: nothing repeated, nothing skipped', async () => {
    const [reader, author] = await users('stable-reader', 'stable-author');
    await reader!.follow('stable-author');
    const before = await postMany(author!, 'old', 8);
    const first = await reader!.feedPage(undefined, 3);
    expect(first.items.map((item) => item.text)).toEqual(before.slice(0, 3));
    await postMany(author!, 'new', 5);
    const rest: string[] = [];
    let cursor = first.nextCursor!;
    for (;;) {
      const page = await reader!.feedPage(cursor, 3);
      rest.push(...page.items.map((item) => item.text));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    expect(rest).toEqual(before.slice(3));
  });
});

describe('an inactive user returns', () => {
  it('gets no fanout while away; the first read is complete and says rebuilding, the next comes from the rebuilt cache', async () => {
    const [sleeper, author] = await users('sleeper', 'sleeper-author');
    await sleeper!.follow('sleeper-author');
    await postMany(author!, 'before', 3);
    expect(await built.parts.timelines.feedSize('sleeper')).toBe(3);
    clockMs += 8 * DAY_MS;
    // The author keeps posting (and stays active by reading); the sleeper gets none of it.
    await author!.feedPage();
    const away = await postMany(author!, 'away', 4);
    expect(await built.parts.timelines.feedSize('sleeper')).toBe(3);
    const first = await sleeper!.feedPage(undefined, 20);
    expect(first.rebuilding).toBe(true);
    expect(first.items.map((item) => item.text)).toEqual([...away, 'before2', 'before1', 'before0']);
    await built.parts.feed.settle();
    expect(await built.parts.timelines.feedSize('sleeper')).toBe(7);
    const second = await sleeper!.feedPage(undefined, 20);
    expect(second.rebuilding).toBe(false);
    expect(second.items).toEqual(first.items);
  });
});

describe('redelivered and reordered fanout messages', () => {
  it('leave every feed without duplicates and in score order', async () => {
    const [reader, author] = await users('redelivery-reader', 'redelivery-author');
    await reader!.follow('redelivery-author');
    const expected = await postMany(author!, 'redelivered', 6);
    const worker = built.parts.worker!;
    const page = await reader!.feedPage(undefined, 20);
    // Replay every post's batch and post event, each twice, in a shuffled order.
    const messages: { kind: 'post' | 'batch'; message: BusMessage }[] = [];
    for (const item of page.items) {
      const value = {
        postId: item.id,
        author: item.author,
        score: scoreOfId(BigInt(item.id)),
        createdMs: clockMs,
      };
      const envelope = {
        topic: 't',
        key: item.author,
        headers: {},
        partition: 0,
        offset: '0',
        timestamp: 0,
        id: item.id,
        attempt: 2,
      };
      for (let copy = 0; copy < 2; copy += 1) {
        messages.push({ kind: 'post', message: { ...envelope, value } });
        messages.push({
          kind: 'batch',
          message: { ...envelope, value: { ...value, followers: ['redelivery-reader'] } },
        });
      }
    }
    const random = seededRandom(7);
    messages.sort(() => random() - 0.5);
    for (const { kind, message } of messages) {
      if (kind === 'post') await worker.handlePost(message);
      else await worker.handleBatch(message);
    }
    await drained(built.parts, worker.stats.posts);
    expect(await built.parts.timelines.feedSize('redelivery-reader')).toBe(6);
    expect(await reader!.wholeFeed(4)).toEqual(expected);
  });
});
