import { z } from 'zod';
import { AMOUNT_PATTERN } from '../domain/amount.js';
import { BadCursorError } from '../domain/errors.js';

/** Shapes shared by the routes, and the opaque cursors of paged lists. */

/** Operators create accounts, reverse transfers, read everything and run the audit. */
export const OPERATOR_SCOPE = 'wallet:operator';

export const accountId = z.uuid().meta({ example: '0b9a3f3e-4e0a-4c53-9d59-5d0f8f0f7a11' });
export const transferId = accountId;
export const owner = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,256}$/, 'letters, digits, _ . : @ - (1 to 256)')
  .meta({ example: 'alice' });
/** Minor units as a decimal string: checked again (bounds) by the domain's parser. */
export const amount = z
  .string()
  .max(32)
  .regex(AMOUNT_PATTERN, 'a positive integer of minor units as a string, no sign, point or exponent')
  .meta({ example: '1250' });
export const currency = z
  .string()
  .regex(/^[A-Z]{3}$/, 'an ISO 4217 code: three capital letters')
  .meta({ example: 'EUR' });
const memo = z.string().min(1).max(512).optional();

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'printable ASCII without spaces, 1 to 255 characters')
    .optional()
    .meta({
      description: 'The same key with the same body answers the first result; with another body, 409.',
    }),
});

export const METADATA_KEYS_MAX = 16;
export const createAccountBody = z.object({
  owner,
  currency,
  flags: z
    .object({
      debitsMustNotExceedCredits: z.boolean().default(true),
      creditsMustNotExceedDebits: z.boolean().default(false),
    })
    .default({ debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false }),
  metadata: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
      z.union([z.string().max(256), z.number(), z.boolean()]),
    )
    .refine((value) => Object.keys(value).length <= METADATA_KEYS_MAX, `at most ${METADATA_KEYS_MAX} keys`)
    .optional(),
});

export function transferBody(pendingTimeoutMaxMs: number) {
  return z.object({
    debitAccountId: accountId,
    creditAccountId: accountId,
    amount,
    currency,
    /** Set: reserve the amount until posted or voided, or until the timeout voids it. */
    pending: z.object({ timeoutMs: z.number().int().min(1).max(pendingTimeoutMaxMs) }).optional(),
    memo,
  });
}

export const reverseBody = z.object({ memo }).default({});

const counter = z.string().meta({ example: '1250' });

export const accountResponse = z.object({
  id: z.string(),
  owner: z.string(),
  currency: z.string(),
  exponent: z.number(),
  flags: z.object({ debitsMustNotExceedCredits: z.boolean(), creditsMustNotExceedDebits: z.boolean() }),
  balances: z.object({
    posted: counter,
    pending: counter,
    available: counter,
    debitsPosted: counter,
    creditsPosted: counter,
    debitsPending: counter,
    creditsPending: counter,
  }),
  version: z.string(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
});

export const transferResponse = z.object({
  id: z.string(),
  kind: z.enum(['single', 'pending', 'post', 'void']),
  debitAccountId: z.string(),
  creditAccountId: z.string(),
  amount: counter,
  currency: z.string(),
  exponent: z.number(),
  pendingId: z.string().nullable(),
  reversesId: z.string().nullable(),
  batchId: z.string().nullable(),
  timeoutAt: z.string().nullable(),
  memo: z.string().nullable(),
  createdBy: z.string(),
  requestId: z.string().nullable(),
  createdAt: z.string(),
});

export const entryResponse = z.object({
  seq: z.string(),
  transferId: z.string(),
  side: z.enum(['debit', 'credit']),
  amount: counter,
  balance: z.object({ posted: counter, pending: counter }),
  createdAt: z.string(),
});

export function pageQuery(pageMax: number) {
  return z.object({
    cursor: z.string().max(512).optional(),
    limit: z.coerce.number().int().min(1).max(pageMax).default(Math.min(50, pageMax)),
  });
}

const CURSOR_TEXT_MAX = 256;

/** An opaque cursor around one text value (an id, a sequence number). */
export function encodeCursor(value: string): string {
  return Buffer.from(JSON.stringify({ a: value })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, pattern: RegExp): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    const { a } = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { a?: unknown };
    if (typeof a === 'string' && a.length <= CURSOR_TEXT_MAX && pattern.test(a)) return a;
  } catch {
    // Falls through to the refusal below.
  }
  throw new BadCursorError();
}
