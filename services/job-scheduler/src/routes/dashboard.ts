import { readFile } from 'node:fs/promises';
import type { ServiceApp } from '@sysdesign/platform';

/** The dashboard: two static files, read once and served as they are (no build step). */

const PUBLIC_DIR = new URL('../../public/', import.meta.url);
const FILES = [
  { route: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { route: '/dashboard.js', file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
] as const;

export function registerDashboardRoutes(app: ServiceApp): void {
  for (const { route, file, type } of FILES) {
    let body: Promise<Buffer> | undefined;
    app.get(route, { schema: { hide: true } }, async (_request, reply) => {
      body ??= readFile(new URL(file, PUBLIC_DIR));
      reply.type(type).header('cache-control', 'no-cache');
      return body;
    });
  }
}
