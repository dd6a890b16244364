import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';

/** What a target saw: every byte it received, across all its connections. */
export interface Target {
  port: number;
  received: () => string;
  openSockets: () => number;
}

/** A server on 127.0.0.1 that echoes every chunk and may greet each connection first. */
export async function startEchoTarget(options: { greeting?: string } = {}): Promise<Target> {
  let received = '';
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (options.greeting !== undefined) socket.write(options.greeting);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      socket.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('echo target has no port');
  return { port: address.port, received: () => received, openSockets: () => sockets.size };
}
