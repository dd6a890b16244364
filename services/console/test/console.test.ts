import { createService, type ServiceApp } from '@sysdesign/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole, type ListedService } from '../src/index.js';

describe('console', () => {
  let target: ServiceApp;
  let targetUrl: string;
  let backendUp = true;
  let consoleApp: ServiceApp;
  const listed: ListedService[] = [];

  beforeAll(async () => {
    target = await createService({ name: 'probe', logLevel: 'silent' });
    target.readiness.add('database', () => {
      if (!backendUp) throw new Error('connection refused');
    });
    targetUrl = await target.listen({ host: '127.0.0.1', port: 0 });
    listed.push({ name: 'probe', url: targetUrl });
    listed.push({ name: 'broken<script>', url: 'http://127.0.0.1:9', startError: 'port <in use>' });
    listed.push({ name: 'gone', url: 'http://127.0.0.1:1' });
    consoleApp = await buildConsole({ logLevel: 'silent', services: () => listed, healthTimeoutMs: 500 });
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
