import {
  requireUser,
  type ServiceApp,
  type TokenAuthority,
  userOf,
  validationProblem,
} from '@sysdesign/platform';
import { z } from 'zod';
import type { NewsFeed } from '../news-feed.js';
import type { User } from '../store/social-store.js';
import { changed, USER_ID_PATTERN, user, userParams } from './schemas.js';

export interface UserRoutesOptions {
  feed: NewsFeed;
  authority: TokenAuthority;
}

function userBody(found: User): z.infer<typeof user> {
  return {
    id: found.id,
    displayName: found.displayName,
    createdAt: new Date(found.createdMs).toISOString(),
    followers: found.followers,
    following: found.following,
    posts: found.posts,
    celebrity: found.celebrity,
  };
}

const RELATIONS = ['follow', 'block', 'mute'] as const;

/** Registration (the caller is the token's subject), profiles, and follow/block/mute edges. */
export function registerUserRoutes(app: ServiceApp, options: UserRoutesOptions): void {
  const { feed } = options;
  const signedIn = requireUser(options.authority);
  app.post(
    '/v1/users',
    {
      preHandler: signedIn,
      schema: {
        tags: ['users'],
        summary: 'Register the caller (or rename them)',
        description:
          "The caller's id is the token's subject, which must be 1-64 of letters, digits, _ . -. 201 when created, 200 when it existed.",
        body: z.object({ displayName: z.string().min(1).max(64).meta({ example: 'Alice' }) }),
        response: { 200: user, 201: user },
      },
    },
    async (request, reply) => {
      const id = userOf(request).id;
      if (!USER_ID_PATTERN.test(id))
        throw validationProblem([
          {
            in: 'headers',
            field: 'authorization',
            message: 'the token subject must be 1-64 of letters, digits, _ . -',
          },
        ]);
      const { user: registered, created } = await feed.register(id, request.body.displayName);
      return reply.code(created ? 201 : 200).send(userBody(registered));
    },
  );
  app.get(
    '/v1/users/:id',
    {
      preHandler: signedIn,
      schema: {
        tags: ['users'],
        summary: 'A user with their counters',
        description: 'FEED_ERR_USER_NOT_FOUND.',
        params: userParams,
        response: { 200: user },
      },
    },
    async (request) => userBody(await feed.profile(request.params.id)),
  );
  for (const relation of RELATIONS) {
    app.put(
      `/v1/users/:id/${relation}`,
      {
        preHandler: signedIn,
        schema: {
          tags: ['relations'],
          summary: `${relation[0]!.toUpperCase()}${relation.slice(1)} a user (idempotent)`,
          description:
            'FEED_ERR_USER_NOT_FOUND, FEED_ERR_SELF_RELATION, FEED_ERR_NOT_REGISTERED' +
            (relation === 'follow' ? ', FEED_ERR_BLOCKED, FEED_ERR_FOLLOWING_LIMIT.' : '.'),
          params: userParams,
          response: { 200: changed },
        },
      },
      async (request) => {
        const caller = userOf(request).id;
        const target = request.params.id;
        if (relation === 'follow') return { changed: await feed.follow(caller, target) };
        if (relation === 'block') return { changed: await feed.block(caller, target) };
        return { changed: await feed.mute(caller, target) };
      },
    );
    app.delete(
      `/v1/users/:id/${relation}`,
      {
        preHandler: signedIn,
        schema: {
          tags: ['relations'],
          summary: `Un${relation} a user (idempotent)`,
          description: 'FEED_ERR_USER_NOT_FOUND, FEED_ERR_SELF_RELATION, FEED_ERR_NOT_REGISTERED.',
          params: userParams,
          response: { 200: changed },
        },
      },
      async (request) => {
        const caller = userOf(request).id;
        const target = request.params.id;
        if (relation === 'follow') return { changed: await feed.unfollow(caller, target) };
        if (relation === 'block') return { changed: await feed.unblock(caller, target) };
        return { changed: await feed.unmute(caller, target) };
      },
    );
  }
}
