import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { expectProblem, freshSchemaName } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildFromEnv, submit, waitForState } from './helpers.js';

/**
 * Push workers: a registered, allowlisted HTTP worker receives each job of its queue with the
 * fencing token, its answer is the job's output, and a worker that stops heartbeating gets no
 * new jobs.
 */

let embedded: EmbeddedPostgres;
let receiver: Server;
let port: number;
const calls: { id: string; fence: string; payload: unknown }[] = [];
let app: ServiceApp;
let auth: Record<string, string>;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const job = JSON.parse(body) as { id: string; fence: string; payload: unknown };
      calls.push(job);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ handled: job.payload }));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
  app = await buildFromEnv(
    {
      CALLBACK_ALLOWLIST: '127.0.0.1',
      CALLBACK_ALLOW_PRIVATE: 'true',
      WORKER_HEARTBEAT_TTL_MS: '1500',
      PUSH_SYNC_MS: '100',
    },
    { embedded, schema: freshSchemaName('push') },
  );
  auth = await bearer();
});
afterAll(async () => {
  await app.close();
  await new Promise((resolve) => receiver.close(resolve));
  await embedded.close();
});

describe('push workers', () => {
  it('refuses a URL off the allowlist', async () => {
    await expectProblem(
      app,
      {
        method: 'POST',
        url: '/v1/workers',
        headers: auth,
        payload: { queue: 'emails', url: 'http://10.0.0.5/hook' },
      },
      422,
      'JOBSCHED_ERR_HOST_NOT_ALLOWED',
    );
  });

  it('dispatches jobs with their fencing token while the worker heartbeats, and stops when it goes silent', async () => {
    const registered = await app.inject({
      method: 'POST',
      url: '/v1/workers',
      headers: auth,
      payload: { queue: 'emails', url: `http://127.0.0.1:${port}/jobs`, concurrency: 2 },
    });
    expect(registered.statusCode).toBe(201);
    const workerId = registered.json().id as string;
    const job = await submit(app, { queue: 'emails', payload: { to: 'b@example.com' } }, auth);
    const done = await waitForState(app, job.id, 'succeeded');
    expect(done.output).toEqual({ handled: { to: 'b@example.com' } });
    expect(calls.find((call) => call.id === job.id)?.fence).toBe(done.fence);
    const beat = await app.inject({
      method: 'POST',
      url: `/v1/workers/${workerId}/heartbeat`,
      headers: auth,
    });
    expect(beat.json().live).toBe(true);

    // No heartbeat past the TTL: the replica stops dispatching, so the next job waits.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const listed = (await app.inject({ url: '/v1/workers' })).json<{ workers: { live: boolean }[] }>();
    expect(listed.workers[0]?.live).toBe(false);
    const waiting = await submit(app, { queue: 'emails', payload: { to: 'c@example.com' } }, auth);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await app.inject({ url: `/v1/jobs/${waiting.id}` })).json().job.state).toBe('ready');

    // A heartbeat brings it back, and the waiting job runs.
    await app.inject({ method: 'POST', url: `/v1/workers/${workerId}/heartbeat`, headers: auth });
    await waitForState(app, waiting.id, 'succeeded');
    expect(
      (await app.inject({ method: 'DELETE', url: `/v1/workers/${workerId}`, headers: auth })).statusCode,
    ).toBe(204);
  });
});
