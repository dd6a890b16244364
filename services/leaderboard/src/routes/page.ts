import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServiceApp } from '@sysdesign/platform';

const PAGE = readFileSync(fileURLToPath(new URL('../../public/index.html', import.meta.url)), 'utf8');

/** The live top-10 page: plain HTML and a little script over the SSE endpoint. */
export function registerPage(app: ServiceApp): void {
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(PAGE),
  );
}
