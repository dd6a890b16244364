import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServiceApp, TokenAuthority } from '@sysdesign/platform';
import { z } from 'zod';

const PAGE = readFileSync(fileURLToPath(new URL('../../public/index.html', import.meta.url)), 'utf8');
const SCRIPT = readFileSync(fileURLToPath(new URL('../../public/chat.js', import.meta.url)), 'utf8');

/** Lifetime of a demo login's token. */
export const DEMO_TOKEN_TTL_SECONDS = 3_600;

export interface PageOptions {
  authority: TokenAuthority;
  /** Embedded mode only (no `AUTH_SECRET`): anyone may take any user name, as with the dev token file. */
  demoLogin: boolean;
}

/** The chat page at `/` (plain HTML and a script over the `chat.v1` socket) and, embedded, its demo login. */
export function registerPage(app: ServiceApp, options: PageOptions): void {
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(PAGE),
  );
  app.get('/chat.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(SCRIPT),
  );
  if (!options.demoLogin) return;
  app.post(
    '/v1/demo/login',
    {
      schema: {
        tags: ['demo'],
        summary: 'A token for any demo user (embedded mode only: absent when AUTH_SECRET is set)',
        body: z.strictObject({ userId: z.string().regex(/^[a-z0-9_-]{1,32}$/) }),
        response: { 200: z.object({ userId: z.string(), token: z.string(), expiresIn: z.number() }) },
      },
    },
    async (request) => {
      const { userId } = request.body;
      const token = await options.authority.issue(userId, { ttlSeconds: DEMO_TOKEN_TTL_SECONDS });
      return { userId, token, expiresIn: DEMO_TOKEN_TTL_SECONDS };
    },
  );
}
