import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on `host`: the kernel's choice for port 0, released
 * before it is returned. Another process may take it in between, so a caller binds it at once.
 * For a server that must know its port before it listens (a cluster's seed list, a child process).
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close(() => reject(new Error(`no TCP port from listening on ${host}`)));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
