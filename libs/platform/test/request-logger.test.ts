import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions, requestIdOf, requestLoggerFactory } from '../src/index.js';

/** A Fastify app logging through the platform's request logger factory, and every line it writes. */
function appLoggingAt(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = Fastify({
    loggerInstance: pino(loggerOptions(level), stream),
    genReqId: requestIdOf,
    childLoggerFactory: requestLoggerFactory,
  });
  app.get('/quiet', async () => ({ ok: true }));
  app.get('/warns', async (request) => {
    request.log.warn({ auth: { token: 'hunter2' } }, 'something is off');
    request.log.child({ step: 'inner' }).error('inner failure');
    return { ok: true };
  });
  return { app, lines };
}

describe('requestLoggerFactory', () => {
  it('writes request lines at info with the request id, as a pino child would', async () => {
    const { app, lines } = appLoggingAt('info');
    await app.inject({ url: '/quiet', headers: { 'x-request-id': 'trace-1' } });
    expect(lines.map((line) => [line.msg, line.reqId])).toEqual([
      ['incoming request', 'trace-1'],
      ['request completed', 'trace-1'],
    ]);
    await app.close();
  });

  it('at warn writes nothing for a quiet request, and a warning still carries the request id, redacted', async () => {
    const { app, lines } = appLoggingAt('warn');
    await app.inject({ url: '/quiet', headers: { 'x-request-id': 'trace-2' } });
    expect(lines).toEqual([]);
    await app.inject({ url: '/warns', headers: { 'x-request-id': 'trace-3' } });
    expect(lines).toMatchObject([
      { level: 40, msg: 'something is off', reqId: 'trace-3', auth: { token: '[Redacted]' } },
      { level: 50, msg: 'inner failure', reqId: 'trace-3', step: 'inner' },
    ]);
    await app.close();
  });

  it('follows a level changed on the request logger', async () => {
    const { app, lines } = appLoggingAt('warn');
    app.get('/verbose', async (request) => {
      request.log.level = 'debug';
      request.log.debug('now visible');
      return { ok: true };
    });
    await app.inject({ url: '/verbose', headers: { 'x-request-id': 'trace-4' } });
    // The request's own level, like a pino child's: its completion line (info) is written too.
    expect(lines).toMatchObject([
      { level: 20, msg: 'now visible', reqId: 'trace-4' },
      { level: 30, msg: 'request completed', reqId: 'trace-4' },
    ]);
    await app.close();
  });
});
