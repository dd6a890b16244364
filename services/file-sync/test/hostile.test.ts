import {
  describeWith,
  expectForgedRequestIdHandled,
  expectProblem,
  FORGED_REQUEST_IDS,
  postgresBackend,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BLOCK_BYTES } from '../src/domain/chunker.js';
import { bearer, blockOf, openService, putContent, randomBytesOf, type TestService } from './helpers.js';

const HASH = 'a'.repeat(64);

/** Every endpoint with a body or a query, as one valid request; the cases below break one field at a time. */
describeWith(await postgresBackend(), 'file-sync hostile input', ({ url }) => {
  let service: TestService;
  let auth: Record<string, string>;
  beforeAll(async () => {
    service = await openService(url, {
      MAX_FILE_BYTES: String(2 * 1024 * 1024),
      QUOTA_BYTES_PER_USER: String(4 * 1024 * 1024),
    });
    auth = await bearer('mallory');
  });
  afterAll(async () => service.close());
  const app = () => service.app;

  describe('authentication', () => {
    it.each([
      ['GET', '/v1/files'],
      ['GET', '/v1/content?path=a'],
      ['PUT', `/v1/blocks/${HASH}`],
      ['POST', '/v1/commit'],
      ['GET', '/v1/changes?cursor=0'],
      ['GET', '/v1/conflicts'],
      ['POST', '/v1/admin/gc'],
    ] as const)('%s %s without a token is 401, with a forged one too', async (method, path) => {
      await expectProblem(app(), { method, url: path }, 401, 'ERR_UNAUTHORIZED');
      const forged = `${(await bearer('mallory')).authorization!.slice(0, -4)}AAAA`;
      await expectProblem(
        app(),
        { method, url: path, headers: { authorization: forged } },
        401,
        'ERR_UNAUTHORIZED',
      );
    });
  });

  describe('paths', () => {
    it.each([
      '../../etc/passwd',
      'a/../../b',
      'a//b',
      'C:\\windows\\system32',
      'CON',
      'ok/aux.txt',
      'tab\there',
      'dot.',
      'x'.repeat(300),
      `${'d/'.repeat(40)}f`,
    ])('refuses %j on upload, download, delete, revisions and restore', async (path) => {
      const query = new URLSearchParams({ path });
      await expectProblem(
        app(),
        {
          method: 'PUT',
          url: `/v1/content?${query}`,
          headers: { ...auth, 'content-type': 'application/octet-stream' },
          payload: 'x',
        },
        400,
        'FILESYNC_ERR_INVALID_PATH',
      );
      await expectProblem(
        app(),
        { url: `/v1/content?${query}`, headers: auth },
        400,
        'FILESYNC_ERR_INVALID_PATH',
      );
      await expectProblem(
        app(),
        { method: 'DELETE', url: `/v1/files?${query}`, headers: auth },
        400,
        'FILESYNC_ERR_INVALID_PATH',
      );
      await expectProblem(
        app(),
        { url: `/v1/revisions?${query}`, headers: auth },
        400,
        'FILESYNC_ERR_INVALID_PATH',
      );
      await expectProblem(
        app(),
        {
          method: 'POST',
          url: '/v1/commit',
          headers: auth,
          payload: { path, parentRevision: null, blocks: [] },
        },
        400,
        'FILESYNC_ERR_INVALID_PATH',
      );
    });
  });

  it('refuses a path of malformed Unicode (a lone surrogate) in a JSON body', async () => {
    await expectProblem(
      app(),
      {
        method: 'POST',
        url: '/v1/commit',
        headers: { ...auth, 'content-type': 'application/json' },
        payload: '{"path":"bad\\ud83d.txt","parentRevision":null,"blocks":[]}',
      },
      400,
      'FILESYNC_ERR_INVALID_PATH',
    );
  });

  describe('commit bodies', () => {
    const valid = { path: 'f.txt', parentRevision: null, blocks: [], device: 'laptop' };
    it.each([
      ['path missing', { ...valid, path: undefined }, 'path'],
      ['path a number', { ...valid, path: 7 }, 'path'],
      ['path huge', { ...valid, path: 'p'.repeat(10_000) }, 'path'],
      ['parentRevision missing', { ...valid, parentRevision: undefined }, 'parentRevision'],
      ['parentRevision not an id', { ...valid, parentRevision: '1; drop table files' }, 'parentRevision'],
      ['parentRevision 0', { ...valid, parentRevision: '0' }, 'parentRevision'],
      ['blocks not a list', { ...valid, blocks: 'all' }, 'blocks'],
      ['a hash in upper case', { ...valid, blocks: [{ hash: HASH.toUpperCase(), size: 1 }] }, 'blocks'],
      ['a hash too short', { ...valid, blocks: [{ hash: 'abc', size: 1 }] }, 'blocks'],
      ['a size negative', { ...valid, blocks: [{ hash: HASH, size: -1 }] }, 'blocks'],
      [
        'a size above the block limit',
        { ...valid, blocks: [{ hash: HASH, size: MAX_BLOCK_BYTES + 1 }] },
        'blocks',
      ],
      ['a size fractional', { ...valid, blocks: [{ hash: HASH, size: 1.5 }] }, 'blocks'],
      [
        'a block with an extra field',
        { ...valid, blocks: [{ hash: HASH, size: 1, owner: 'root' }] },
        'blocks',
      ],
      ['device with a newline', { ...valid, device: 'evil\nlog' }, 'device'],
      ['device huge', { ...valid, device: 'd'.repeat(500) }, 'device'],
      ['an unknown field', { ...valid, admin: true }, 'admin'],
    ])('refuses %s', async (_name, payload, field) => {
      await expectProblem(
        app(),
        { method: 'POST', url: '/v1/commit', headers: auth, payload },
        400,
        'ERR_VALIDATION',
        field,
      );
    });

    it('refuses a commit naming blocks nobody uploaded, listing them', async () => {
      const body = await expectProblem(
        app(),
        {
          method: 'POST',
          url: '/v1/commit',
          headers: auth,
          payload: { ...valid, blocks: [{ hash: HASH, size: 10 }] },
        },
        409,
        'FILESYNC_ERR_UNKNOWN_BLOCKS',
      );
      expect(body.missing).toEqual([HASH]);
    });

    it('refuses a commit that lies about a block size', async () => {
      const bytes = randomBytesOf(100, 1);
      const block = blockOf(bytes);
      await app().inject({ method: 'PUT', url: `/v1/blocks/${block.hash}`, headers: auth, payload: bytes });
      await expectProblem(
        app(),
        {
          method: 'POST',
          url: '/v1/commit',
          headers: auth,
          payload: { ...valid, blocks: [{ hash: block.hash, size: 99 }] },
        },
        400,
        'FILESYNC_ERR_BLOCK_SIZE_MISMATCH',
      );
    });

    it('refuses a malformed JSON body and a body that is not JSON', async () => {
      await expectProblem(
        app(),
        {
          method: 'POST',
          url: '/v1/commit',
          headers: { ...auth, 'content-type': 'application/json' },
          payload: '{"path":',
        },
        400,
        'ERR_MALFORMED_BODY',
      );
      await expectProblem(
        app(),
        {
          method: 'POST',
          url: '/v1/commit',
          headers: { ...auth, 'content-type': 'text/plain' },
          payload: 'path=x',
        },
        400,
        'ERR_VALIDATION',
      );
    });
  });

  describe('blocks and bodies', () => {
    it('refuses a forged hash, a malformed hash, and a block over the limit', async () => {
      await expectProblem(
        app(),
        { method: 'PUT', url: `/v1/blocks/${HASH}`, headers: auth, payload: 'not these bytes' },
        400,
        'FILESYNC_ERR_HASH_MISMATCH',
      );
      await expectProblem(
        app(),
        { method: 'PUT', url: '/v1/blocks/..%2F..%2Fetc', headers: auth, payload: 'x' },
        400,
        'ERR_VALIDATION',
      );
      const huge = Buffer.alloc(MAX_BLOCK_BYTES + 10, 1);
      const response = await app().inject({
        method: 'PUT',
        url: `/v1/blocks/${blockOf(huge).hash}`,
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        payload: huge,
      });
      expect(response.statusCode).toBe(413);
      expect(response.json().code).toBe('FILESYNC_ERR_BLOCK_TOO_LARGE');
    });

    it('refuses a whole file over MAX_FILE_BYTES and leaves no file behind', async () => {
      const response = await putContent(app(), auth, 'too-big.bin', randomBytesOf(3 * 1024 * 1024, 2));
      expect(response.statusCode).toBe(413);
      expect(response.json().code).toBe('FILESYNC_ERR_FILE_TOO_LARGE');
      await expectProblem(
        app(),
        { url: '/v1/content?path=too-big.bin', headers: auth },
        404,
        'FILESYNC_ERR_NOT_FOUND',
      );
    });

    it('refuses uploads past the quota with 507', async () => {
      const quotaUser = await bearer('quota-user');
      for (let index = 0; index < 2; index++) {
        const ok = await putContent(
          app(),
          quotaUser,
          `fill-${index}.bin`,
          randomBytesOf(1_900_000, 10 + index),
        );
        expect(ok.statusCode).toBe(200);
      }
      const over = await putContent(app(), quotaUser, 'over.bin', randomBytesOf(1_000_000, 20));
      expect(over.statusCode).toBe(507);
      expect(over.json().code).toBe('FILESYNC_ERR_QUOTA_EXCEEDED');
    });

    it('answers a missing-blocks question over the limit or with bad hashes as 400', async () => {
      await expectProblem(
        app(),
        {
          method: 'POST',
          url: '/v1/blocks/missing',
          headers: auth,
          payload: { hashes: Array.from({ length: 10_001 }, () => HASH) },
        },
        400,
        'ERR_VALIDATION',
      );
      await expectProblem(
        app(),
        { method: 'POST', url: '/v1/blocks/missing', headers: auth, payload: { hashes: ['zz'] } },
        400,
        'ERR_VALIDATION',
      );
    });
  });

  describe('queries', () => {
    it.each([
      '/v1/changes?cursor=-1',
      '/v1/changes?cursor=abc',
      '/v1/changes?cursor=0&limit=0',
      '/v1/changes?cursor=0&limit=999999',
      '/v1/changes/longpoll?cursor=0&timeoutSeconds=100000',
      '/v1/files?limit=-5',
      '/v1/conflicts?cursor=x',
      '/v1/content?path=a&revision=abc',
      '/v1/content?path=a&unknown=1',
    ])('refuses %s with a problem', async (path) => {
      await expectProblem(app(), { url: path, headers: auth }, 400, 'ERR_VALIDATION');
    });

    it('refuses a list cursor it did not issue', async () => {
      await expectProblem(
        app(),
        { url: '/v1/files?cursor=%25%25%25', headers: auth },
        400,
        'FILESYNC_ERR_INVALID_CURSOR',
      );
    });

    it('serves a malformed Range header as the whole file, and an unsatisfiable one as 416', async () => {
      await putContent(app(), auth, 'ranged.txt', Buffer.from('0123456789'));
      for (const range of ['bytes=abc', 'bytes=1-2,4-5', 'items=0-1', 'bytes=-']) {
        const response = await app().inject({
          url: '/v1/content?path=ranged.txt',
          headers: { ...auth, range },
        });
        expect(response.statusCode).toBe(200);
        expect(response.body).toBe('0123456789');
      }
      await expectProblem(
        app(),
        { url: '/v1/content?path=ranged.txt', headers: { ...auth, range: 'bytes=5-2' } },
        416,
        'BLOB_ERR_RANGE_NOT_SATISFIABLE',
      );
    });
  });

  describe("another user's files", () => {
    it('are invisible: no read, no revision, no delete, no restore, no conflict resolution', async () => {
      const owner = await bearer('owner');
      const put = await putContent(app(), owner, 'private.txt', Buffer.from('mine'));
      const revision = put.json().revision.id;
      await expectProblem(
        app(),
        { url: '/v1/content?path=private.txt', headers: auth },
        404,
        'FILESYNC_ERR_NOT_FOUND',
      );
      await expectProblem(
        app(),
        { url: `/v1/content?path=private.txt&revision=${revision}`, headers: auth },
        404,
        'FILESYNC_ERR_NOT_FOUND',
      );
      await expectProblem(
        app(),
        { url: '/v1/revisions?path=private.txt', headers: auth },
        404,
        'FILESYNC_ERR_NOT_FOUND',
      );
      await expectProblem(
        app(),
        { method: 'DELETE', url: '/v1/files?path=private.txt', headers: auth },
        404,
        'FILESYNC_ERR_NOT_FOUND',
      );
      await expectProblem(
        app(),
        { method: 'POST', url: '/v1/restore', headers: auth, payload: { path: 'private.txt', revision } },
        404,
        'FILESYNC_ERR_NOT_FOUND',
      );
      await expectProblem(
        app(),
        { method: 'POST', url: '/v1/conflicts/1/resolve', headers: auth },
        404,
        'FILESYNC_ERR_CONFLICT_NOT_FOUND',
      );
      const listed = await app().inject({ url: '/v1/files', headers: auth });
      expect(listed.json().files.map((file: { path: string }) => file.path)).not.toContain('private.txt');
    });
  });

  it.each(FORGED_REQUEST_IDS)('handles a forged request id (%s)', async (_name, requestId) => {
    await expectForgedRequestIdHandled(app(), { url: '/v1/files', headers: auth }, requestId);
  });
});
