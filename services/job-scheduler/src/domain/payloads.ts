import { z } from 'zod';
import type { HostAllowlist } from './allowlist.js';

/**
 * What the service's own job types carry. A job on the built-in queue names its handler; a job on
 * the HTTP-callback queue names the call. Both are checked at submission, so a bad job is a 400
 * to its submitter rather than a dead job later.
 */

export const builtinPayload = z.discriminatedUnion('handler', [
  z.strictObject({ handler: z.literal('echo'), value: z.unknown().optional() }),
  z.strictObject({ handler: z.literal('sleep'), ms: z.number().int().min(0) }),
  z.strictObject({
    handler: z.literal('fail-n-times'),
    /** Attempts 1..n fail; attempt n + 1 succeeds. */
    n: z.number().int().min(0).max(100),
  }),
]);

export type BuiltinPayload = z.infer<typeof builtinPayload>;

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

export const httpCallbackPayload = z.strictObject({
  url: z.string().min(1).max(2_048),
  method: z.enum(['GET', 'POST', 'PUT', 'DELETE']).default('POST'),
  headers: z
    .record(z.string().regex(HEADER_NAME), z.string().max(1_024))
    .refine((headers) => Object.keys(headers).length <= 16, 'at most 16 headers')
    .optional(),
  body: z.unknown().optional(),
});

export type HttpCallbackPayload = z.infer<typeof httpCallbackPayload>;

export class InvalidPayloadError extends Error {
  constructor(
    message: string,
    readonly issues: { field: string; message: string }[],
  ) {
    super(message);
    this.name = 'InvalidPayloadError';
  }
}

function issuesOf(error: z.ZodError): { field: string; message: string }[] {
  return error.issues.map((issue) => ({
    field: ['payload', ...issue.path].join('.'),
    message: issue.message,
  }));
}

export function parseBuiltin(payload: unknown, sleepMsMax: number): BuiltinPayload {
  const parsed = builtinPayload.safeParse(payload);
  if (!parsed.success)
    throw new InvalidPayloadError('the payload is not a built-in job', issuesOf(parsed.error));
  if (parsed.data.handler === 'sleep' && parsed.data.ms > sleepMsMax)
    throw new InvalidPayloadError(`sleep is at most ${sleepMsMax} ms`, [
      { field: 'payload.ms', message: `must be at most ${sleepMsMax}` },
    ]);
  return parsed.data;
}

export function parseHttpCallback(payload: unknown, allowlist: HostAllowlist): HttpCallbackPayload {
  const parsed = httpCallbackPayload.safeParse(payload);
  if (!parsed.success)
    throw new InvalidPayloadError('the payload is not an HTTP callback', issuesOf(parsed.error));
  allowlist.checkUrl(parsed.data.url);
  return parsed.data;
}
