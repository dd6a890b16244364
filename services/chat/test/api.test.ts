import { waitFor } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { NotificationEvent } from '../src/chat.js';
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

describe('REST: channels, members, history', () => {
  it('opens one direct channel per pair, from either side', async () => {
    current = deployment();
    const { app } = await current.start();
    const first = await app.inject({
      method: 'POST',
      url: '/v1/channels',
      headers: await authHeaders('alice'),
      payload: { kind: 'direct', userId: 'bob' },
    });
    expect(first.statusCode).toBe(201);
    const second = await app.inject({
      method: 'POST',
      url: '/v1/channels',
      headers: await authHeaders('bob'),
      payload: { kind: 'direct', userId: 'alice' },
    });
    expect(second.statusCode).toBe(200);
    expect(second.json().id).toBe(first.json().id);
    const self = await app.inject({
      method: 'POST',
      url: '/v1/channels',
      headers: await authHeaders('alice'),
      payload: { kind: 'direct', userId: 'alice' },
    });
    expect(self.json().code).toBe('CHAT_ERR_DIRECT_CHANNEL');
  });

  it('bounds a group at GROUP_MEMBERS_MAX, also under concurrent joins', async () => {
    current = deployment({ env: { GROUP_MEMBERS_MAX: '5' } });
    const { app } = await current.start();
    const channelId = await createGroup(app, 'owner', ['m1']);
    const headers = await authHeaders('owner');
    const joins = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        app.inject({
          method: 'POST',
          url: `/v1/channels/${channelId}/members`,
          headers,
          payload: { userId: `joiner${index}` },
        }),
      ),
    );
    expect(joins.filter((response) => response.statusCode === 201)).toHaveLength(3);
    expect(joins.filter((response) => response.statusCode === 409)).toHaveLength(7);
    const info = await app.inject({ url: `/v1/channels/${channelId}`, headers });
    expect(info.json().members).toBe(5);
  });

  it('pages history backward and forward with cursors', async () => {
    current = deployment();
    const { app } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const headers = await authHeaders('alice');
    for (let index = 1; index <= 25; index += 1) {
      const sent = await app.inject({
        method: 'POST',
        url: `/v1/channels/${channelId}/messages`,
        headers,
        payload: { clientMsgId: `r${index}`, body: `message ${index}` },
      });
      expect(sent.statusCode).toBe(201);
    }
    const newest = await app.inject({ url: `/v1/channels/${channelId}/messages?limit=10`, headers });
    expect(newest.json().messages.map((message: { seq: number }) => message.seq)).toEqual([
      25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
    ]);
    expect(newest.json().next).toBe(16);
    const older = await app.inject({ url: `/v1/channels/${channelId}/messages?before=16&limit=10`, headers });
    expect(older.json().messages[0].seq).toBe(15);
    const after = await app.inject({ url: `/v1/channels/${channelId}/messages?after=20`, headers });
    expect(after.json().messages.map((message: { seq: number }) => message.seq)).toEqual([
      21, 22, 23, 24, 25,
    ]);
    expect(after.json().next).toBeNull();
    const stranger = await app.inject({
      url: `/v1/channels/${channelId}/messages`,
      headers: await authHeaders('mallory'),
    });
    expect(stranger.statusCode).toBe(404);
  });

  it('counts unread from the read pointer, which never moves back, and tells the channel', async () => {
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const alice = await connect(url, 'alice');
    for (let index = 1; index <= 6; index += 1) await alice.sendMessage(channelId, `u${index}`, 'x');
    const bob = await authHeaders('bob');
    const read = await app.inject({
      method: 'POST',
      url: `/v1/channels/${channelId}/read`,
      headers: bob,
      payload: { seq: 4 },
    });
    expect(read.json()).toEqual({ readSeq: 4 });
    await alice.next((frame) => frame.type === 'read' && frame.userId === 'bob' && frame.seq === 4);
    await app.inject({
      method: 'POST',
      url: `/v1/channels/${channelId}/read`,
      headers: bob,
      payload: { seq: 2 },
    });
    const list = await app.inject({ url: '/v1/channels', headers: bob });
    expect(list.json().channels[0]).toMatchObject({ id: channelId, lastSeq: 6, readSeq: 4, unread: 2 });
    const receipts = await app.inject({ url: `/v1/channels/${channelId}/members`, headers: bob });
    expect(receipts.json().members).toEqual([
      { userId: 'alice', readSeq: 0 },
      { userId: 'bob', readSeq: 4 },
    ]);
  });

  it('lets only the author edit or delete; members see the update in place', async () => {
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const bob = await connect(url, 'bob');
    const headers = await authHeaders('alice');
    await app.inject({
      method: 'POST',
      url: `/v1/channels/${channelId}/messages`,
      headers,
      payload: { clientMsgId: 'e1', body: 'tpyo' },
    });
    await bob.waitDelivered(channelId, 1);
    const notMine = await app.inject({
      method: 'PATCH',
      url: `/v1/channels/${channelId}/messages/1`,
      headers: await authHeaders('bob'),
      payload: { body: 'hacked' },
    });
    expect(notMine.json().code).toBe('CHAT_ERR_NOT_AUTHOR');
    const edited = await app.inject({
      method: 'PATCH',
      url: `/v1/channels/${channelId}/messages/1`,
      headers,
      payload: { body: 'typo' },
    });
    expect(edited.json()).toMatchObject({ seq: 1, body: 'typo' });
    expect(await bob.next((frame) => frame.type === 'update')).toMatchObject({
      message: { seq: 1, body: 'typo' },
    });
    const removed = await app.inject({
      method: 'DELETE',
      url: `/v1/channels/${channelId}/messages/1`,
      headers,
    });
    expect(removed.json()).toMatchObject({ seq: 1, body: null });
    const again = await app.inject({
      method: 'PATCH',
      url: `/v1/channels/${channelId}/messages/1`,
      headers,
      payload: { body: 'back' },
    });
    expect(again.json().code).toBe('CHAT_ERR_MESSAGE_DELETED');
  });

  it('limits messages per user and says when to retry', async () => {
    current = deployment({ env: { USER_MESSAGE_LIMIT: '3', USER_MESSAGE_WINDOW_MS: '60000' } });
    const { app } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const headers = await authHeaders('alice');
    const statuses: number[] = [];
    for (let index = 0; index < 5; index += 1) {
      const response = await app.inject({
        method: 'POST',
        url: `/v1/channels/${channelId}/messages`,
        headers,
        payload: { clientMsgId: `l${index}`, body: 'x' },
      });
      statuses.push(response.statusCode);
      if (response.statusCode === 429) expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
  });

  it('queues a push notification for offline members only, once each', async () => {
    const pushed: NotificationEvent[] = [];
    current = deployment();
    const { app, url } = await current.start(
      {},
      { pushSender: { send: async (event) => void pushed.push(event) } },
    );
    const channelId = await createGroup(app, 'alice', ['bob', 'carol']);
    const alice = await connect(url, 'alice');
    await connect(url, 'bob');
    await alice.sendMessage(channelId, 'n1', 'are you there?');
    await waitFor(() => pushed.length >= 1, 'a push for carol');
    expect(pushed.map((event) => event.userId)).toEqual(['carol']);
    expect(pushed[0]).toMatchObject({ channelId, seq: 1, preview: 'are you there?' });
  });

  it('records pushes by default and shows them to their user', async () => {
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['erin']);
    const alice = await connect(url, 'alice');
    await alice.sendMessage(channelId, 'p1', 'ping erin');
    const headers = await authHeaders('erin');
    await waitFor(async () => {
      const response = await app.inject({ url: '/v1/me/pushes', headers });
      return response.json().pushes.length === 1;
    }, 'the recorded push');
  });

  it('sends typing to the other members, never storing it', async () => {
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    alice.send({ type: 'typing', channelId });
    expect(await bob.next((frame) => frame.type === 'typing')).toEqual({
      type: 'typing',
      channelId,
      userId: 'alice',
    });
    const page = await app.inject({
      url: `/v1/channels/${channelId}/messages`,
      headers: await authHeaders('bob'),
    });
    expect(page.json().messages).toEqual([]);
  });

  it('brings a member added while connected into the channel live, and drops one who leaves', async () => {
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', []);
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    await app.inject({
      method: 'POST',
      url: `/v1/channels/${channelId}/members`,
      headers: await authHeaders('alice'),
      payload: { userId: 'bob' },
    });
    await bob.next((frame) => frame.type === 'channel' && frame.event === 'joined');
    await alice.sendMessage(channelId, 'j1', 'welcome');
    expect(await bob.waitDelivered(channelId, 1)).toEqual([1]);
    const left = await app.inject({
      method: 'DELETE',
      url: `/v1/channels/${channelId}/members/me`,
      headers: await authHeaders('bob'),
    });
    expect(left.statusCode).toBe(204);
    await bob.next((frame) => frame.type === 'channel' && frame.event === 'left');
    await alice.sendMessage(channelId, 'j2', 'bye');
    await alice.waitDelivered(channelId, 2);
    expect(bob.delivered(channelId)).toEqual([1]);
  });

  it('syncs each device from its own last ack', async () => {
    current = deployment();
    const { app, url } = await current.start();
    const channelId = await createGroup(app, 'alice', ['bob']);
    const alice = await connect(url, 'alice');
    const phone = await connect(url, 'bob', 'phone');
    for (let index = 1; index <= 4; index += 1) await alice.sendMessage(channelId, `d${index}`, 'x');
    await phone.waitDelivered(channelId, 4);
    phone.send({ type: 'ack', channelId, seq: 4 });
    phone.send({ type: 'ping' });
    await phone.next((frame) => frame.type === 'pong');
    await phone.close();
    const laptop = await connect(url, 'bob', 'laptop');
    laptop.send({ type: 'resume', channelId });
    await laptop.next((frame) => frame.type === 'resumed');
    expect(laptop.delivered(channelId)).toEqual([1, 2, 3, 4]);
    const phoneAgain = await connect(url, 'bob', 'phone');
    phoneAgain.send({ type: 'resume', channelId });
    await phoneAgain.next((frame) => frame.type === 'resumed');
    expect(phoneAgain.delivered(channelId)).toEqual([]);
  });

  it('deletes messages past retention; later sequences are untouched', async () => {
    // The clock is moved two days between two pairs of sends; the 1-day sweep takes the first pair.
    let nowMs = Date.now();
    current = deployment({ env: { RETENTION_DAYS: '1', RETENTION_SWEEP_MS: '1000' } });
    const { app } = await current.start({}, { nowMs: () => nowMs });
    const channelId = await createGroup(app, 'alice', ['bob']);
    const headers = await authHeaders('alice');
    const send = (clientMsgId: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/channels/${channelId}/messages`,
        headers,
        payload: { clientMsgId, body: 'x' },
      });
    await send('t1');
    await send('t2');
    nowMs += 2 * 86_400_000;
    await send('t3');
    await send('t4');
    await waitFor(async () => {
      const page = await app.inject({ url: `/v1/channels/${channelId}/messages?after=0`, headers });
      return page.json().messages.length === 2;
    }, 'the retention sweep');
    const page = await app.inject({ url: `/v1/channels/${channelId}/messages?after=0`, headers });
    expect(page.json().messages.map((message: { seq: number }) => message.seq)).toEqual([3, 4]);
  });
});
