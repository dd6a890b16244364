import { requireUser, type ServiceApp, type TokenAuthority } from '@sysdesign/platform';
import { z } from 'zod';
import { CODE_PATTERN } from '../domain/codes.js';
import type { Link } from '../domain/link.js';
import type { Links } from '../domain/links.js';

/**
 * The operator API: takedowns of links on abuse reports, anonymous ones included. A bearer token
 * with the `urlshort:admin` scope is required (any token minted under AUTH_SECRET can carry it;
 * the embedded mode's dev token does), so nothing here is open on a default install.
 */

export const ADMIN_SCOPE = 'urlshort:admin';
export const DISABLE_REASON_MAX_LENGTH = 500;

const codeParams = z.object({
  code: z
    .string()
    .regex(CODE_PATTERN, 'must be 1 to 32 of A-Z, a-z, 0-9, _ and -')
    .describe('The short code'),
});

const disableBody = z.strictObject({
  reason: z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, 'must not be empty')
    .max(DISABLE_REASON_MAX_LENGTH, `must be at most ${DISABLE_REASON_MAX_LENGTH} characters`)
    .describe('Why (an abuse report reference): kept for operators, never shown to visitors'),
});

const adminLinkResponse = z.object({
  code: z.string(),
  url: z.string().nullable(),
  owner: z.string().nullable(),
  disabledAt: z.string().nullable(),
  disabledReason: z.string().nullable(),
});

function adminBodyOf(link: Link): z.infer<typeof adminLinkResponse> {
  return {
    code: link.code,
    url: link.url ?? null,
    owner: link.owner ?? null,
    disabledAt: link.disabledAt?.toISOString() ?? null,
    disabledReason: link.disabledReason ?? null,
  };
}

export function registerAdminRoutes(app: ServiceApp, options: { links: Links; authority: TokenAuthority }) {
  const { links } = options;
  // At onRequest: an unauthenticated caller learns nothing, not even which bodies are valid.
  const onRequest = requireUser(options.authority, { scopes: [ADMIN_SCOPE] });
  app.post(
    '/v1/admin/links/:code/disable',
    {
      onRequest,
      schema: {
        summary: 'Disable a link (operators)',
        description: `Needs a token with scope ${ADMIN_SCOPE}. The link answers 410 from then on; its code is kept.`,
        params: codeParams,
        body: disableBody,
        response: { 200: adminLinkResponse },
      },
    },
    async (request) => adminBodyOf(await links.setDisabled(request.params.code, request.body.reason)),
  );
  app.post(
    '/v1/admin/links/:code/enable',
    {
      onRequest,
      schema: {
        summary: 'Enable a disabled link again (operators)',
        description: `Needs a token with scope ${ADMIN_SCOPE}.`,
        params: codeParams,
        response: { 200: adminLinkResponse },
      },
    },
    async (request) => adminBodyOf(await links.setDisabled(request.params.code, undefined)),
  );
}
