import { requireUser, type ServiceApp, type TokenAuthority, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import type { NewsFeed } from '../news-feed.js';
import { feedItem, pageQuery, userParams } from './schemas.js';

export interface FeedRoutesOptions {
  feed: NewsFeed;
  authority: TokenAuthority;
  pageMax: number;
}

const page = z.object({ items: z.array(feedItem), nextCursor: z.string().nullable() });

/** The home feed and a user's own timeline. */
export function registerFeedRoutes(app: ServiceApp, options: FeedRoutesOptions): void {
  const { feed } = options;
  const signedIn = requireUser(options.authority);
  const query = pageQuery(options.pageMax);
  app.get(
    '/v1/feed',
    {
      preHandler: signedIn,
      schema: {
        tags: ['feed'],
        summary: 'Your home feed, newest first',
        description:
          'Posts of the people you follow and your own, with counters and your likes/replies. `nextCursor` is ' +
          'opaque and stable while new posts arrive; pages past FEED_MAX come from Postgres. `rebuilding` is true ' +
          'while a returning user’s feed is rebuilt (the page is still complete). FEED_ERR_BAD_CURSOR, FEED_ERR_NOT_REGISTERED.',
        querystring: query,
        response: { 200: page.extend({ rebuilding: z.boolean(), mode: z.string() }) },
      },
    },
    async (request) => {
      const result = await feed.feed(userOf(request).id, request.query.cursor, request.query.limit);
      return { ...result, mode: feed.mode };
    },
  );
  app.get(
    '/v1/users/:id/posts',
    {
      preHandler: signedIn,
      schema: {
        tags: ['feed'],
        summary: "A user's own posts, newest first",
        description: 'FEED_ERR_USER_NOT_FOUND, FEED_ERR_BAD_CURSOR.',
        params: userParams,
        querystring: query,
        response: { 200: page },
      },
    },
    async (request) =>
      feed.userPosts(userOf(request).id, request.params.id, request.query.cursor, request.query.limit),
  );
}
