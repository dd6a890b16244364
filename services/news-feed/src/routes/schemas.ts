import { z } from 'zod';

/** Shapes shared by the routes. */

export const USER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export const userId = z
  .string()
  .regex(USER_ID_PATTERN, 'letters, digits, _ . - (1 to 64)')
  .meta({ example: 'alice' });

const POST_ID = /^[1-9]\d{0,18}$/;

export const postId = z
  .string()
  .regex(POST_ID, 'a post id: digits')
  // zod runs refinements after a failed regex too: parse only what the regex admits.
  .refine((value) => !POST_ID.test(value) || BigInt(value) < 1n << 63n, 'a post id: at most 2^63 - 1')
  .meta({ example: '7140637134512345088' });

export const userParams = z.object({ id: userId });
export const postParams = z.object({ id: postId });

/** Lone UTF-16 surrogates: text JSON can carry but UTF-8 cannot store. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function textOf(maxChars: number) {
  return z
    .string()
    .min(1)
    .max(maxChars)
    .refine((value) => !LONE_SURROGATE.test(value), 'malformed Unicode (a lone surrogate)')
    .refine((value) => !value.includes('\u0000'), 'NUL characters are not allowed')
    .refine((value) => value.trim().length > 0, 'must not be blank')
    .meta({ example: 'Shipping the news feed today' });
}

export function pageQuery(pageMax: number) {
  return z.object({
    cursor: z.string().max(128).optional().meta({ description: 'The nextCursor of the previous page' }),
    limit: z.coerce.number().int().min(1).max(pageMax).default(20),
  });
}

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, 'printable ASCII, 1 to 128 characters')
    .optional(),
});

export const feedItem = z.object({
  id: z.string(),
  author: z.string(),
  text: z.string(),
  createdAt: z.string(),
  likes: z.number(),
  replies: z.number(),
  liked: z.boolean(),
  replied: z.boolean(),
});

export const user = z.object({
  id: z.string(),
  displayName: z.string(),
  createdAt: z.string(),
  followers: z.number(),
  following: z.number(),
  posts: z.number(),
  celebrity: z.boolean(),
});

export const changed = z.object({ changed: z.boolean() });
