import { expect, it } from 'vitest';
import type { AppendInput, MessageStore } from '../src/store/message-store.js';

/**
 * The message store's contract: every adapter runs these. `fresh()` gives a store (and channel
 * ids never used before, so a shared backend needs no cleaning).
 */
export function messageStoreContract(
  fresh: () => Promise<{ store: MessageStore; channel: () => string }>,
): void {
  let nextId = 1_000_000n;
  const input = (channelId: string, clientMsgId: string, body = 'hi', senderId = 'alice'): AppendInput => {
    nextId += 1n;
    return {
      id: nextId,
      channelId,
      senderId,
      clientMsgId,
      body,
      createdAtMs: 1_750_000_000_000 + Number(nextId % 1000n),
    };
  };

  it('numbers a channel from 1 with no gap, each channel on its own', async () => {
    const { store, channel } = await fresh();
    const [a, b] = [channel(), channel()];
    for (let index = 1; index <= 5; index += 1) {
      expect((await store.append(input(a, `a${index}`))).message.seq).toBe(index);
    }
    expect((await store.append(input(b, 'b1'))).message.seq).toBe(1);
    expect(await store.lastSeq(a)).toBe(5);
    expect(await store.lastSeq(channel())).toBe(0);
    expect(await store.lastSeqs([a, b])).toEqual(
      new Map([
        [a, 5],
        [b, 1],
      ]),
    );
  });

  it('stores a resend with the same client message id once, answering the first', async () => {
    const { store, channel } = await fresh();
    const channelId = channel();
    const first = await store.append(input(channelId, 'same'));
    const again = await store.append(input(channelId, 'same'));
    expect(again.duplicate).toBe(true);
    expect(again.message.seq).toBe(first.message.seq);
    expect(again.message.id).toBe(first.message.id);
    // The same client id from another sender is another message.
    expect((await store.append(input(channelId, 'same', 'hi', 'bob'))).duplicate).toBe(false);
    expect(await store.lastSeq(channelId)).toBe(2);
  });

  it('gives 40 concurrent appends (10 of them resends) 30 distinct, gap-free sequences', async () => {
    const { store, channel } = await fresh();
    const channelId = channel();
    const inputs = Array.from({ length: 30 }, (_, index) => input(channelId, `c${index}`));
    const resends = inputs.slice(0, 10).map((original) => ({ ...original, id: original.id + 100_000n }));
    const results = await Promise.all([...inputs, ...resends].map((item) => store.append(item)));
    const seqs = new Set(results.map((result) => result.message.seq));
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, index) => index + 1));
    expect(results.filter((result) => result.duplicate)).toHaveLength(10);
  });

  it('pages forward from a sequence and backward from the end, in sequence order', async () => {
    const { store, channel } = await fresh();
    const channelId = channel();
    for (let index = 1; index <= 12; index += 1)
      await store.append(input(channelId, `p${index}`, `body ${index}`));
    const forward = await store.range(channelId, { afterSeq: 4, limit: 5 });
    expect(forward.map((message) => message.seq)).toEqual([5, 6, 7, 8, 9]);
    expect(forward[0]?.body).toBe('body 5');
    const backward = await store.range(channelId, { limit: 3 });
    expect(backward.map((message) => message.seq)).toEqual([12, 11, 10]);
    const before = await store.range(channelId, { beforeSeq: 3, limit: 10 });
    expect(before.map((message) => message.seq)).toEqual([2, 1]);
    const between = await store.range(channelId, { afterSeq: 2, beforeSeq: 5, limit: 10 });
    expect(between.map((message) => message.seq)).toEqual([3, 4]);
    expect(await store.range(channelId, { afterSeq: 12, limit: 10 })).toEqual([]);
  });

  it('edits and deletes in place: the sequence keeps its message, a delete leaves a tombstone', async () => {
    const { store, channel } = await fresh();
    const channelId = channel();
    await store.append(input(channelId, 'e1', 'first'));
    const edited = await store.edit(channelId, 1, 'changed', 1_800_000_000_000);
    expect(edited).toMatchObject({ seq: 1, body: 'changed', editedAtMs: 1_800_000_000_000 });
    const removed = await store.remove(channelId, 1, 1_800_000_000_001);
    expect(removed).toMatchObject({ seq: 1, body: '', deletedAtMs: 1_800_000_000_001 });
    expect(await store.get(channelId, 1)).toMatchObject({ body: '', deletedAtMs: 1_800_000_000_001 });
    // An edit of a deleted message changes nothing.
    expect(await store.edit(channelId, 1, 'again', 1_800_000_000_002)).toMatchObject({ body: '' });
    expect(await store.edit(channelId, 7, 'none', 1)).toBeUndefined();
    expect(await store.remove(channelId, 7, 1)).toBeUndefined();
  });
}
