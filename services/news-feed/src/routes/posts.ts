import { requireUser, type ServiceApp, type TokenAuthority, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import type { NewsFeed } from '../news-feed.js';
import { changed, feedItem, idempotencyHeaders, postId, postParams, textOf } from './schemas.js';

export interface PostRoutesOptions {
  feed: NewsFeed;
  authority: TokenAuthority;
  postMaxChars: number;
  pageMax: number;
}

const reply = z.object({
  id: z.string(),
  postId: z.string(),
  author: z.string(),
  text: z.string(),
  createdAt: z.string(),
});

/** Posts, likes and replies. */
export function registerPostRoutes(app: ServiceApp, options: PostRoutesOptions): void {
  const { feed } = options;
  const signedIn = requireUser(options.authority);
  const text = textOf(options.postMaxChars);
  app.post(
    '/v1/posts',
    {
      preHandler: signedIn,
      schema: {
        tags: ['posts'],
        summary: 'Publish a post',
        description:
          'Fanned out to followers by the workers (or pulled at read). The same Idempotency-Key answers the first post (200). ' +
          'FEED_ERR_NOT_REGISTERED, FEED_ERR_RATE_LIMITED, FEED_ERR_IDEMPOTENCY_CONFLICT.',
        headers: idempotencyHeaders,
        body: z.object({ text }),
        response: { 200: feedItem, 201: feedItem },
      },
    },
    async (request, response) => {
      const { post, created } = await feed.post(
        userOf(request).id,
        request.body.text,
        request.headers['idempotency-key'],
        request.id,
      );
      return response.code(created ? 201 : 200).send(post);
    },
  );
  app.get(
    '/v1/posts/:id',
    {
      preHandler: signedIn,
      schema: {
        tags: ['posts'],
        summary: 'A post with its counters and your actions',
        description: 'FEED_ERR_POST_NOT_FOUND.',
        params: postParams,
        response: { 200: feedItem },
      },
    },
    async (request) => feed.getPost(userOf(request).id, BigInt(request.params.id)),
  );
  app.delete(
    '/v1/posts/:id',
    {
      preHandler: signedIn,
      schema: {
        tags: ['posts'],
        summary: 'Delete your post',
        description:
          'It disappears from every feed at once (filtered at read). FEED_ERR_POST_NOT_FOUND, FEED_ERR_NOT_AUTHOR.',
        params: postParams,
      },
    },
    async (request, response) => {
      await feed.deletePost(userOf(request).id, BigInt(request.params.id));
      return response.code(204).send();
    },
  );
  app.put(
    '/v1/posts/:id/like',
    {
      preHandler: signedIn,
      schema: {
        tags: ['actions'],
        summary: 'Like a post (idempotent)',
        description: 'FEED_ERR_POST_NOT_FOUND.',
        params: postParams,
        response: { 200: changed },
      },
    },
    async (request) => ({ changed: await feed.like(userOf(request).id, BigInt(request.params.id)) }),
  );
  app.delete(
    '/v1/posts/:id/like',
    {
      preHandler: signedIn,
      schema: {
        tags: ['actions'],
        summary: 'Remove your like (idempotent)',
        params: postParams,
        response: { 200: changed },
      },
    },
    async (request) => ({ changed: await feed.unlike(userOf(request).id, BigInt(request.params.id)) }),
  );
  app.post(
    '/v1/posts/:id/replies',
    {
      preHandler: signedIn,
      schema: {
        tags: ['actions'],
        summary: 'Reply to a post',
        description: 'FEED_ERR_POST_NOT_FOUND, FEED_ERR_NOT_REGISTERED, FEED_ERR_RATE_LIMITED.',
        params: postParams,
        body: z.object({ text }),
        response: { 201: reply },
      },
    },
    async (request, response) => {
      const created = await feed.reply(userOf(request).id, BigInt(request.params.id), request.body.text);
      return response.code(201).send(replyBody(created));
    },
  );
  app.get(
    '/v1/posts/:id/replies',
    {
      preHandler: signedIn,
      schema: {
        tags: ['actions'],
        summary: 'Replies to a post, newest first',
        description: 'Page with `before` = the last reply id of the previous page. FEED_ERR_POST_NOT_FOUND.',
        params: postParams,
        querystring: z.object({
          before: postId.optional(),
          limit: z.coerce.number().int().min(1).max(options.pageMax).default(20),
        }),
        response: { 200: z.object({ replies: z.array(reply) }) },
      },
    },
    async (request) => {
      const { before, limit } = request.query;
      const found = await feed.replies(
        BigInt(request.params.id),
        before === undefined ? undefined : BigInt(before),
        limit,
      );
      return { replies: found.map(replyBody) };
    },
  );
}

function replyBody(found: { id: bigint; postId: bigint; author: string; body: string; createdMs: number }) {
  return {
    id: found.id.toString(),
    postId: found.postId.toString(),
    author: found.author,
    text: found.body,
    createdAt: new Date(found.createdMs).toISOString(),
  };
}
