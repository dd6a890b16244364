import { createLogger, createService, loadConfig, type ServiceApp } from '@sysdesign/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, consoleService, type ListedService } from '../src/index.js';

const context = { logger: createLogger('silent') };

/** The console as start-all builds it: its config from the environment, the list given live. */
function buildConsole(listed: ListedService[], env: Record<string, string> = {}) {
  const config = loadConfig(configSchema, { LOG_LEVEL: 'silent', HEALTH_TIMEOUT_MS: '500', ...env });
  return consoleService.build({ ...config, CONSOLE_SERVICES: listed }, context);
}

describe('console', () => {
  let target: ServiceApp;
  let targetUrl: string;
  let backendUp = true;
  let consoleApp: ServiceApp;
  const listed: ListedService[] = [];

  beforeAll(async () => {
    target = await createService({ name: 'probe' }, { LOG_LEVEL: 'silent' });
    target.readiness.add('database', () => {
      if (!backendUp) throw new Error('connection refused');
    });
    targetUrl = await target.listen({ host: '127.0.0.1', port: 0 });
    listed.push({ name: 'probe', url: targetUrl });
    listed.push({ name: 'broken<script>', url: 'http://127.0.0.1:9', startError: 'port <in use>' });
    listed.push({ name: 'gone', url: 'http://127.0.0.1:1' });
    consoleApp = await buildConsole(listed);
  });
  afterAll(async () => {
    await consoleApp.close();
    await target.close();
  });

  it('reports each service as ready, not ready (with the failing check), down or failed to start', async () => {
    // The console asks every service's /readyz; each outcome must be told apart.
    backendUp = true;
    const ready = (await consoleApp.inject({ url: '/v1/services' })).json().services;
    expect(ready.map((service: { state: string }) => service.state)).toEqual([
      'ready',
      'failed-to-start',
      'down',
    ]);
    expect(ready[0].docsUrl).toBe(`${targetUrl}/docs`);
    backendUp = false;
    const degraded = (await consoleApp.inject({ url: '/v1/services' })).json().services;
    expect(degraded[0]).toMatchObject({ state: 'not-ready', detail: 'database: connection refused' });
  });

  it('renders an HTML page linking each service’s docs, with names escaped', async () => {
    const page = await consoleApp.inject({ url: '/' });
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain(`href="${targetUrl}/docs"`);
    expect(page.body).toContain('broken&#60;script&#62;');
    expect(page.body).not.toContain('<script>');
    expect(page.body).toContain('port &#60;in use&#62;');
  });
});

describe('console configuration', () => {
  it('honours BODY_LIMIT_BYTES like every service: a larger body is refused with 413', async () => {
    const app = await buildConsole([], { BODY_LIMIT_BYTES: '2048' });
    // The console has no route taking a body; one added here shows the app's own limit.
    app.post('/echo', async (request) => request.body);
    const small = await app.inject({ method: 'POST', url: '/echo', payload: { text: 'x'.repeat(1_000) } });
    expect(small.statusCode).toBe(200);
    const large = await app.inject({ method: 'POST', url: '/echo', payload: { text: 'x'.repeat(3_000) } });
    expect(large.statusCode).toBe(413);
    expect(large.json().code).toBe('ERR_BODY_TOO_LARGE');
    await app.close();
  });
});
