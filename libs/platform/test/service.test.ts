import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createService, defineProblems } from '../src/index.js';

describe('createService', () => {
  it('answers healthz', async () => {
    const app = await createService({ name: 'probe', logLevel: 'silent' });
    const errors = defineProblems({ PROBE_ERR_BROKEN: { status: 409, title: 'Broken' } });
    app.get('/v1/x', { schema: { querystring: z.object({ n: z.coerce.number().int().min(1) }) } }, async (req) => {
      if (req.query.n === 2) throw errors.PROBE_ERR_BROKEN('two is broken');
      return { n: req.query.n };
    });
    const res = await app.inject({ url: '/healthz' });
    expect(res.json()).toEqual({ status: 'ok' });
    const bad = await app.inject({ url: '/v1/x?n=abc' });
    console.log(bad.statusCode, bad.headers['content-type'], bad.body);
    const broken = await app.inject({ url: '/v1/x?n=2' });
    console.log(broken.statusCode, broken.body);
    const docs = await app.inject({ url: '/docs/json' });
    console.log(docs.statusCode, docs.body.slice(0, 300));
    await app.close();
  });
});
