import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWith, postgresBackend, tempDir, waitFor } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncApi } from '../src/client/api.js';
import { SyncEngine } from '../src/client/engine.js';
import { SyncState } from '../src/client/state.js';
import { watchAndSync } from '../src/client/watch.js';
import { bearer, openService, randomBytesOf, type TestService } from './helpers.js';

const CHUNKING = { strategy: 'fastcdc' as const, avgBytes: 8192 };

async function device(server: string, token: string, name: string) {
  const folder = await tempDir(`sync-${name}`);
  const api = new SyncApi(server, token);
  const engine = new SyncEngine({
    folder,
    api,
    state: await SyncState.open(folder),
    device: name,
    chunking: CHUNKING,
  });
  return { folder, api, engine, file: (path: string) => join(folder, path) };
}

const read = (file: string) => readFile(file, 'utf8');
const exists = (file: string) =>
  readFile(file).then(
    () => true,
    () => false,
  );

describeWith(await postgresBackend(), 'the sync client, two devices through one server', ({ url }) => {
  let service: TestService;
  let server: string;
  let token: string;
  beforeAll(async () => {
    service = await openService(url);
    server = await service.app.listen({ port: 0, host: '127.0.0.1' });
    token = (await bearer('erin')).authorization!.slice('Bearer '.length);
  });
  // Closing drains in-flight long polls; on a loaded machine that took past the default 60 s.
  afterAll(async () => service.close(), 180_000);

  describe('one round at a time', () => {
    let a: Awaited<ReturnType<typeof device>>;
    let b: Awaited<ReturnType<typeof device>>;
    beforeAll(async () => {
      a = await device(server, token, 'laptop');
      b = await device(server, token, 'desktop');
    });

    it('carries creates, edits, renames, moves and deletes both ways', async () => {
      await mkdir(a.file('docs'), { recursive: true });
      await writeFile(a.file('docs/plan.txt'), 'first plan');
      await writeFile(a.file('todo.txt'), 'milk');
      await a.engine.syncOnce();
      await b.engine.syncOnce();
      expect(await read(b.file('docs/plan.txt'))).toBe('first plan');
      expect(await read(b.file('todo.txt'))).toBe('milk');

      await writeFile(b.file('todo.txt'), 'milk, eggs');
      await b.engine.syncOnce();
      await a.engine.syncOnce();
      expect(await read(a.file('todo.txt'))).toBe('milk, eggs');

      await rename(a.file('docs/plan.txt'), a.file('docs/plan-v2.txt'));
      await mkdir(a.file('archive'));
      await rename(a.file('todo.txt'), a.file('archive/todo.txt'));
      await a.engine.syncOnce();
      await b.engine.syncOnce();
      expect(await exists(b.file('docs/plan.txt'))).toBe(false);
      expect(await read(b.file('docs/plan-v2.txt'))).toBe('first plan');
      expect(await read(b.file('archive/todo.txt'))).toBe('milk, eggs');

      await rm(b.file('archive/todo.txt'));
      await b.engine.syncOnce();
      await a.engine.syncOnce();
      expect(await exists(a.file('archive/todo.txt'))).toBe(false);
    });

    it('sends only the changed blocks of an edited large file, and fetches only those', async () => {
      const original = randomBytesOf(600_000, 21);
      await writeFile(a.file('big.bin'), original);
      await a.engine.syncOnce();
      await b.engine.syncOnce();
      const edited = Buffer.concat([
        original.subarray(0, 300_000),
        Buffer.from('inserted'),
        original.subarray(300_000),
      ]);
      await writeFile(a.file('big.bin'), edited);
      const up = (await a.engine.syncOnce()).report;
      const down = (await b.engine.syncOnce()).report;
      expect(up.uploaded).toEqual(['big.bin']);
      expect(up.blocksSent).toBeLessThanOrEqual(3);
      expect(down.blocksFetched).toBeLessThanOrEqual(3);
      expect((await readFile(b.file('big.bin'))).equals(edited)).toBe(true);
    });

    it('turns concurrent edits of one file into a conflicted copy with both contents intact, on both devices', async () => {
      await writeFile(a.file('shared.txt'), 'base');
      await a.engine.syncOnce();
      await b.engine.syncOnce();
      await writeFile(a.file('shared.txt'), 'edited on the laptop');
      await writeFile(b.file('shared.txt'), 'edited on the desktop!');
      await a.engine.syncOnce();
      const { report } = await b.engine.syncOnce();
      expect(report.conflicts).toHaveLength(1);
      const copy = report.conflicts[0]!;
      expect(copy).toMatch(/^shared \(conflicted copy from desktop \d{4}-\d{2}-\d{2}\)\.txt$/);
      await b.engine.syncOnce();
      await a.engine.syncOnce();
      for (const side of [a, b]) {
        expect(await read(side.file('shared.txt'))).toBe('edited on the laptop');
        expect(await read(side.file(copy))).toBe('edited on the desktop!');
      }
    });

    it('lets an edit win over a concurrent delete', async () => {
      await writeFile(a.file('keep.txt'), 'v1');
      await a.engine.syncOnce();
      await b.engine.syncOnce();
      await rm(a.file('keep.txt'));
      await writeFile(b.file('keep.txt'), 'v2 longer');
      await a.engine.syncOnce();
      await b.engine.syncOnce();
      await a.engine.syncOnce();
      expect(await read(a.file('keep.txt'))).toBe('v2 longer');
      expect(await read(b.file('keep.txt'))).toBe('v2 longer');
    });
  });

  it('watches both folders: a save on one appears on the other', async () => {
    const a = await device(server, token, 'watch-a');
    const b = await device(server, token, 'watch-b');
    const stop = new AbortController();
    const loops = [a, b].map((side) =>
      watchAndSync({
        folder: side.folder,
        api: side.api,
        engine: side.engine,
        signal: stop.signal,
        longpollSeconds: 5,
      }),
    );
    try {
      await writeFile(a.file('live.txt'), 'saved on a');
      await waitFor(
        async () => (await read(b.file('live.txt')).catch(() => '')) === 'saved on a',
        'live.txt on b',
        {
          timeoutMs: 20_000,
          intervalMs: 50,
        },
      );
      await writeFile(b.file('reply.txt'), 'answered on b');
      await waitFor(
        async () => (await read(a.file('reply.txt')).catch(() => '')) === 'answered on b',
        'reply.txt on a',
        {
          timeoutMs: 20_000,
          intervalMs: 50,
        },
      );
    } finally {
      stop.abort();
      await Promise.all(loops);
    }
  });
});
