import { describeWith, postgresBackend } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunk } from '../src/domain/chunker.js';
import {
  adminBearer,
  bearer,
  blockOf,
  getContent,
  openService,
  putContent,
  randomBytesOf,
  type TestService,
} from './helpers.js';

describeWith(await postgresBackend(), 'file-sync API', ({ url }) => {
  let service: TestService;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  beforeAll(async () => {
    service = await openService(url);
    alice = await bearer('alice');
    bob = await bearer('bob');
  });
  afterAll(async () => service.close());

  describe('upload and download', () => {
    it('stores a whole file and serves it back byte for byte, whole and by range', async () => {
      const content = randomBytesOf(200_000, 1);
      const put = await putContent(service.app, alice, 'docs/report.bin', content);
      expect(put.statusCode).toBe(200);
      expect(put.json()).toMatchObject({
        path: 'docs/report.bin',
        replayed: false,
        revision: { size: 200_000 },
      });
      const whole = await getContent(service.app, alice, 'docs/report.bin');
      expect(whole.statusCode).toBe(200);
      expect(whole.rawPayload.equals(content)).toBe(true);
      const ranged = await getContent(service.app, alice, 'docs/report.bin', { range: 'bytes=12345-99999' });
      expect(ranged.statusCode).toBe(206);
      expect(ranged.headers['content-range']).toBe('bytes 12345-99999/200000');
      expect(ranged.rawPayload.equals(content.subarray(12345, 100000))).toBe(true);
      const suffix = await getContent(service.app, alice, 'docs/report.bin', { range: 'bytes=-10' });
      expect(suffix.rawPayload.equals(content.subarray(199_990))).toBe(true);
      const beyond = await getContent(service.app, alice, 'docs/report.bin', { range: 'bytes=300000-' });
      expect(beyond.statusCode).toBe(416);
      expect(beyond.headers['content-range']).toBe('bytes */200000');
    });

    it('negotiates blocks: after a one-byte insertion only the blocks around it are missing', async () => {
      const original = randomBytesOf(400_000, 2);
      await putContent(service.app, alice, 'delta.bin', original);
      const edited = Buffer.concat([
        original.subarray(0, 200_000),
        Buffer.from('X'),
        original.subarray(200_000),
      ]);
      const blocks = chunk(edited, { strategy: 'fastcdc', avgBytes: 8192 }).map(blockOf);
      const asked = await service.app.inject({
        method: 'POST',
        url: '/v1/blocks/missing',
        headers: alice,
        payload: { hashes: blocks.map((block) => block.hash) },
      });
      const missing: string[] = asked.json().missing;
      expect(blocks.length).toBeGreaterThan(20);
      expect(missing.length).toBeGreaterThan(0);
      expect(missing.length).toBeLessThanOrEqual(3);
    });

    it('never lets another user read or reference a block they did not upload (dedupe saves disk, not proof)', async () => {
      const content = randomBytesOf(20_000, 3);
      await putContent(service.app, alice, 'secret.bin', content);
      const [block] = chunk(content, { strategy: 'fastcdc', avgBytes: 8192 }).map(blockOf);
      const read = await service.app.inject({
        method: 'GET',
        url: `/v1/blocks/${block!.hash}`,
        headers: bob,
      });
      expect(read.statusCode).toBe(404);
      const missing = await service.app.inject({
        method: 'POST',
        url: '/v1/blocks/missing',
        headers: bob,
        payload: { hashes: [block!.hash] },
      });
      expect(missing.json().missing).toEqual([block!.hash]);
      const commit = await service.app.inject({
        method: 'POST',
        url: '/v1/commit',
        headers: bob,
        payload: { path: 'stolen.bin', parentRevision: null, blocks: [block] },
      });
      expect(commit.statusCode).toBe(409);
      expect(commit.json().code).toBe('FILESYNC_ERR_UNKNOWN_BLOCKS');
      const other = await getContent(service.app, bob, 'secret.bin');
      expect(other.statusCode).toBe(404);
    });

    it('refuses a block whose bytes do not hash to its name', async () => {
      const bytes = randomBytesOf(1000, 4);
      const forged = blockOf(randomBytesOf(1000, 5)).hash;
      const response = await service.app.inject({
        method: 'PUT',
        url: `/v1/blocks/${forged}`,
        headers: { ...alice, 'content-type': 'application/octet-stream' },
        payload: bytes,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({
        code: 'FILESYNC_ERR_HASH_MISMATCH',
        actual: blockOf(bytes).hash,
      });
    });
  });

  describe('revisions and conflicts', () => {
    it('keeps both versions when two devices commit on the same parent: the loser becomes a listed conflicted copy', async () => {
      const first = await putContent(service.app, alice, 'notes.txt', Buffer.from('base'));
      const parent = first.json().revision.id;
      const laptop = await service.app.inject({
        method: 'PUT',
        url: `/v1/content?path=notes.txt&parent=${parent}&device=laptop`,
        headers: { ...alice, 'content-type': 'application/octet-stream' },
        payload: Buffer.from('laptop edit'),
      });
      const phone = await service.app.inject({
        method: 'PUT',
        url: `/v1/content?path=notes.txt&parent=${parent}&device=phone`,
        headers: { ...alice, 'content-type': 'application/octet-stream' },
        payload: Buffer.from('phone edit'),
      });
      expect(laptop.json().conflict).toBeUndefined();
      const conflict = phone.json().conflict;
      expect(conflict.path).toMatch(/^notes \(conflicted copy from phone \d{4}-\d{2}-\d{2}\)\.txt$/);
      expect((await getContent(service.app, alice, 'notes.txt')).body).toBe('laptop edit');
      expect((await getContent(service.app, alice, conflict.path)).body).toBe('phone edit');
      const listed = await service.app.inject({ url: '/v1/conflicts', headers: alice });
      expect(listed.json().conflicts).toEqual([
        expect.objectContaining({
          path: 'notes.txt',
          conflictPath: conflict.path,
          device: 'phone',
          baseRevision: parent,
        }),
      ]);
      const resolved = await service.app.inject({
        method: 'POST',
        url: `/v1/conflicts/${conflict.id}/resolve`,
        headers: alice,
      });
      expect(resolved.statusCode).toBe(200);
      expect((await service.app.inject({ url: '/v1/conflicts', headers: alice })).json().conflicts).toEqual(
        [],
      );
    });

    it('treats a retried commit as the same commit, not a conflict', async () => {
      const content = Buffer.from('retry me');
      await putContent(service.app, alice, 'retry.txt', content);
      const blocks = [blockOf(content)];
      const payload = { path: 'retry.txt', parentRevision: null, blocks, device: 'laptop' };
      const again = await service.app.inject({
        method: 'POST',
        url: '/v1/commit',
        headers: alice,
        payload: { ...payload, path: 'retry2.txt' },
      });
      const replay = await service.app.inject({
        method: 'POST',
        url: '/v1/commit',
        headers: alice,
        payload: { ...payload, path: 'retry2.txt' },
      });
      expect(again.json().replayed).toBe(false);
      expect(replay.json()).toMatchObject({
        replayed: true,
        path: 'retry2.txt',
        revision: { id: again.json().revision.id },
      });
    });

    it('lists revisions and restores an old one as a new head; a deleted file can be restored', async () => {
      const one = await putContent(service.app, alice, 'history.txt', Buffer.from('v1'));
      const two = await putContent(
        service.app,
        alice,
        'history.txt',
        Buffer.from('v2'),
        one.json().revision.id,
      );
      const listed = await service.app.inject({ url: '/v1/revisions?path=history.txt', headers: alice });
      expect(listed.json().revisions.map((revision: { id: string }) => revision.id)).toEqual([
        two.json().revision.id,
        one.json().revision.id,
      ]);
      const stale = await service.app.inject({
        method: 'DELETE',
        url: `/v1/files?path=history.txt&parent=${one.json().revision.id}`,
        headers: alice,
      });
      expect(stale.statusCode).toBe(409);
      const deleted = await service.app.inject({
        method: 'DELETE',
        url: '/v1/files?path=history.txt',
        headers: alice,
      });
      expect(deleted.statusCode).toBe(200);
      expect((await getContent(service.app, alice, 'history.txt')).statusCode).toBe(404);
      const restored = await service.app.inject({
        method: 'POST',
        url: '/v1/restore',
        headers: alice,
        payload: { path: 'history.txt', revision: one.json().revision.id },
      });
      expect(restored.statusCode).toBe(200);
      expect((await getContent(service.app, alice, 'history.txt')).body).toBe('v1');
    });

    it('treats é composed and decomposed as one file', async () => {
      await putContent(service.app, alice, 'caf\u00e9.txt', Buffer.from('composed'));
      const decomposed = await getContent(service.app, alice, 'cafe\u0301.txt');
      expect(decomposed.body).toBe('composed');
    });
  });

  describe('changes', () => {
    it('journals every change after a cursor and wakes a long poll on a commit', async () => {
      const carol = await bearer('carol');
      const latest = (await service.app.inject({ url: '/v1/changes/latest', headers: carol })).json().cursor;
      expect(latest).toBe('0');
      const poll = service.app.inject({
        url: '/v1/changes/longpoll?cursor=0&timeoutSeconds=30',
        headers: carol,
      });
      await putContent(service.app, carol, 'a.txt', Buffer.from('a'));
      expect((await poll).json()).toEqual({ changes: true });
      await service.app.inject({ method: 'DELETE', url: '/v1/files?path=a.txt', headers: carol });
      const changes = (await service.app.inject({ url: '/v1/changes?cursor=0', headers: carol })).json();
      expect(
        changes.entries.map((entry: { kind: string; path: string }) => `${entry.kind} ${entry.path}`),
      ).toEqual(['put a.txt', 'delete a.txt']);
      expect(changes.cursor).toBe('2');
      const timedOut = await service.app.inject({
        url: '/v1/changes/longpoll?cursor=2&timeoutSeconds=1',
        headers: carol,
      });
      expect(timedOut.json()).toEqual({ changes: false, backoffSeconds: 1 });
      const ahead = await service.app.inject({ url: '/v1/changes?cursor=99', headers: carol });
      expect(ahead.json().code).toBe('FILESYNC_ERR_INVALID_CURSOR');
    });
  });

  describe('garbage collection', () => {
    it('reclaims the blocks of purged tombstones and pruned revisions, and no referenced block', async () => {
      const dave = await bearer('dave');
      const admin = await adminBearer();
      const kept = randomBytesOf(50_000, 10);
      const dropped = randomBytesOf(50_000, 11);
      await putContent(service.app, dave, 'kept.bin', kept);
      await putContent(service.app, dave, 'dropped.bin', dropped);
      await service.app.inject({ method: 'DELETE', url: '/v1/files?path=dropped.bin', headers: dave });
      const early = (
        await service.app.inject({ method: 'POST', url: '/v1/admin/gc', headers: admin })
      ).json();
      expect(early.blocksFreed).toBe(0);
      service.clock.advance(31 * 24 * 3600 * 1000);
      const purge = (
        await service.app.inject({ method: 'POST', url: '/v1/admin/gc', headers: admin })
      ).json();
      expect(purge.filesPurged).toBeGreaterThanOrEqual(1);
      // Released blocks get their own grace period from the purge on.
      service.clock.advance(3601 * 1000);
      const report = (
        await service.app.inject({ method: 'POST', url: '/v1/admin/gc', headers: admin })
      ).json();
      const droppedBlocks = chunk(dropped, { strategy: 'fastcdc', avgBytes: 8192 }).length;
      expect(report.blocksFreed).toBeGreaterThanOrEqual(droppedBlocks);
      expect(report.bytesFreed).toBeGreaterThanOrEqual(50_000);
      expect((await getContent(service.app, dave, 'kept.bin')).rawPayload.equals(kept)).toBe(true);
      const notAdmin = await service.app.inject({ method: 'POST', url: '/v1/admin/gc', headers: dave });
      expect(notAdmin.statusCode).toBe(403);
    });
  });
});
