import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, type ServiceApp } from '../src/index.js';

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('x-request-id', () => {
  let app: ServiceApp;

  beforeAll(async () => {
    app = await createService({ name: 'traced' }, {}, { logger: pino({ level: 'silent' }) });
    app.get('/echo', async (request) => ({ id: request.id }));
  });
  afterAll(() => app.close());

  const requestIdOf = async (headers: Record<string, string> = {}) => {
    const response = await app.inject({ url: '/echo', headers });
    expect(response.json().id).toBe(response.headers['x-request-id']);
    return String(response.headers['x-request-id']);
  };

  it('echoes a safe id from the caller', async () => {
    expect(await requestIdOf({ 'x-request-id': 'trace-7:span.2_a' })).toBe('trace-7:span.2_a');
  });

  it('makes a different UUID-shaped id for each request without one', async () => {
    const made = await Promise.all(Array.from({ length: 50 }, () => requestIdOf()));
    for (const id of made) expect(id).toMatch(UUID_SHAPE);
    expect(new Set(made).size).toBe(made.length);
  });

  it.each([
    ['huge', 'a'.repeat(129)],
    ['empty', ''],
    ['CRLF', 'abc\r\nset-cookie: owned=1'],
    ['non-ASCII', 'trace-ü-☃'],
    ['spaced', 'a b'],
    ['markup', '<script>alert(1)</script>'],
  ])('replaces a hostile id (%s) with one of its own', async (_name, hostile) => {
    const id = await requestIdOf({ 'x-request-id': hostile });
    expect(id).not.toBe(hostile);
    expect(id).toMatch(UUID_SHAPE);
  });

  it('answers requests no route matched with an id too', async () => {
    const response = await app.inject({ url: '/nowhere', headers: { 'x-request-id': 'lost-1' } });
    expect(response.statusCode).toBe(404);
    expect(response.headers['x-request-id']).toBe('lost-1');
  });
});
