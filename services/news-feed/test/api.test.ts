import { EmbeddedPostgres, InProcessEventBus } from '@sysdesign/platform';
import { freshSchemaName } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Built, buildFromEnv, Client, drained } from './helpers.js';

/**
 * The HTTP API on the embedded backends (PGlite, the skip-list twin, the in-process bus), in the
 * hybrid mode with a celebrity threshold of 3: posts, follows, likes and replies, counters and
 * actions in the feed, deletes, blocks and mutes.
 */

let embedded: EmbeddedPostgres;
let bus: InProcessEventBus;
let built: Built;
let postsMade = 0;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  bus = await InProcessEventBus.open();
  built = await buildFromEnv(
    { FANOUT: 'hybrid', CELEBRITY_THRESHOLD: '3', FEED_MAX: '10' },
    { embedded, bus, schema: freshSchemaName('feed_api') },
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

async function post(client: Client, text: string) {
  postsMade += 1;
  return client.post(text);
}

describe('feed', () => {
  it('shows the posts of followed users and your own, newest first, hydrated with counters and your actions', async () => {
    const [ann, bob, cid] = await users('ann', 'bob', 'cid');
    await ann!.follow('bob');
    const first = await post(bob!, 'bob one');
    await post(cid!, 'cid one (not followed)');
    await post(ann!, 'ann one');
    await post(bob!, 'bob two');
    await drained(built.parts, postsMade);
    await ann!.like(first.id);
    await ann!.reply(first.id, 'nice');
    await cid!.like(first.id);
    const page = await ann!.feedPage();
    expect(page.items.map((item) => item.text)).toEqual(['bob two', 'ann one', 'bob one']);
    const liked = page.items.find((item) => item.id === first.id)!;
    expect(liked).toMatchObject({ likes: 2, replies: 1, liked: true, replied: true, author: 'bob' });
    expect(page.rebuilding).toBe(false);
  });

  it('merges a new followee’s earlier posts at once, and drops an unfollowed author’s', async () => {
    const [dee, eve] = await users('dee', 'eve');
    await post(eve!, 'eve early');
    await drained(built.parts, postsMade);
    await dee!.follow('eve');
    expect(await dee!.wholeFeed()).toEqual(['eve early']);
    await dee!.unfollow('eve');
    expect(await dee!.wholeFeed()).toEqual([]);
  });

  it('hides deleted posts, blocked and muted authors', async () => {
    const [fay, gus, hal] = await users('fay', 'gus', 'hal');
    await fay!.follow('gus');
    await fay!.follow('hal');
    const gone = await post(gus!, 'gus deleted');
    await post(gus!, 'gus kept');
    await post(hal!, 'hal muted');
    await drained(built.parts, postsMade);
    await gus!.deletePost(gone.id);
    expect(await fay!.wholeFeed()).toEqual(['hal muted', 'gus kept']);
    await fay!.mute('hal');
    expect(await fay!.wholeFeed()).toEqual(['gus kept']);
    await gus!.block('fay');
    expect(await fay!.wholeFeed()).toEqual([]);
    const refollow = await fay!.request('PUT', '/v1/users/gus/follow');
    expect(refollow.statusCode).toBe(403);
    expect(refollow.json().type).toBe('urn:sysdesign:problem:feed-err-blocked');
  });

  it('pulls a celebrity’s posts at read in the hybrid mode, and pushes nobody’s feed for them', async () => {
    const fans = await users('fan1', 'fan2', 'fan3');
    const [star] = await users('star');
    for (const fan of fans) await fan.follow('star');
    const profile = await star!.request('GET', '/v1/users/star');
    expect(profile.json()).toMatchObject({ followers: 3, celebrity: true });
    const writesBefore = built.parts.worker!.stats.feedWrites;
    await post(star!, 'star speaks');
    await drained(built.parts, postsMade);
    expect(built.parts.worker!.stats.feedWrites).toBe(writesBefore);
    for (const fan of fans) expect(await fan.wholeFeed()).toEqual(['star speaks']);
  });

  it('answers a retried post with the same Idempotency-Key once, and refuses the key with another body', async () => {
    const [ida] = await users('ida');
    const headers = { 'idempotency-key': 'post-1' };
    const first = await ida!.request('POST', '/v1/posts', { text: 'once' }, headers);
    const again = await ida!.request('POST', '/v1/posts', { text: 'once' }, headers);
    const other = await ida!.request('POST', '/v1/posts', { text: 'twice' }, headers);
    postsMade += 2;
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    expect(other.statusCode).toBe(422);
    await drained(built.parts, postsMade);
    expect(await ida!.wholeFeed()).toEqual(['once']);
    const profile = await ida!.request('GET', '/v1/users/ida');
    expect(profile.json().posts).toBe(1);
  });

  it("lists a user's own posts past the cached timeline from Postgres", async () => {
    const [jon] = await users('jon');
    for (let index = 0; index < 25; index += 1) await post(jon!, `jon ${index}`);
    const texts: string[] = [];
    let cursor: string | undefined;
    do {
      const response = await jon!.request(
        'GET',
        `/v1/users/jon/posts?limit=4${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(response.statusCode).toBe(200);
      texts.push(...response.json().items.map((item: { text: string }) => item.text));
      cursor = response.json().nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(texts).toEqual(Array.from({ length: 25 }, (_, index) => `jon ${24 - index}`));
  });
});
