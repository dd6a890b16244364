import { afterEach, describe, expect, it } from 'vitest';
import { authHeaders, createGroup, type Deployment, deployment, TestClient } from './helpers.js';

let current: Deployment | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await current?.close();
  current = undefined;
});

async function connect(url: string, userId: string, device?: string): Promise<TestClient> {
  const client = await TestClient.connect(url, userId, device);
  clients.push(client);
  return client;
}

describe('chat over one instance', () => {
  it('delivers a sent message to every member in sequence order and acks the sender', async () => {
    // Proves the basic path: send -> ack with seq -> deliver to members (the sender included).
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    for (let index = 1; index <= 20; index += 1) {
      const ack = await alice.sendMessage(channelId, `m-${index}`, `hello ${index}`);
      expect(ack).toMatchObject({ type: 'ack', seq: index, duplicate: false });
    }
    expect(await bob.waitDelivered(channelId, 20)).toEqual(
      Array.from({ length: 20 }, (_, index) => index + 1),
    );
    expect(await alice.waitDelivered(channelId, 20)).toHaveLength(20);
  });

  it('stores a resend with the same client message id once and acks it with the first sequence', async () => {
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const alice = await connect(url, 'alice');
    const first = await alice.sendMessage(channelId, 'same-id', 'hi');
    alice.frames.length = 0;
    const again = await alice.sendMessage(channelId, 'same-id', 'hi');
    expect(again).toMatchObject({ seq: first.seq, id: first.id, duplicate: true });
    const page = await app.inject({
      url: `/v1/channels/${channelId}/messages`,
      headers: await authHeaders('alice'),
    });
    expect(page.json().messages).toHaveLength(1);
  });

  it('resumes after a disconnect with exactly the missed messages, in order', async () => {
    // Bob acks 5, disconnects, 10 more are sent; his resume (from the device cursor) yields 6..15.
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const alice = await connect(url, 'alice');
    let bob = await connect(url, 'bob', 'phone');
    for (let index = 1; index <= 5; index += 1) await alice.sendMessage(channelId, `a-${index}`, `${index}`);
    await bob.waitDelivered(channelId, 5);
    bob.send({ type: 'ack', channelId, seq: 5 });
    bob.send({ type: 'ping' });
    await bob.next((frame) => frame.type === 'pong');
    await bob.close();
    for (let index = 6; index <= 15; index += 1) await alice.sendMessage(channelId, `a-${index}`, `${index}`);
    bob = await connect(url, 'bob', 'phone');
    const hello = bob.frames[0];
    expect(hello).toMatchObject({ type: 'hello', channels: [{ channelId, lastSeq: 15, ackedSeq: 5 }] });
    bob.send({ type: 'resume', channelId });
    await bob.next((frame) => frame.type === 'resumed');
    expect(bob.delivered(channelId)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('keeps the highest of out-of-order acks as the device cursor', async () => {
    // Acks 5, then 3, then 9 (beyond what was sent): the cursor is 5, then 5, then clamped to 6.
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob', 'tablet');
    for (let index = 1; index <= 6; index += 1) await alice.sendMessage(channelId, `o${index}`, 'x');
    await bob.waitDelivered(channelId, 6);
    for (const seq of [5, 3, 9]) bob.send({ type: 'ack', channelId, seq });
    bob.send({ type: 'ping' });
    await bob.next((frame) => frame.type === 'pong');
    await bob.close();
    const again = await connect(url, 'bob', 'tablet');
    expect(again.frames[0]).toMatchObject({ type: 'hello', channels: [{ channelId, ackedSeq: 6 }] });
  });

  it('answers hostile frames with error frames and keeps serving', async () => {
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const other = await createGroup(app, 'carol', ['dave']);
    const alice = await connect(url, 'alice');
    const cases: [unknown, string][] = [
      ['not json', 'CHAT_ERR_MALFORMED_FRAME'],
      ['[]', 'CHAT_ERR_INVALID_FRAME'],
      ['null', 'CHAT_ERR_INVALID_FRAME'],
      [{ type: 'nope' }, 'CHAT_ERR_INVALID_FRAME'],
      [{ type: 'send', channelId, clientMsgId: 'x', body: 'hi', extra: 1 }, 'CHAT_ERR_INVALID_FRAME'],
      [{ type: 'send', channelId, clientMsgId: 'has space', body: 'hi' }, 'CHAT_ERR_INVALID_FRAME'],
      [{ type: 'send', channelId, clientMsgId: 'y', body: '' }, 'CHAT_ERR_INVALID_FRAME'],
      [{ type: 'send', channelId, clientMsgId: 'z', body: 'x'.repeat(5_000) }, 'CHAT_ERR_MESSAGE_TOO_LARGE'],
      [{ type: 'send', channelId, clientMsgId: 'w', body: 'bad \ud800' }, 'CHAT_ERR_INVALID_TEXT'],
      [{ type: 'send', channelId: other, clientMsgId: 'v', body: 'hi' }, 'CHAT_ERR_CHANNEL_NOT_FOUND'],
      [{ type: 'resume', channelId: other }, 'CHAT_ERR_CHANNEL_NOT_FOUND'],
      [{ type: 'ack', channelId, seq: -1 }, 'CHAT_ERR_INVALID_FRAME'],
      [{ type: 'read', channelId, seq: 1.5 }, 'CHAT_ERR_INVALID_FRAME'],
      [{ type: 'edit', channelId: other, seq: 1, body: 'x' }, 'CHAT_ERR_CHANNEL_NOT_FOUND'],
      [{ type: 'delete', channelId, seq: 99 }, 'CHAT_ERR_MESSAGE_NOT_FOUND'],
      [
        { type: 'presence.subscribe', userIds: Array.from({ length: 300 }, (_, i) => `u${i}`) },
        'CHAT_ERR_TOO_MANY_SUBSCRIPTIONS',
      ],
    ];
    for (const [frame, code] of cases) {
      const from = alice.frames.length;
      alice.send(frame);
      const error = await alice.next((received) => received.type === 'error', { from });
      expect(error, JSON.stringify(frame).slice(0, 80)).toMatchObject({ code });
    }
    const from = alice.frames.length;
    alice.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await alice.next((frame) => frame.type === 'error', { from })).toMatchObject({
      code: 'CHAT_ERR_BINARY_FRAME',
    });
    expect(await alice.sendMessage(channelId, 'after', 'still here')).toMatchObject({ type: 'ack', seq: 1 });
  });

  it('closes a socket that sends a frame above the size bound with 1009, and others keep working', async () => {
    current = deployment();
    const { app, url } = await current.start({ FRAME_BYTES_MAX: '2048' });
    const channelId = await createGroup(app, 'alice', ['bob']);
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    alice.send('x'.repeat(4_096));
    await expect(alice.next(() => false, { timeoutMs: 5_000 })).rejects.toThrow(/closed \(1009\)/);
    expect(await bob.sendMessage(channelId, 'b1', 'fine')).toMatchObject({ type: 'ack', seq: 1 });
  });

  it('answers frames over the rate with error frames, then closes with 4003', async () => {
    // A burst of 200 pings against 5 frames/s: 5 pass, the rest are refused until the 21st refusal in a row closes.
    current = deployment();
    const { url } = await current.start({ FRAMES_PER_SECOND: '5' });
    const alice = await connect(url, 'alice');
    for (let index = 0; index < 200; index += 1) alice.send({ type: 'ping' });
    await expect(alice.next(() => false, { timeoutMs: 10_000 })).rejects.toThrow(/closed \(4003\)/);
    const refused = alice.frames.filter(
      (frame) => frame.type === 'error' && frame.code === 'CHAT_ERR_FRAME_RATE',
    );
    expect(refused.length).toBeGreaterThan(0);
  });

  it('drops a slow consumer with 4008 instead of buffering for it without bound', async () => {
    // Bob stops reading; 100 messages of 60 KiB (6 MB) pass any loopback buffering and the 16 KiB bound.
    current = deployment({ env: { MESSAGE_BYTES_MAX: '65536', SOCKET_BUFFER_BYTES_MAX: '16384' } });
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const bob = await connect(url, 'bob');
    const raw = (bob.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    const headers = await authHeaders('alice');
    for (let index = 0; index < 100; index += 1) {
      await app.inject({
        method: 'POST',
        url: `/v1/channels/${channelId}/messages`,
        headers,
        payload: { clientMsgId: `big${index}`, body: 'x'.repeat(60_000) },
      });
    }
    raw.resume();
    await expect(bob.next(() => false, { timeoutMs: 15_000 })).rejects.toThrow(
      /closed \(400[8]\)|closed \(1006\)/,
    );
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(/chat_server_closes_total\{[^}]*code="4008"[^}]*\} 1/);
  });

  it('refuses the handshake without a valid token, before any socket exists', async () => {
    current = deployment();
    const { app } = await current.start();
    const response = await app.inject({
      url: '/v1/socket',
      headers: { connection: 'upgrade', upgrade: 'websocket', authorization: 'Bearer nope' },
    });
    expect(response.statusCode).toBe(401);
    const plain = await app.inject({ url: '/v1/socket' });
    expect(plain.statusCode).toBe(401);
  });
});
