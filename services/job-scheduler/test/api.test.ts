import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { expectProblem, freshSchemaName } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORK_SCOPE, WRITE_SCOPE } from '../src/routes/context.js';
import { bearer, buildFromEnv, getJob, submit, waitForState } from './helpers.js';

/**
 * The REST API over PGlite: submissions, DAGs, history, cancel, lists, the dead-letter queue,
 * cron schedules, pause and resume, and pull workers with fencing tokens. Each test names the
 * claim it checks.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let auth: Record<string, string>;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv({}, { embedded, schema: freshSchemaName('api'), workerId: 'builtin-test' });
  auth = await bearer();
});
afterAll(async () => {
  await app.close();
  await embedded.close();
});

describe('submitting and running', () => {
  it('runs a built-in echo job to succeeded with its output and a history naming the worker', async () => {
    const job = await submit(app, { queue: 'builtin', payload: { handler: 'echo', value: { hi: 1 } } }, auth);
    const done = await waitForState(app, job.id, 'succeeded');
    expect(done.output).toEqual({ hi: 1 });
    const { history } = await getJob(app, job.id);
    expect(history.map((event) => event.to)).toEqual(['running', 'succeeded']);
    expect(history[1]?.worker).toBe('builtin-test');
  });

  it('retries fail-n-times until it succeeds, and sends a job past its attempts to the DLQ', async () => {
    const twice = await submit(
      app,
      {
        queue: 'builtin',
        payload: { handler: 'fail-n-times', n: 2 },
        backoff: { kind: 'fixed', delayMs: 0 },
      },
      auth,
    );
    expect((await waitForState(app, twice.id, 'succeeded')).attempts).toBe(3);
    const doomed = await submit(
      app,
      {
        queue: 'builtin',
        payload: { handler: 'fail-n-times', n: 5 },
        maxAttempts: 2,
        backoff: { kind: 'fixed', delayMs: 0 },
      },
      auth,
    );
    await waitForState(app, doomed.id, 'dead');
    const dlq = (await app.inject({ url: '/v1/queues/builtin/dlq' })).json<{ jobs: { id: string }[] }>();
    expect(dlq.jobs.map((job) => job.id)).toContain(doomed.id);
    const replayed = await app.inject({ method: 'POST', url: `/v1/jobs/${doomed.id}/replay`, headers: auth });
    expect(replayed.statusCode).toBe(200);
    await waitForState(app, doomed.id, 'dead');
    const all = await app.inject({ method: 'POST', url: '/v1/queues/builtin/dlq/replay', headers: auth });
    expect(all.json()).toEqual({ replayed: 1 });
  });

  it('answers the first job for a repeated Idempotency-Key, with 200 instead of 201', async () => {
    const headers = { ...auth, 'idempotency-key': 'once-only' };
    const first = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { queue: 'default', payload: 1 },
      headers,
    });
    const second = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { queue: 'default', payload: 2 },
      headers,
    });
    expect([first.statusCode, second.statusCode]).toEqual([201, 200]);
    expect(second.json().job.id).toBe(first.json().job.id);
  });

  it('cancels a delayed job, and refuses to cancel it twice', async () => {
    const job = await submit(app, { queue: 'default', payload: {}, delayMs: 60_000 }, auth);
    expect(job.state).toBe('scheduled');
    const cancelled = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: auth });
    expect(cancelled.json().job.state).toBe('cancelled');
    await expectProblem(
      app,
      { method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: auth },
      409,
      'JOBQ_ERR_WRONG_STATE',
    );
  });

  it('lists a queue by state in cursor pages', async () => {
    for (let index = 0; index < 5; index += 1)
      await submit(app, { queue: 'emails', payload: { index } }, auth);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const query: string = after === null ? '' : `&after=${after}`;
      const page = (await app.inject({ url: `/v1/jobs?queue=emails&state=ready&limit=2${query}` })).json<{
        jobs: { id: string }[];
        next: string | null;
      }>();
      seen.push(...page.jobs.map((job) => job.id));
      after = page.next;
    } while (after !== null);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
  });
});

describe('DAGs', () => {
  it('runs a diamond in dependency order and draws it as nodes and edges', async () => {
    const echo = (value: string) => ({ handler: 'echo', value });
    const response = await app.inject({
      method: 'POST',
      url: '/v1/dags',
      headers: auth,
      payload: {
        jobs: [
          { ref: 'a', queue: 'builtin', payload: echo('a') },
          { ref: 'b', queue: 'builtin', payload: echo('b'), dependsOn: ['a'] },
          { ref: 'c', queue: 'builtin', payload: echo('c'), dependsOn: ['a'] },
          { ref: 'd', queue: 'builtin', payload: echo('d'), dependsOn: ['b', 'c'] },
        ],
      },
    });
    expect(response.statusCode).toBe(201);
    const { flowId, jobs } = response.json<{ flowId: string; jobs: Record<string, string> }>();
    await waitForState(app, jobs.d as string, 'succeeded');
    const graph = (await app.inject({ url: `/v1/flows/${flowId}` })).json<{
      nodes: unknown[];
      edges: unknown[];
    }>();
    expect(graph.nodes).toHaveLength(4);
    expect(graph.edges).toHaveLength(4);
  });

  it('refuses a cyclic DAG with 422, naming the cycle', async () => {
    const body = await expectProblem(
      app,
      {
        method: 'POST',
        url: '/v1/dags',
        headers: auth,
        payload: {
          jobs: [
            { ref: 'x', queue: 'default', payload: 1, dependsOn: ['z'] },
            { ref: 'y', queue: 'default', payload: 1, dependsOn: ['x'] },
            { ref: 'z', queue: 'default', payload: 1, dependsOn: ['y'] },
          ],
        },
      },
      422,
      'JOBQ_ERR_CYCLE',
    );
    expect(String(body.detail)).toMatch(/x -> .* -> x|y -> .* -> y|z -> .* -> z/);
    expect(body.cycle).toBeDefined();
  });
});

describe('pull workers', () => {
  it('leases with a fencing token, heartbeats, completes once, and refuses a stale token with 409', async () => {
    const job = await submit(
      app,
      { queue: 'emails', payload: { to: 'a@example.com' }, priority: 1000 },
      auth,
    );
    const worker = await bearer([WORK_SCOPE], 'puller');
    const leased = await app.inject({
      method: 'POST',
      url: '/v1/queues/emails/lease',
      headers: worker,
      payload: { limit: 1, leaseMs: 5_000, worker: 'w1' },
    });
    const [held] = leased.json<{ jobs: { id: string; fence: string }[] }>().jobs;
    expect(held?.id).toBe(job.id);
    const fence = held?.fence as string;
    const beat = await app.inject({
      method: 'POST',
      url: `/v1/jobs/${job.id}/heartbeat`,
      headers: worker,
      payload: { fence },
    });
    expect(beat.statusCode).toBe(200);
    const done = await app.inject({
      method: 'POST',
      url: `/v1/jobs/${job.id}/complete`,
      headers: worker,
      payload: { fence, output: { sent: true } },
    });
    expect(done.json().job.state).toBe('succeeded');
    const again = {
      method: 'POST' as const,
      url: `/v1/jobs/${job.id}/complete`,
      headers: worker,
      payload: { fence },
    };
    await expectProblem(app, again, 409, 'JOBQ_ERR_FENCED');
    await expectProblem(
      app,
      {
        method: 'POST',
        url: `/v1/jobs/${job.id}/fail`,
        headers: worker,
        payload: { fence: '999999', error: { message: 'x' } },
      },
      409,
      'JOBQ_ERR_FENCED',
    );
    const { history } = await getJob(app, job.id);
    expect(history.at(-1)?.worker).toBe('puller/w1');
  });

  it('needs the work scope to lease and the write scope to submit', async () => {
    const writeOnly = await bearer([WRITE_SCOPE]);
    await expectProblem(
      app,
      { method: 'POST', url: '/v1/queues/emails/lease', headers: writeOnly, payload: {} },
      403,
      'ERR_FORBIDDEN',
    );
    await expectProblem(
      app,
      { method: 'POST', url: '/v1/jobs', payload: { queue: 'default', payload: 1 } },
      401,
      'ERR_UNAUTHORIZED',
    );
  });
});

describe('queues and schedules', () => {
  it('pauses a queue so nothing is leased, then resumes it', async () => {
    await submit(app, { queue: 'default', payload: 'paused' }, auth);
    expect(
      (await app.inject({ method: 'POST', url: '/v1/queues/default/pause', headers: auth })).json().paused,
    ).toBe(true);
    const leased = await app.inject({
      method: 'POST',
      url: '/v1/queues/default/lease',
      headers: auth,
      payload: { limit: 10 },
    });
    expect(leased.json().jobs).toEqual([]);
    await app.inject({ method: 'POST', url: '/v1/queues/default/resume', headers: auth });
    const after = await app.inject({
      method: 'POST',
      url: '/v1/queues/default/lease',
      headers: auth,
      payload: { limit: 10 },
    });
    expect(after.json().jobs.length).toBeGreaterThan(0);
  });

  it('holds a queue to its concurrency limit across leases, shows it in stats, and lifts it with null', async () => {
    for (let i = 0; i < 3; i++) await submit(app, { queue: 'emails', payload: { limited: i } }, auth);
    const set = await app.inject({
      method: 'PUT',
      url: '/v1/queues/emails/limits',
      headers: auth,
      payload: { concurrencyMax: 1, rate: { max: 100, intervalMs: 60_000 } },
    });
    expect(set.statusCode).toBe(200);
    expect(set.json().limits).toEqual({ concurrencyMax: 1, rate: { max: 100, intervalMs: 60_000 } });
    const lease = (limit: number) =>
      app.inject({ method: 'POST', url: '/v1/queues/emails/lease', headers: auth, payload: { limit } });
    const first = (await lease(10)).json().jobs;
    expect(first).toHaveLength(1);
    expect((await lease(10)).json().jobs).toEqual([]);
    const stats = (await app.inject({ url: '/v1/queues/emails/stats' })).json();
    expect(stats).toMatchObject({ running: 1, limits: { concurrencyMax: 1 } });
    expect(stats.startsInWindow).toBeGreaterThanOrEqual(1);
    const complete = await app.inject({
      method: 'POST',
      url: `/v1/jobs/${first[0].id}/complete`,
      headers: auth,
      payload: { fence: first[0].fence, output: null },
    });
    expect(complete.statusCode).toBeLessThan(300);
    expect((await lease(10)).json().jobs).toHaveLength(1);
    const lifted = await app.inject({
      method: 'PUT',
      url: '/v1/queues/emails/limits',
      headers: auth,
      payload: { concurrencyMax: null, rate: null },
    });
    expect(lifted.json().limits).toEqual({ concurrencyMax: null, rate: null });
    expect((await lease(10)).json().jobs.length).toBeGreaterThanOrEqual(1);
    await expectProblem(
      app,
      { method: 'PUT', url: '/v1/queues/emails/limits', payload: { concurrencyMax: 2 } },
      401,
      'ERR_UNAUTHORIZED',
    );
  });

  it('reports counts and last-hour throughput for a queue', async () => {
    const stats = (await app.inject({ url: '/v1/queues/builtin/stats' })).json();
    expect(stats.counts.succeeded).toBeGreaterThan(0);
    expect(stats.throughput.length).toBeGreaterThan(0);
  });

  it('creates, reads, lists and deletes a cron schedule; a bad expression is a 400', async () => {
    const put = await app.inject({
      method: 'PUT',
      url: '/v1/schedules/nightly',
      headers: auth,
      payload: {
        queue: 'builtin',
        cron: '30 1 * * *',
        timeZone: 'America/New_York',
        payload: { handler: 'echo' },
      },
    });
    expect(put.statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/schedules/nightly' })).json().cron).toBe('30 1 * * *');
    expect((await app.inject({ url: '/v1/schedules' })).json().schedules).toHaveLength(1);
    await expectProblem(
      app,
      {
        method: 'PUT',
        url: '/v1/schedules/bad',
        headers: auth,
        payload: { queue: 'builtin', cron: '61 * * * *', payload: { handler: 'echo' } },
      },
      400,
      'JOBQ_ERR_INVALID_CRON',
    );
    expect(
      (await app.inject({ method: 'DELETE', url: '/v1/schedules/nightly', headers: auth })).statusCode,
    ).toBe(204);
    await expectProblem(app, '/v1/schedules/nightly', 404, 'JOBSCHED_ERR_SCHEDULE_NOT_FOUND');
  });
});

describe('refusals', () => {
  it('refuses an unknown queue, a huge payload, a negative delay, an unknown job and a bad built-in payload', async () => {
    await expectProblem(
      app,
      { method: 'POST', url: '/v1/jobs', headers: auth, payload: { queue: 'nope', payload: 1 } },
      404,
      'JOBSCHED_ERR_UNKNOWN_QUEUE',
    );
    await expectProblem(
      app,
      {
        method: 'POST',
        url: '/v1/jobs',
        headers: auth,
        payload: { queue: 'default', payload: 'x'.repeat(70_000) },
      },
      413,
      'JOBQ_ERR_PAYLOAD_TOO_LARGE',
    );
    await expectProblem(
      app,
      {
        method: 'POST',
        url: '/v1/jobs',
        headers: auth,
        payload: { queue: 'default', payload: 1, delayMs: -5 },
      },
      400,
      'ERR_VALIDATION',
    );
    await expectProblem(app, '/v1/jobs/123456789', 404, 'JOBQ_ERR_NOT_FOUND');
    await expectProblem(
      app,
      {
        method: 'POST',
        url: '/v1/jobs',
        headers: auth,
        payload: { queue: 'builtin', payload: { handler: 'rm -rf' } },
      },
      400,
      'JOBSCHED_ERR_INVALID_PAYLOAD',
    );
  });

  it('refuses an HTTP callback to a host off the allowlist', async () => {
    await expectProblem(
      app,
      {
        method: 'POST',
        url: '/v1/jobs',
        headers: auth,
        payload: { queue: 'http-callback', payload: { url: 'http://169.254.169.254/latest' } },
      },
      422,
      'JOBSCHED_ERR_HOST_NOT_ALLOWED',
    );
  });
});
