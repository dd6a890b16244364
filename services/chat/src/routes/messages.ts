import { requireUser, type ServiceApp, type TokenAuthority, userOf } from '@sysdesign/platform';
import { z } from 'zod';
import { type Chat, viewOf } from '../chat.js';
import { channelParams, clientMsgIdSchema, messageParams, messageView, seqSchema } from './schemas.js';

export interface MessageRoutesOptions {
  chat: Chat;
  authority: TokenAuthority;
  pageMax: number;
  messageBytesMax: number;
}

export function registerMessageRoutes(app: ServiceApp, options: MessageRoutesOptions): void {
  const { chat } = options;
  const auth = requireUser(options.authority);
  // Characters bound the parse (a UTF-8 character is at most 4 bytes); the byte bound is the domain's.
  const body = z.string().min(1).max(options.messageBytesMax);

  app.get(
    '/v1/channels/:channelId/messages',
    {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary: 'History, a page at a time',
        description:
          '`before=<seq>`: older messages, newest first (the default, from the end). `after=<seq>`: newer ones, oldest ' +
          'first (catching up). `next` is the cursor of the following page in the same direction, null at the end.',
        params: channelParams,
        querystring: z.object({
          before: seqSchema.optional(),
          after: seqSchema.optional(),
          limit: z.coerce.number().int().min(1).max(options.pageMax).default(50),
        }),
        response: { 200: z.object({ messages: z.array(messageView), next: z.number().nullable() }) },
      },
    },
    async (request) => {
      const { channelId } = request.params;
      await chat.membership(channelId, userOf(request).id);
      const { before, after, limit } = request.query;
      const messages = await chat.messages.range(channelId, {
        ...(before === undefined ? {} : { beforeSeq: before }),
        ...(after === undefined ? {} : { afterSeq: after }),
        limit,
      });
      const last = messages[messages.length - 1];
      return { messages: messages.map(viewOf), next: messages.length === limit && last ? last.seq : null };
    },
  );

  app.post(
    '/v1/channels/:channelId/messages',
    {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary: 'Send a message (the same as a WebSocket `send` frame)',
        description:
          '201 when stored; 200 with the first message when this client message id was already stored (a retry). ' +
          'CHAT_ERR_RATE_LIMITED (429, Retry-After), CHAT_ERR_MESSAGE_TOO_LARGE, CHAT_ERR_CLIENT_ID_REUSED.',
        params: channelParams,
        body: z.strictObject({ clientMsgId: clientMsgIdSchema, body }),
        response: { 200: messageView, 201: messageView },
      },
    },
    async (request, reply) => {
      const { message, duplicate } = await chat.send(
        userOf(request).id,
        request.params.channelId,
        request.body.clientMsgId,
        request.body.body,
      );
      return reply.code(duplicate ? 200 : 201).send(viewOf(message));
    },
  );

  app.patch(
    '/v1/channels/:channelId/messages/:seq',
    {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary: 'Edit a message (its author only)',
        params: messageParams,
        body: z.strictObject({ body }),
        response: { 200: messageView },
      },
    },
    async (request) =>
      viewOf(
        await chat.edit(userOf(request).id, request.params.channelId, request.params.seq, request.body.body),
      ),
  );

  app.delete(
    '/v1/channels/:channelId/messages/:seq',
    {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary: 'Delete a message (its author only): a tombstone keeps its place in the sequence',
        params: messageParams,
        response: { 200: messageView },
      },
    },
    async (request) =>
      viewOf(await chat.remove(userOf(request).id, request.params.channelId, request.params.seq)),
  );
}
