import Fastify from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isPlainSchema, serializerCompiler } from '../src/serializer.js';

function appWithResponse(schema: z.ZodType, answer: unknown) {
  const app = Fastify().withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.get('/', { schema: { response: { 200: schema } } }, async () => answer as never);
  return app;
}

describe('serializerCompiler', () => {
  it('tells schemas parsing can serialise from those that need encoding', () => {
    expect(isPlainSchema(z.object({ id: z.string(), tags: z.array(z.enum(['a', 'b'])).optional() }))).toBe(
      true,
    );
    expect(isPlainSchema(z.object({ at: z.iso.datetime() }).or(z.null()))).toBe(true);
    expect(isPlainSchema(z.object({ count: z.number().default(0) }))).toBe(false);
    expect(
      isPlainSchema(
        z.object({
          at: z.codec(z.iso.datetime(), z.date(), {
            decode: (text) => new Date(text),
            encode: (date) => date.toISOString(),
          }),
        }),
      ),
    ).toBe(false);
  });

  it('strips what the schema does not name, as the encoding serializer does', async () => {
    const app = appWithResponse(z.object({ id: z.string() }), { id: 'x', secret: 'hunter2' });
    expect((await app.inject({ url: '/' })).body).toBe('{"id":"x"}');
  });

  it('still encodes a schema with a codec', async () => {
    const at = z.codec(z.iso.datetime(), z.date(), {
      decode: (text) => new Date(text),
      encode: (date) => date.toISOString(),
    });
    const app = appWithResponse(z.object({ at }), { at: new Date('2026-01-02T03:04:05.000Z') });
    expect((await app.inject({ url: '/' })).json()).toEqual({ at: '2026-01-02T03:04:05.000Z' });
  });

  it('fails a response that does not fit its schema with a 500, never sending it', async () => {
    const app = appWithResponse(z.object({ id: z.string() }), { id: 42 });
    const response = await app.inject({ url: '/' });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('42');
  });
});
