import { requireUser, type ServiceApp, type TokenAuthority, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import type { Chat } from '../chat.js';
import type { Channel } from '../store/channel-store.js';
import type { PresenceStore } from '../store/presence.js';
import { channelIdSchema, channelParams, channelView, userIdSchema } from './schemas.js';

export interface ChannelRoutesOptions {
  chat: Chat;
  presence: PresenceStore;
  authority: TokenAuthority;
  groupMembersMax: number;
  channelsPerUserMax: number;
  pageMax: number;
  nowMs: () => number;
}

export function channelBody(channel: Channel) {
  return {
    id: channel.id,
    kind: channel.kind,
    name: channel.name,
    createdBy: channel.createdBy,
    createdAt: new Date(channel.createdAtMs).toISOString(),
  };
}

const USERS_PER_PRESENCE_QUERY = 100;

export function registerChannelRoutes(app: ServiceApp, options: ChannelRoutesOptions): void {
  const { chat } = options;
  const auth = requireUser(options.authority);
  const createBody = z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('direct'), userId: userIdSchema }),
    z.strictObject({
      kind: z.literal('group'),
      name: z.string().min(1).max(100),
      members: z.array(userIdSchema).max(options.groupMembersMax).default([]),
    }),
  ]);

  app.post(
    '/v1/channels',
    {
      preHandler: auth,
      schema: {
        tags: ['channels'],
        summary: 'Open a direct channel or create a group',
        description:
          'A direct channel is named by its two users: opening it again (from either side) answers the same one ' +
          'with 200. Groups hold up to GROUP_MEMBERS_MAX members (CHAT_ERR_CHANNEL_FULL); a user belongs to at most ' +
          'CHANNELS_PER_USER_MAX channels (CHAT_ERR_TOO_MANY_CHANNELS).',
        body: createBody,
        response: { 200: channelView, 201: channelView },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const body = request.body;
      if (body.kind === 'direct') {
        const { channel, created } = await chat.openDirect(user.id, body.userId);
        return reply.code(created ? 201 : 200).send(channelBody(channel));
      }
      const channel = await chat.createGroup(user.id, body.name, body.members);
      return reply.code(201).header('location', `/v1/channels/${channel.id}`).send(channelBody(channel));
    },
  );

  app.get(
    '/v1/channels',
    {
      preHandler: auth,
      schema: {
        tags: ['channels'],
        summary: "The caller's channels with unread counts",
        description:
          'Unread = the last sequence minus the read pointer (deleted messages count until read past).',
        response: {
          200: z.object({
            channels: z.array(
              channelView.extend({ lastSeq: z.number(), readSeq: z.number(), unread: z.number() }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const user = userOf(request);
      const memberships = await chat.channels.channelsOf(user.id, options.channelsPerUserMax);
      const lastSeqs = await chat.messages.lastSeqs(memberships.map((membership) => membership.channel.id));
      return {
        channels: memberships.map(({ channel, readSeq }) => {
          const lastSeq = lastSeqs.get(channel.id) ?? 0;
          return { ...channelBody(channel), lastSeq, readSeq, unread: Math.max(0, lastSeq - readSeq) };
        }),
      };
    },
  );

  app.get(
    '/v1/channels/:channelId',
    {
      preHandler: auth,
      schema: {
        tags: ['channels'],
        summary: 'A channel the caller belongs to',
        params: channelParams,
        response: { 200: channelView.extend({ members: z.number(), lastSeq: z.number() }) },
      },
    },
    async (request) => {
      const { channel } = await chat.membership(request.params.channelId, userOf(request).id);
      return {
        ...channelBody(channel),
        members: await chat.channels.memberCount(channel.id),
        lastSeq: await chat.messages.lastSeq(channel.id),
      };
    },
  );

  app.get(
    '/v1/channels/:channelId/members',
    {
      preHandler: auth,
      schema: {
        tags: ['members'],
        summary: 'Members with their read pointers (read receipts), a page at a time',
        params: channelParams,
        querystring: z.object({
          after: userIdSchema.optional(),
          limit: z.coerce.number().int().min(1).max(options.pageMax).default(options.pageMax),
        }),
        response: {
          200: z.object({
            members: z.array(z.object({ userId: z.string(), readSeq: z.number() })),
            next: z.string().nullable(),
          }),
        },
      },
    },
    async (request) => {
      await chat.membership(request.params.channelId, userOf(request).id);
      const { after = '', limit } = request.query;
      const pointers = await chat.channels.readPointers(request.params.channelId, after, limit);
      const members = [...pointers].map(([userId, readSeq]) => ({ userId, readSeq }));
      return { members, next: members.length === limit ? members[members.length - 1]!.userId : null };
    },
  );

  app.post(
    '/v1/channels/:channelId/members',
    {
      preHandler: auth,
      schema: {
        tags: ['members'],
        summary: 'Add a member to a group the caller belongs to',
        description:
          '201 when added, 200 when already a member; CHAT_ERR_CHANNEL_FULL, CHAT_ERR_DIRECT_CHANNEL.',
        params: channelParams,
        body: z.strictObject({ userId: userIdSchema }),
        response: { 200: z.object({ added: z.boolean() }), 201: z.object({ added: z.boolean() }) },
      },
    },
    async (request, reply) => {
      const added = await chat.addMember(userOf(request).id, request.params.channelId, request.body.userId);
      return reply.code(added ? 201 : 200).send({ added });
    },
  );

  app.delete(
    '/v1/channels/:channelId/members/me',
    {
      preHandler: auth,
      schema: {
        tags: ['members'],
        summary: 'Leave a group',
        params: channelParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await chat.leave(userOf(request).id, request.params.channelId);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/channels/:channelId/read',
    {
      preHandler: auth,
      schema: {
        tags: ['members'],
        summary: 'Move the read pointer (never backwards)',
        params: channelParams,
        body: z.strictObject({ seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
        response: { 200: z.object({ readSeq: z.number() }) },
      },
    },
    async (request) => ({
      readSeq: await chat.markRead(userOf(request).id, request.params.channelId, request.body.seq),
    }),
  );

  app.get(
    '/v1/presence',
    {
      preHandler: auth,
      schema: {
        tags: ['presence'],
        summary: 'Presence of up to 100 users, on demand',
        description: 'Big groups get presence this way rather than pushed (pushes are for subscribed users).',
        querystring: z.object({
          users: z
            .string()
            .min(1)
            .max(USERS_PER_PRESENCE_QUERY * 257)
            .transform((value) => [...new Set(value.split(','))])
            .pipe(z.array(userIdSchema).max(USERS_PER_PRESENCE_QUERY)),
        }),
        response: {
          200: z.object({
            users: z.array(
              z.object({ userId: z.string(), online: z.boolean(), lastActiveAt: z.string().nullable() }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const statuses = await options.presence.status(request.query.users, options.nowMs());
      return {
        users: [...statuses].map(([userId, status]) => ({
          userId,
          online: status.online,
          lastActiveAt: status.lastActiveMs === null ? null : new Date(status.lastActiveMs).toISOString(),
        })),
      };
    },
  );

  app.get(
    '/v1/me/pushes',
    {
      preHandler: auth,
      schema: {
        tags: ['presence'],
        summary: 'Push notifications recorded for the caller while offline',
        response: {
          200: z.object({
            pushes: z.array(z.object({ channelId: channelIdSchema, seq: z.number(), preview: z.string() })),
          }),
        },
      },
    },
    async (request) => ({ pushes: await chat.channels.pushesFor(userOf(request).id, options.pageMax) }),
  );
}
