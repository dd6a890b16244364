import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';

/**
 * The baseline: bare Fastify with @fastify/websocket and the same JSON frames, relaying each
 * `send` to the sockets of its channel from memory. No auth, no storage, no sequence, no
 * fan-out between instances: what a socket relay costs before the design's promises.
 */
export async function startBaseline(): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false });
  await app.register(websocket);
  const channels = new Map<string, Set<WebSocket>>();
  let seq = 0;
  app.get('/v1/socket', { websocket: true }, (socket, request) => {
    const joined = String((request.query as Record<string, string>).channels ?? '').split(',');
    for (const channelId of joined) {
      let set = channels.get(channelId);
      if (!set) {
        set = new Set();
        channels.set(channelId, set);
      }
      set.add(socket);
    }
    socket.send(JSON.stringify({ type: 'hello' }));
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { channelId: string; clientMsgId: string; body: string };
      seq += 1;
      socket.send(JSON.stringify({ type: 'ack', clientMsgId: frame.clientMsgId, seq }));
      const deliver = JSON.stringify({
        type: 'deliver',
        message: { channelId: frame.channelId, seq, clientMsgId: frame.clientMsgId, body: frame.body },
      });
      for (const member of channels.get(frame.channelId) ?? []) member.send(deliver);
    });
    socket.on('close', () => {
      for (const channelId of joined) channels.get(channelId)?.delete(socket);
    });
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: address.replace(/^http/, 'ws') };
}
