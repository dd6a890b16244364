import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { freshSchemaName } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildFromEnv, submit, waitForState } from './helpers.js';

/**
 * HTTP-callback jobs reach only allowlisted hosts, and the address the name resolves to is checked
 * at connect time: `localhost` is on the list in one app and resolves to loopback, which only the
 * app that allows private addresses may call.
 */

let embedded: EmbeddedPostgres;
let receiver: Server;
let port: number;
const received: { headers: IncomingMessage['headers']; body: string }[] = [];
let open: ServiceApp;
let strict: ServiceApp;
let auth: Record<string, string>;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.writeHead(request.url === '/gone' ? 410 : 200, { 'content-type': 'application/json' });
      response.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
  const env = { CALLBACK_ALLOWLIST: 'localhost,127.0.0.1', BUILTIN_CONCURRENCY: '2' };
  open = await buildFromEnv(
    { ...env, CALLBACK_ALLOW_PRIVATE: 'true' },
    { embedded, schema: freshSchemaName('cbopen') },
  );
  strict = await buildFromEnv(env, { embedded, schema: freshSchemaName('cbstrict') });
  auth = await bearer();
});
afterAll(async () => {
  await open.close();
  await strict.close();
  await new Promise((resolve) => receiver.close(resolve));
  await embedded.close();
});

describe('HTTP callbacks', () => {
  it('calls an allowlisted host with the job id and fencing token, and keeps the answer as output', async () => {
    const job = await submit(
      open,
      { queue: 'http-callback', payload: { url: `http://localhost:${port}/hook`, body: { n: 1 } } },
      auth,
    );
    const done = await waitForState(open, job.id, 'succeeded');
    expect(done.output).toEqual({ status: 200, body: '{"ok":true}' });
    const call = received.find((entry) => entry.headers['x-job-id'] === job.id);
    expect(call?.body).toBe('{"n":1}');
    expect(call?.headers['x-fencing-token']).toBe(done.fence);
  });

  it('sends a 4xx answer straight to the DLQ', async () => {
    const job = await submit(
      open,
      { queue: 'http-callback', payload: { url: `http://localhost:${port}/gone` } },
      auth,
    );
    expect((await waitForState(open, job.id, 'dead')).attempts).toBe(1);
  });

  // The open app has just called the same host:port, so a process-wide keep-alive pool would hand
  // the strict app a socket whose address it never checked.
  it('refuses a listed name that resolves to loopback when private addresses are not allowed', async () => {
    const job = await submit(
      strict,
      { queue: 'http-callback', payload: { url: `http://localhost:${port}/hook` }, maxAttempts: 1 },
      auth,
    );
    const dead = await waitForState(strict, job.id, 'dead');
    expect(dead.error?.message).toMatch(/private address/);
  });
});
