import { TokenAuthority } from '@sysdesign/platform';
import WebSocket from 'ws';

/**
 * A separate process that holds idle sockets open against the chat: `idle-clients.ts <url>
 * <count> <secret>`. It prints `open <n>` once every socket has its hello, then waits for any
 * line on stdin before closing them all and printing `closed`.
 */
const [url, countText, secret] = process.argv.slice(2);
if (!url || !countText || !secret) throw new Error('usage: idle-clients.ts <ws-url> <count> <secret>');
const count = Number(countText);
const CONCURRENCY = 200;
const authority = new TokenAuthority({ secret });
const sockets: WebSocket[] = [];

async function open(index: number): Promise<void> {
  const token = await authority.issue(`idle${index}`, { ttlSeconds: 3_600 });
  const socket = new WebSocket(`${url}/v1/socket`, ['chat.v1'], {
    headers: { authorization: `Bearer ${token}` },
  });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('message', () => resolve());
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`closed ${code}`)));
  });
}

let next = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      const index = next;
      next += 1;
      await open(index);
    }
  }),
);
process.stdout.write(`open ${sockets.length}\n`);
process.stdin.once('data', () => {
  for (const socket of sockets) socket.terminate();
  process.stdout.write('closed\n');
  process.exit(0);
});
