import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BlobStore, DEFAULT_CONTENT_TYPE, MAX_KEY_BYTES } from '../../src/blob/index.js';

/**
 * The BlobStore contract: every adapter runs this same suite, so "identical semantics" is a
 * tested claim rather than a hope. `open` makes a fresh, empty store for each test.
 */

export type BlobStoreFactory = () => Promise<BlobStore>;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A stream of `content` in uneven chunks, yielding to the event loop between them so puts interleave. */
export function streamOf(content: Buffer, chunkBytes = 64 * 1024): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0, turn = 0; offset < content.byteLength; turn++) {
        const length = Math.max(1, chunkBytes - ((turn * 7919) % chunkBytes));
        yield content.subarray(offset, offset + length);
        offset += length;
        await nextTurn();
      }
    })(),
    { objectMode: false },
  );
}

async function contentOf(store: BlobStore, key: string): Promise<Buffer | undefined> {
  const read = await store.get(key);
  return read === undefined ? undefined : readAll(read.body);
}

async function allKeys(store: BlobStore, prefix: string | undefined, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ prefix, cursor, limit });
    pages.push(page.items.map((item) => item.key));
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

export const HOSTILE_KEYS: Array<[string, string]> = [
  ['parent traversal', '../x'],
  ['traversal inside', 'a/../../b'],
  ['absolute path', '/abs'],
  ['empty segment', 'a//b'],
  ['dot segment', 'a/./b'],
  ['lone dot', '.'],
  ['lone dot-dot', '..'],
  ['trailing slash', 'a/'],
  ['empty key', ''],
  ['NUL byte', 'a\u0000b'],
  ['backslash', 'a\\..\\b'],
  ['space', 'a b'],
  ['tilde (reserved by the fs layout)', 'a~blob'],
  ['over-long key', 'k/'.repeat(MAX_KEY_BYTES / 2) + 'k'],
  ['over-long segment', 'x'.repeat(201)],
  ['accented letter', 'caf\u00e9'],
  ['division slash lookalike', 'a\u2215..\u2215b'],
  ['fullwidth solidus', '..\uff0fx'],
  ['fullwidth full stops', '\uff0e\uff0e/x'],
  ['right-to-left override', 'a\u202Egpj.exe'],
  ['zero-width joiner', 'a\u200db'],
];

export function blobStoreContract(adapter: string, open: BlobStoreFactory): void {
  describe(`BlobStore contract: ${adapter}`, () => {
    let store: BlobStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('returns every byte value unchanged through a Uint8Array put', async () => {
      // Proves binary safety: all 256 byte values, twice, go in and come back identical.
      const content = Buffer.from([...Array(512).keys()].map((index) => index % 256));
      await store.put('bytes/all', content);
      expect(await contentOf(store, 'bytes/all')).toEqual(content);
    });

    it('stores an empty blob with the etag of no bytes', async () => {
      // Proves the zero-length edge: put, stat and get of an empty body.
      const info = await store.put('empty', new Uint8Array(0));
      expect(info).toMatchObject({ key: 'empty', size: 0, etag: sha256(Buffer.alloc(0)) });
      expect(await store.stat('empty')).toMatchObject({ size: 0, etag: info.etag });
      expect(await contentOf(store, 'empty')).toEqual(Buffer.alloc(0));
    });

    it('round-trips a 5 MiB body streamed in uneven chunks', async () => {
      // Proves streaming puts: a multi-MiB Readable is stored whole and hashed as it passes.
      const content = randomBytes(5 * 1024 * 1024 + 17);
      const info = await store.put('big/blob.bin', streamOf(content));
      expect(info.size).toBe(content.byteLength);
      expect(info.etag).toBe(sha256(content));
      const read = await contentOf(store, 'big/blob.bin');
      expect(read?.byteLength).toBe(content.byteLength);
      expect(read?.equals(content)).toBe(true);
    });

    it('reports size, sha256 etag, content type and modification time in stat, get and put', async () => {
      // Proves the metadata: the same BlobInfo from put, stat and get, etag = sha256 of the content.
      const before = Date.now();
      const content = Buffer.from('hello blob');
      const put = await store.put('docs/hello.txt', content, { contentType: 'text/plain; charset=utf-8' });
      const stat = await store.stat('docs/hello.txt');
      const got = await store.get('docs/hello.txt');
      got?.body.destroy();
      expect(put).toMatchObject({ key: 'docs/hello.txt', size: 10, etag: sha256(content) });
      expect(put.contentType).toBe('text/plain; charset=utf-8');
      expect(stat).toEqual(put);
      expect(got?.info).toEqual(put);
      expect(put.modifiedAt.getTime()).toBeGreaterThanOrEqual(before - 2_000);
      expect(put.modifiedAt.getTime()).toBeLessThanOrEqual(Date.now() + 2_000);
      expect((await store.put('docs/untyped', content)).contentType).toBe(DEFAULT_CONTENT_TYPE);
    });

    it('answers undefined and false for a key that was never put', async () => {
      // Proves absence is a value, not an error, for get, stat and delete.
      expect(await store.get('missing/key')).toBeUndefined();
      expect(await store.stat('missing/key')).toBeUndefined();
      expect(await store.delete('missing/key')).toBe(false);
    });

    it('replaces content and metadata on overwrite', async () => {
      // Proves a second put of a key replaces the first entirely, content type included.
      await store.put('over', Buffer.from('first version, longer'), { contentType: 'text/plain' });
      const second = await store.put('over', Buffer.from('second'), { contentType: 'application/json' });
      expect(await store.stat('over')).toEqual(second);
      expect((await contentOf(store, 'over'))?.toString()).toBe('second');
      expect(second.contentType).toBe('application/json');
    });

    it('deletes a blob once: then it is gone from get, stat and list', async () => {
      // Proves delete: true the first time, false after, and the key disappears everywhere.
      await store.put('dir/sub/gone', Buffer.from('x'));
      await store.put('dir/kept', Buffer.from('y'));
      expect(await store.delete('dir/sub/gone')).toBe(true);
      expect(await store.delete('dir/sub/gone')).toBe(false);
      expect(await store.get('dir/sub/gone')).toBeUndefined();
      expect((await store.list()).items.map((item) => item.key)).toEqual(['dir/kept']);
      // The key's directory can be used again after its last blob went.
      await store.put('dir/sub/again', Buffer.from('z'));
      expect((await contentOf(store, 'dir/sub/again'))?.toString()).toBe('z');
    });

    it('lists every key once in byte order across pages, with and without a prefix', async () => {
      // Proves cursor pagination: pages of 2 concatenate to the sorted key set, including keys that
      // are both a blob and a "directory" (`a` and `a/b`) and neighbours of '/' in ASCII (- . 0).
      const keys = [
        'photosx',
        'a/b/c',
        'a',
        'photos/2025/01.jpg',
        'a0',
        'a.c',
        'photos/x',
        'a/b',
        'b/1',
        'a-x',
      ];
      keys.push('photos/2024/02.jpg', 'photos/2024/01.jpg');
      for (const key of keys) await store.put(key, Buffer.from(key));
      const sorted = [...keys].sort();
      const pages = await allKeys(store, undefined, 2);
      expect(pages.flat()).toEqual(sorted);
      expect(pages.every((page) => page.length <= 2)).toBe(true);
      expect((await allKeys(store, 'photos/', 2)).flat()).toEqual([
        'photos/2024/01.jpg',
        'photos/2024/02.jpg',
        'photos/2025/01.jpg',
        'photos/x',
      ]);
      expect((await allKeys(store, 'a', 3)).flat()).toEqual(['a', 'a-x', 'a.c', 'a/b', 'a/b/c', 'a0']);
      expect((await allKeys(store, 'photos/2024/0', 1)).flat()).toEqual([
        'photos/2024/01.jpg',
        'photos/2024/02.jpg',
      ]);
      expect(await store.list({ prefix: 'nothing/' })).toEqual({ items: [] });
    });

    it('lists full BlobInfo items and ends without a cursor', async () => {
      // Proves list items carry the same metadata as stat and the last page has no nextCursor.
      const info = await store.put('one', Buffer.from('1'), { contentType: 'text/plain' });
      expect(await store.list({ limit: 5 })).toEqual({ items: [info] });
    });

    it('resumes a listing after its cursor key was deleted', async () => {
      // Proves the cursor is a position in key order, not a pointer to a live blob.
      for (const key of ['k1', 'k2', 'k3', 'k4']) await store.put(key, Buffer.from(key));
      const first = await store.list({ limit: 2 });
      await store.delete('k2');
      const second = await store.list({ limit: 2, cursor: first.nextCursor });
      expect(second.items.map((item) => item.key)).toEqual(['k3', 'k4']);
    });

    it('rejects a cursor it did not issue', async () => {
      // Proves cursors are checked: garbage becomes a typed 400, never a crash or a path.
      await expect(store.list({ cursor: '..%2F..%2Fetc' })).rejects.toMatchObject({
        code: 'BLOB_ERR_INVALID_CURSOR',
        status: 400,
      });
    });

    it.each(HOSTILE_KEYS)(
      'rejects a hostile key (%s) with a typed 400 on every operation',
      async (_name, key) => {
        // Proves key validation guards put, get, stat and delete alike, before any I/O.
        const invalid = { code: 'BLOB_ERR_INVALID_KEY', status: 400 };
        await expect(store.put(key, Buffer.from('x'))).rejects.toMatchObject(invalid);
        await expect(store.get(key)).rejects.toMatchObject(invalid);
        await expect(store.stat(key)).rejects.toMatchObject(invalid);
        await expect(store.delete(key)).rejects.toMatchObject(invalid);
        expect((await store.list()).items).toEqual([]);
      },
    );

    it('accepts keys at the edges of the grammar', async () => {
      // Proves the grammar is not over-strict: dot-files, dots inside names, 1024-byte keys.
      const longest = `${'s'.repeat(199)}/`.repeat(5) + 'x'.repeat(MAX_KEY_BYTES - 1000);
      const keys = ['.hidden', 'a..b', '...', 'a/.b/c', 'UPPER_lower-09.x', longest];
      for (const key of keys) await store.put(key, Buffer.from(key));
      expect(longest.length).toBe(MAX_KEY_BYTES);
      for (const key of keys) expect((await contentOf(store, key))?.toString()).toBe(key);
    });

    it('rejects a content type that could break a response header', async () => {
      // Proves content types are printable ASCII: a CR/LF injection attempt is a typed 400.
      await expect(
        store.put('ct', Buffer.from('x'), { contentType: 'text/plain\r\nx-evil: 1' }),
      ).rejects.toMatchObject({
        code: 'BLOB_ERR_INVALID_CONTENT_TYPE',
      });
      expect(await store.stat('ct')).toBeUndefined();
    });

    it('aborts a streamed put over maxBytes with a 413 and leaves no trace, not even over an old blob', async () => {
      // Proves the limit is enforced while streaming: the new key never appears and an existing
      // blob under the same key keeps its old content.
      await store.put('limited', Buffer.from('old content'));
      const tooBig = randomBytes(3000);
      const tooLarge = { code: 'BLOB_ERR_TOO_LARGE', status: 413 };
      await expect(store.put('limited', streamOf(tooBig, 1000), { maxBytes: 2500 })).rejects.toMatchObject(
        tooLarge,
      );
      await expect(store.put('fresh', streamOf(tooBig, 1000), { maxBytes: 2500 })).rejects.toMatchObject(
        tooLarge,
      );
      await expect(store.put('fresh', tooBig, { maxBytes: 2999 })).rejects.toMatchObject(tooLarge);
      expect((await contentOf(store, 'limited'))?.toString()).toBe('old content');
      expect(await store.stat('fresh')).toBeUndefined();
      expect((await store.list()).items.map((item) => item.key)).toEqual(['limited']);
      expect((await store.put('fresh', streamOf(tooBig, 1000), { maxBytes: 3000 })).size).toBe(3000);
    });

    it('keeps the old blob when the body stream fails midway', async () => {
      // Proves a failed upload (a client disconnect) publishes nothing: the error surfaces and the
      // previous content stays readable.
      await store.put('interrupted', Buffer.from('old content'));
      const failing = Readable.from(
        (async function* () {
          yield Buffer.from('partial new content');
          await nextTurn();
          throw new Error('client went away');
        })(),
        { objectMode: false },
      );
      await expect(store.put('interrupted', failing)).rejects.toThrow('client went away');
      expect((await contentOf(store, 'interrupted'))?.toString()).toBe('old content');
    });

    it('serves inclusive byte ranges, clamps the end, and refuses a range past the end with 416', async () => {
      // Proves range reads: start-end inclusive, open-ended, end clamped, unsatisfiable typed.
      const content = Buffer.from([...Array(100).keys()]);
      await store.put('ranged', content);
      const middle = await store.get('ranged', { range: { start: 10, end: 19 } });
      expect(middle?.range).toEqual({ start: 10, end: 19 });
      expect(await readAll(middle!.body)).toEqual(content.subarray(10, 20));
      const tail = await store.get('ranged', { range: { start: 90 } });
      expect(await readAll(tail!.body)).toEqual(content.subarray(90));
      const clamped = await store.get('ranged', { range: { start: 95, end: 500 } });
      expect(clamped?.range).toEqual({ start: 95, end: 99 });
      expect(await readAll(clamped!.body)).toEqual(content.subarray(95));
      const single = await store.get('ranged', { range: { start: 0, end: 0 } });
      expect(await readAll(single!.body)).toEqual(content.subarray(0, 1));
      const unsatisfiable = { code: 'BLOB_ERR_RANGE_NOT_SATISFIABLE', status: 416 };
      await expect(store.get('ranged', { range: { start: 100 } })).rejects.toMatchObject(unsatisfiable);
      await expect(store.get('ranged', { range: { start: 20, end: 10 } })).rejects.toMatchObject(
        unsatisfiable,
      );
      await store.put('empty', new Uint8Array(0));
      await expect(store.get('empty', { range: { start: 0 } })).rejects.toMatchObject(unsatisfiable);
    });

    it('keeps serving the content a reader started with while the key is overwritten', async () => {
      // Proves reads are snapshots: a get opened before an overwrite reads the old blob whole.
      const old = randomBytes(256 * 1024);
      await store.put('snap', old);
      const reading = await store.get('snap');
      await store.put('snap', randomBytes(1000));
      expect((await readAll(reading!.body)).equals(old)).toBe(true);
      expect(reading?.info.etag).toBe(sha256(old));
    });

    it('ends 50 concurrent streamed puts to one key with one complete blob whose etag matches', async () => {
      // Proves last-writer-wins without tearing: 50 distinct bodies stream in interleaved; the
      // survivor equals exactly one of them and its stored etag is the hash of what is read.
      const bodies = Array.from({ length: 50 }, (_, index) => randomBytes(20_000 + index * 997));
      const results = await Promise.all(bodies.map((body) => store.put('contended', streamOf(body, 4096))));
      const read = await store.get('contended');
      const content = await readAll(read!.body);
      expect(read?.info.etag).toBe(sha256(content));
      expect(read?.info.size).toBe(content.byteLength);
      expect(bodies.filter((body) => body.equals(content))).toHaveLength(1);
      expect(results.map((result) => result.etag)).toContain(read?.info.etag);
      expect((await store.list()).items.map((item) => item.key)).toEqual(['contended']);
    });

    it('answers ping while open and refuses work once closed', async () => {
      // Proves the lifecycle: ping resolves on a live store; after close, calls fail loudly.
      await store.ping();
      await store.close();
      await expect(store.ping()).rejects.toThrow(/closed/);
      await expect(store.put('after', Buffer.from('x'))).rejects.toThrow(/closed/);
      store = await open();
    });
  });
}
