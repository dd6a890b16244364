import { EmbeddedPostgres, InProcessEventBus } from '@sysdesign/platform';
import { freshSchemaName, seededRandom } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FANOUT_MODES, type FanoutMode } from '../src/config.js';
import { type Built, buildFromEnv, Client, drained } from './helpers.js';

/**
 * The differential test: the three fanout modes, fed the same random graph and the same random
 * operations (posts, follows, unfollows, deletes, blocks, mutes), return the same feed to every
 * user (same items, same order, every page), and that feed is the one a plain model computes.
 * FEED_MAX is small and one author is a celebrity, so capped feeds, Postgres pages past the cap,
 * floors raised by trims and follows, and celebrity pulls are all on the path.
 */

const USERS = Array.from({ length: 9 }, (_, index) => `u${index}`);
const SEED = 1313;

interface ModelPost {
  author: string;
  text: string;
  deleted: boolean;
}

/** The feed as the design defines it, from the operations alone. */
class Model {
  readonly follows = new Set<string>();
  readonly blocks = new Set<string>();
  readonly mutes = new Set<string>();
  readonly posts: ModelPost[] = [];

  feedOf(user: string): string[] {
    const hidden = (author: string) =>
      this.blocks.has(`${user}>${author}`) ||
      this.blocks.has(`${author}>${user}`) ||
      this.mutes.has(`${user}>${author}`);
    return this.posts
      .filter((post) => !post.deleted)
      .filter((post) => post.author === user || this.follows.has(`${user}>${post.author}`))
      .filter((post) => !hidden(post.author))
      .map((post) => post.text)
      .reverse();
  }
}

interface Deployment {
  mode: FanoutMode;
  built: Built;
  bus: InProcessEventBus;
  clients: Map<string, Client>;
  /** Post ids of this deployment by text. */
  ids: Map<string, string>;
}

let embedded: EmbeddedPostgres;
const deployments: Deployment[] = [];

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  for (const mode of FANOUT_MODES) {
    const bus = await InProcessEventBus.open();
    const built = await buildFromEnv(
      {
        FANOUT: mode,
        FEED_MAX: '10',
        CELEBRITY_THRESHOLD: '5',
        POST_RATE_LIMIT: '100000',
        FANOUT_BATCH: '2',
      },
      { embedded, bus, schema: freshSchemaName(`feed_diff_${mode}`) },
    );
    const clients = new Map<string, Client>();
    for (const user of USERS) {
      const client = await Client.of(built.app, user);
      await client.register();
      clients.set(user, client);
    }
    deployments.push({ mode, built, bus, clients, ids: new Map() });
  }
});

afterAll(async () => {
  for (const deployment of deployments) {
    await deployment.built.app.close();
    await deployment.bus.close();
  }
  await embedded?.close();
});

/** Applies one operation to every deployment and the model. */
async function everywhere(work: (deployment: Deployment) => Promise<unknown>): Promise<void> {
  for (const deployment of deployments) await work(deployment);
}

async function checkFeeds(model: Model, postsMade: number, label: string): Promise<void> {
  for (const deployment of deployments) await drained(deployment.built.parts, postsMade);
  for (const user of USERS) {
    const expected = model.feedOf(user);
    for (const deployment of deployments) {
      const feed = await deployment.clients.get(user)!.wholeFeed(4);
      expect(feed, `${label}: ${user}'s feed in ${deployment.mode} mode`).toEqual(expected);
    }
  }
}

describe('three fanout modes, one feed', () => {
  it('return the same items in the same order for a random graph, after unfollows, deletes, blocks and mutes', async () => {
    const random = seededRandom(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const model = new Model();
    let postsMade = 0;
    // A celebrity: everyone but one follows u0, so u0 crosses the threshold of 5 early.
    for (const user of USERS.slice(2)) {
      model.follows.add(`${user}>u0`);
      await everywhere((deployment) => deployment.clients.get(user)!.follow('u0'));
    }
    for (let round = 0; round < 4; round += 1) {
      for (let step = 0; step < 45; step += 1) {
        const roll = random();
        const actor = pick(USERS);
        const target = pick(USERS);
        if (roll < 0.45) {
          // Power law: low-numbered users post most.
          const author = USERS[Math.floor(random() * random() * USERS.length)]!;
          const text = `r${round}s${step}:${author}`;
          model.posts.push({ author, text, deleted: false });
          postsMade += 1;
          await everywhere(async (deployment) => {
            const created = await deployment.clients.get(author)!.post(text);
            deployment.ids.set(text, created.id);
          });
        } else if (roll < 0.7 && actor !== target) {
          const blocked = model.blocks.has(`${actor}>${target}`) || model.blocks.has(`${target}>${actor}`);
          if (blocked) continue;
          model.follows.add(`${actor}>${target}`);
          await everywhere((deployment) => deployment.clients.get(actor)!.follow(target));
        } else if (roll < 0.8 && actor !== target) {
          model.follows.delete(`${actor}>${target}`);
          await everywhere((deployment) => deployment.clients.get(actor)!.unfollow(target));
        } else if (roll < 0.9) {
          const live = model.posts.filter((post) => !post.deleted);
          if (live.length === 0) continue;
          const post = pick(live);
          post.deleted = true;
          await everywhere((deployment) =>
            deployment.clients.get(post.author)!.deletePost(deployment.ids.get(post.text)!),
          );
        } else if (roll < 0.95 && actor !== target && target !== 'u0') {
          model.blocks.add(`${actor}>${target}`);
          model.follows.delete(`${actor}>${target}`);
          model.follows.delete(`${target}>${actor}`);
          await everywhere((deployment) => deployment.clients.get(actor)!.block(target));
        } else if (actor !== target) {
          model.mutes.add(`${actor}>${target}`);
          await everywhere((deployment) => deployment.clients.get(actor)!.mute(target));
        }
      }
      await checkFeeds(model, postsMade, `round ${round}`);
    }
    // The graph made u0 a celebrity, and some feeds are deeper than FEED_MAX.
    const star = await deployments[0]!.clients.get('u1')!.request('GET', '/v1/users/u0');
    expect(star.json().celebrity).toBe(true);
    const deepest = Math.max(...USERS.map((user) => model.feedOf(user).length));
    expect(deepest).toBeGreaterThan(10);
  }, 120_000);
});
