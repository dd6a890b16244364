import {
  createLogger,
  type EmbeddedPostgres,
  type EventBus,
  loadConfig,
  type ServiceApp,
  TokenAuthority,
} from '@sysdesign/platform';
import { waitFor } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { buildService, type NewsFeedParts } from '../src/service.js';

export const TEST_AUTH_SECRET = 'test-secret-of-at-least-thirty-two-bytes!';

export interface Built {
  app: ServiceApp;
  parts: NewsFeedParts;
}

/** Builds the service the way main.ts does, from an environment, in its own schema and on the given bus. */
export async function buildFromEnv(
  env: Record<string, string>,
  options: { embedded?: EmbeddedPostgres; schema: string; bus?: EventBus; nowMs?: () => number },
): Promise<Built> {
  const config = loadConfig(configSchema, {
    LOG_LEVEL: process.env.FEED_TEST_LOG === '1' ? 'warn' : 'silent',
    PGLITE_DIR: 'memory',
    AUTH_SECRET: TEST_AUTH_SECRET,
    ...env,
  });
  let parts: NewsFeedParts | undefined;
  const app = await buildService(
    config,
    {
      logger: createLogger(process.env.FEED_TEST_LOG === '1' ? 'warn' : 'silent'),
      sqlSchema: options.schema,
      ...(options.embedded ? { embedded: options.embedded } : {}),
      ...(options.bus ? { bus: options.bus } : {}),
    },
    {
      ...(options.nowMs ? { nowMs: options.nowMs } : {}),
      onReady: (ready) => {
        parts = ready;
      },
    },
  );
  return { app, parts: parts! };
}

const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });

export async function bearerOf(user: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await authority.issue(user, { ttlSeconds: 3_600 })}` };
}

export interface FeedItemBody {
  id: string;
  author: string;
  text: string;
  likes: number;
  replies: number;
  liked: boolean;
  replied: boolean;
}

export interface FeedPage {
  items: FeedItemBody[];
  nextCursor: string | null;
  rebuilding: boolean;
}

/** A user's view of the API through inject, failing loudly on any unexpected status. */
export class Client {
  private constructor(
    private readonly app: ServiceApp,
    readonly user: string,
    private readonly headers: Record<string, string>,
  ) {}

  static async of(app: ServiceApp, user: string): Promise<Client> {
    return new Client(app, user, await bearerOf(user));
  }

  async request(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    payload?: unknown,
    extra = {},
  ): Promise<Awaited<ReturnType<ServiceApp['inject']>>> {
    return this.app.inject({
      method,
      url,
      headers: { ...this.headers, ...extra },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  }

  private async expect(
    status: number,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    payload?: unknown,
  ) {
    const response = await this.request(method, url, payload);
    if (response.statusCode !== status)
      throw new Error(`${method} ${url} as ${this.user}: ${response.statusCode} ${response.body}`);
    return response.body.length > 0 ? response.json() : undefined;
  }

  async register(): Promise<void> {
    const response = await this.request('POST', '/v1/users', { displayName: this.user });
    if (response.statusCode !== 201 && response.statusCode !== 200)
      throw new Error(`register ${this.user}: ${response.statusCode} ${response.body}`);
  }

  post(text: string): Promise<FeedItemBody> {
    return this.expect(201, 'POST', '/v1/posts', { text });
  }

  deletePost(id: string): Promise<void> {
    return this.expect(204, 'DELETE', `/v1/posts/${id}`);
  }

  follow(target: string): Promise<unknown> {
    return this.expect(200, 'PUT', `/v1/users/${target}/follow`);
  }

  unfollow(target: string): Promise<unknown> {
    return this.expect(200, 'DELETE', `/v1/users/${target}/follow`);
  }

  block(target: string): Promise<unknown> {
    return this.expect(200, 'PUT', `/v1/users/${target}/block`);
  }

  mute(target: string): Promise<unknown> {
    return this.expect(200, 'PUT', `/v1/users/${target}/mute`);
  }

  like(id: string): Promise<unknown> {
    return this.expect(200, 'PUT', `/v1/posts/${id}/like`);
  }

  reply(id: string, text: string): Promise<unknown> {
    return this.expect(201, 'POST', `/v1/posts/${id}/replies`, { text });
  }

  feedPage(cursor?: string, limit = 20): Promise<FeedPage> {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    return this.expect(200, 'GET', `/v1/feed?${query}`);
  }

  /** Every page of the feed, following cursors, as post texts. */
  async wholeFeed(limit = 7): Promise<string[]> {
    const texts: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10_000; pages += 1) {
      const page = await this.feedPage(cursor, limit);
      texts.push(...page.items.map((item) => item.text));
      if (page.nextCursor === null) return texts;
      cursor = page.nextCursor;
    }
    throw new Error('the feed did not end');
  }
}

/** Waits until the worker has handled every post the test made and every batch it published. */
export async function drained(parts: NewsFeedParts, posts: number): Promise<void> {
  const worker = parts.worker;
  if (worker === undefined) throw new Error('this app runs no fanout worker');
  await waitFor(
    () => worker.stats.posts >= posts && worker.stats.batches >= worker.stats.batchesPublished,
    `the fanout of ${posts} posts`,
    { timeoutMs: 20_000 },
  );
}
