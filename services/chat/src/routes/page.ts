import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServiceApp, TokenAuthority } from '@sysdesign/platform';
import { z } from 'zod';
import { errors } from '../errors.js';

const PAGE = readFileSync(fileURLToPath(new URL('../../public/index.html', import.meta.url)), 'utf8');
const SCRIPT = readFileSync(fileURLToPath(new URL('../../public/chat.js', import.meta.url)), 'utf8');

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** Lifetime of a demo login's token. */
export const DEMO_TOKEN_TTL_SECONDS = 3_600;

export interface PageOptions {
  authority: TokenAuthority;
  /**
   * Embedded mode only (no `AUTH_SECRET`): any user name for the asking, so only to a client on
   * this machine (the socket's peer; proxies are not trusted), like the dev token file it stands beside.
   */
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
        summary: 'A token for any demo user (embedded mode only, from this machine only)',
        description: 'Absent when AUTH_SECRET is set; CHAT_ERR_DEMO_LOGIN_LOCAL_ONLY from another machine.',
        body: z.strictObject({ userId: z.string().regex(/^[a-z0-9_-]{1,32}$/) }),
        response: { 200: z.object({ userId: z.string(), token: z.string(), expiresIn: z.number() }) },
      },
    },
    async (request) => {
      if (!LOOPBACK.has(request.socket.remoteAddress ?? ''))
        throw errors.CHAT_ERR_DEMO_LOGIN_LOCAL_ONLY(
          'log in from the machine that runs the chat, or use a token',
        );
      const { userId } = request.body;
      const token = await options.authority.issue(userId, { ttlSeconds: DEMO_TOKEN_TTL_SECONDS });
      return { userId, token, expiresIn: DEMO_TOKEN_TTL_SECONDS };
    },
  );
}
