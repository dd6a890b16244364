import type { ServiceApp } from '@sysdesign/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment, TestClient } from './helpers.js';

/** The page's static files and its demo login: present only in embedded mode, refusing bad names. */

describe('the chat page and the demo login', () => {
  const embedded = deployment();
  const secured = deployment();
  let embeddedHttp: string;
  let securedHttp: string;
  let embeddedWs: string;
  let embeddedApp: ServiceApp;

  beforeAll(async () => {
    // An empty AUTH_SECRET removes it: the embedded mode, with its generated secret.
    const started = await embedded.start({ AUTH_SECRET: '' });
    embeddedWs = started.url;
    embeddedApp = started.app;
    embeddedHttp = started.url.replace(/^ws/, 'http');
    securedHttp = (await secured.start()).url.replace(/^ws/, 'http');
  });

  afterAll(async () => {
    await embedded.close();
    await secured.close();
  });

  it('serves the page and its script at / with no token', async () => {
    const page = await fetch(`${securedHttp}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script src="/chat.js"></script>');
    const script = await fetch(`${securedHttp}/chat.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain("'chat.v1'");
  });

  it('issues a working token for a demo user in embedded mode', async () => {
    const response = await fetch(`${embeddedHttp}/v1/demo/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'alice' }),
    });
    expect(response.status).toBe(200);
    const { token, userId } = (await response.json()) as { token: string; userId: string };
    expect(userId).toBe('alice');
    const channels = await fetch(`${embeddedHttp}/v1/channels`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(channels.status).toBe(200);
    // The helper's token (signed with the test secret) is refused: the embedded secret is another.
    await expect(TestClient.connect(embeddedWs, 'alice')).rejects.toThrow();
  });

  it.each([
    ['a missing name', {}],
    ['an empty name', { userId: '' }],
    ['capitals and spaces', { userId: 'Alice Smith' }],
    ['a name over 32 characters', { userId: 'a'.repeat(33) }],
    ['a number', { userId: 7 }],
    ['an unknown field', { userId: 'alice', admin: true }],
  ])('refuses %s with a problem', async (_case, body) => {
    const response = await fetch(`${embeddedHttp}/v1/demo/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('refuses a demo login from another machine', async () => {
    const response = await embeddedApp.inject({
      method: 'POST',
      url: '/v1/demo/login',
      remoteAddress: '10.1.2.3',
      payload: { userId: 'alice' },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'CHAT_ERR_DEMO_LOGIN_LOCAL_ONLY' });
    expect(response.body).not.toContain('eyJ');
  });

  it('has no demo login when AUTH_SECRET is set', async () => {
    const response = await fetch(`${securedHttp}/v1/demo/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'alice' }),
    });
    expect(response.status).toBe(404);
  });
});
