import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ClockMovedBackwardsError,
  createLogger,
  EmbeddedPostgres,
  type EventBus,
  GeneratorUnavailableError,
  InProcessEventBus,
  loadConfig,
  SnowflakeGenerator,
} from '@sysdesign/platform';
import { freshSchemaName, tempDirSync } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../src/config.js';
import { AliasTakenError, Links, NoFreeCodeError, NotOwnerError } from '../src/domain/links.js';
import { mapUrlShortenerError } from '../src/errors.js';
import { buildService } from '../src/service.js';
import { ClickAggregator } from '../src/workers/click-aggregator.js';
import { ClickPublisher } from '../src/workers/click-publisher.js';
import { buildFromEnv } from './helpers.js';

/**
 * How the shortener is wired into the platform: its parts close in reverse on shutdown and on a
 * failed start, and its domain errors reach clients through its error mapper.
 */

let embedded: EmbeddedPostgres;
let bus: EventBus;
const dir = tempDirSync('url-shortener-wiring-');

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  bus = await InProcessEventBus.open();
});

afterAll(async () => {
  await bus.close();
  await embedded.close();
});

describe('lifecycle', () => {
  it('closes the click pipeline and the links, newest first, when the start fails at its end', async () => {
    // No AUTH_SECRET and a DATA_DIR that is a file: the last step (the embedded secret) fails,
    // after every part opened.
    const notADirectory = join(dir, 'file');
    writeFileSync(notADirectory, '');
    const spies = [
      vi.spyOn(ClickPublisher.prototype, 'close'),
      vi.spyOn(ClickAggregator.prototype, 'stop'),
      vi.spyOn(Links.prototype, 'close'),
    ];
    try {
      const config = loadConfig(configSchema, {
        LOG_LEVEL: 'silent',
        PGLITE_DIR: 'memory',
        DATA_DIR: notADirectory,
      });
      const context = { logger: createLogger('silent'), embedded, bus, sqlSchema: freshSchemaName('wiring') };
      await expect(buildService(config, context)).rejects.toThrow(/ENOTDIR|not a directory/);
      const callOrder = spies.map((spy) => spy.mock.invocationCallOrder[0] ?? Number.NaN);
      expect(callOrder.every(Number.isFinite)).toBe(true);
      expect(callOrder).toEqual([...callOrder].sort((a, b) => a - b));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('opens the snowflake worker after the backends, so it stops first', async () => {
    const app = await buildFromEnv({}, { embedded, bus, schema: freshSchemaName('wiringopen') });
    try {
      const open = app.lifecycle.open;
      expect(open.slice(0, 2)).toEqual(['postgres', 'snowflake worker']);
      expect(open).toEqual(
        expect.arrayContaining(['links', 'click aggregator', 'click publisher', 'gauges']),
      );
      // The shared bus belongs to the process: the service does not close it.
      expect(open).not.toContain('event bus');
      const ready = await app.inject({ url: '/readyz' });
      expect(Object.keys(ready.json().checks).sort()).toEqual(['event-bus', 'postgres', 'worker-lease']);
    } finally {
      await app.close();
    }
  });
});

describe('errors through the service mapper', () => {
  it('maps the domain errors it knows, with their headers, and leaves the rest to the platform', () => {
    const taken = mapUrlShortenerError(new AliasTakenError('alias go is taken'));
    expect(taken).toMatchObject({
      status: 409,
      code: 'URLSHORT_ERR_ALIAS_TAKEN',
      extensions: { field: 'alias' },
    });
    expect(mapUrlShortenerError(new NoFreeCodeError('all taken'))?.headers).toEqual({ 'retry-after': '1' });
    expect(mapUrlShortenerError(new NotOwnerError('not yours'))?.status).toBe(403);
    expect(mapUrlShortenerError(new GeneratorUnavailableError('lease lost'))).toBeUndefined();
    expect(mapUrlShortenerError(new Error('a bug'))).toBeUndefined();
  });

  it('answers a refused snowflake id with the platform problem and its Retry-After', async () => {
    const app = await buildFromEnv({}, { embedded, bus, schema: freshSchemaName('wiringids') });
    const refuse = vi.spyOn(SnowflakeGenerator.prototype, 'nextSync').mockImplementation(() => {
      throw new ClockMovedBackwardsError(2_500, 5);
    });
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload: { url: 'https://example.com/refused' },
      });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('3');
      expect(response.json()).toMatchObject({ code: 'ERR_ID_CLOCK_MOVED_BACKWARDS', rollbackMs: 2_500 });
    } finally {
      refuse.mockRestore();
      await app.close();
    }
  });

  it('answers an unknown failure with a 500 that says nothing internal', async () => {
    const app = await buildFromEnv({}, { embedded, bus, schema: freshSchemaName('wiringbug') });
    const fail = vi.spyOn(Links.prototype, 'create').mockRejectedValue(new Error('secret table xyz broke'));
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload: { url: 'https://example.com/bug' },
      });
      expect(response.statusCode).toBe(500);
      expect(response.json().code).toBe('ERR_INTERNAL');
      expect(response.body).not.toContain('xyz');
    } finally {
      fail.mockRestore();
      await app.close();
    }
  });
});
