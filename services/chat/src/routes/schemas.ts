import { z } from 'zod';

/** Shapes shared by the routes. */

export const channelIdSchema = z.string().regex(/^(d|g)_[0-9a-z]{1,40}$/, 'a channel id (d_… or g_…)');
export const userIdSchema = z.string().min(1).max(256);
export const seqSchema = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const channelParams = z.object({ channelId: channelIdSchema });
export const messageParams = z.object({ channelId: channelIdSchema, seq: seqSchema.min(1) });

export const messageView = z.object({
  id: z.string(),
  channelId: z.string(),
  seq: z.number(),
  senderId: z.string(),
  clientMsgId: z.string(),
  body: z.string().nullable(),
  createdAt: z.string(),
  editedAt: z.string().nullable(),
  deletedAt: z.string().nullable(),
});

export const channelView = z.object({
  id: z.string(),
  kind: z.enum(['direct', 'group']),
  name: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
});

export const clientMsgIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
