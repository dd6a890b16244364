/**
 * What a user might run instead of a kv-store node: a Fastify app storing raw values in LevelDB
 * (`classic-level`), with the node's paths and statuses (PUT 204, GET 200 or 404). Started in its own
 * process by the peer bench, on the directory in PEERS_KV_LEVEL_DIR, each PUT synced when
 * PEERS_KV_LEVEL_SYNC is `true` (as the node's fsync `always`).
 */
import { ClassicLevel } from 'classic-level';
import Fastify from 'fastify';
import type { BenchTarget } from '../../target.js';

const MAX_VALUE_BYTES = 1024 * 1024;

export async function createLevelKvTarget(): Promise<BenchTarget> {
  const dir = process.env.PEERS_KV_LEVEL_DIR;
  if (dir === undefined) throw new Error('set PEERS_KV_LEVEL_DIR (the peer bench does)');
  const sync = process.env.PEERS_KV_LEVEL_SYNC === 'true';
  const db = new ClassicLevel<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  const app = Fastify({ logger: false, bodyLimit: MAX_VALUE_BYTES });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.put<{ Params: { key: string }; Body: Buffer }>('/v1/kv/:key', async (request, reply) => {
    await db.put(request.params.key, request.body, { sync });
    return reply.code(204).send();
  });
  app.get<{ Params: { key: string } }>('/v1/kv/:key', async (request, reply) => {
    const value = await db.get(request.params.key);
    if (value === undefined) return reply.code(404).send({ error: 'not found' });
    return reply.type('application/octet-stream').send(value);
  });
  return { app, close: () => db.close() };
}
