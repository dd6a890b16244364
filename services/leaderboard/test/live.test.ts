import type { AddressInfo } from 'node:net';
import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { freshSchemaName, waitFor } from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildFromEnv, type Client, clientOf } from './helpers.js';

/**
 * The live top 10 over server-sent events: the current top at once, then one event per poll in
 * which the top 10 changed. A burst of 200 scores arrives as a few events, not 200, and the last
 * one is the board's top 10.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let client: Client;
let base: string;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv(
    { LIVE_INTERVAL_MS: '50', PLAYER_RATE_LIMIT: '100000' },
    { embedded, schema: freshSchemaName('lb_live') },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  client = await clientOf(app);
});

afterAll(async () => {
  await app?.close();
  await embedded?.close();
});

interface TopEvent {
  entries: { player: string; score: number; rank: number }[];
}

/** Reads `event: top` messages from the stream into `events` until aborted. */
async function collect(url: string, events: TopEvent[], signal: AbortSignal): Promise<void> {
  const response = await fetch(url, { signal });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = message.split('\n').find((line) => line.startsWith('data: '));
        if (message.startsWith('event: top') && data) events.push(JSON.parse(data.slice(6)) as TopEvent);
        end = buffer.indexOf('\n\n');
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

it('pushes the top 10 at once and on change, coalescing a burst of scores', async () => {
  await client.createBoard({ id: 'live', operator: 'incr' });
  await client.submit('live', 'first', 1);
  const events: TopEvent[] = [];
  const abort = new AbortController();
  const reading = collect(`${base}/v1/boards/live/live`, events, abort.signal);
  await waitFor(() => events.length === 1, 'the first event');
  expect(events[0]!.entries).toEqual([expect.objectContaining({ player: 'first', score: 1, rank: 1 })]);
  await Promise.all(
    Array.from({ length: 200 }, (_, index) => client.submit('live', `p${index % 20}`, index)),
  );
  const top = await client.top('live', 10);
  await waitFor(() => JSON.stringify(events.at(-1)?.entries) === JSON.stringify(top), 'the final top 10');
  expect(events.length).toBeGreaterThan(1);
  expect(events.length).toBeLessThan(50);
  abort.abort();
  await reading;
});

it('refuses a live stream for an unknown board with a problem', async () => {
  const response = await fetch(`${base}/v1/boards/nope/live`);
  expect(response.status).toBe(404);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
});
