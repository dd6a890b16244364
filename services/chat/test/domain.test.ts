import { describe, expect, it } from 'vitest';
import { directChannelId } from '../src/domain/channels.js';
import { InvalidTextError, MessageTooLargeError } from '../src/domain/errors.js';
import { decide } from '../src/domain/ordering.js';
import { parseClientFrame } from '../src/domain/protocol.js';
import { checkBody } from '../src/domain/text.js';
import { TokenBucket } from '../src/domain/token-bucket.js';

describe('the domain', () => {
  it('decides per notice: drop what was sent, send the next, fill a gap from the store', () => {
    expect(decide(5, 5)).toEqual({ kind: 'stale' });
    expect(decide(5, 3)).toEqual({ kind: 'stale' });
    expect(decide(5, 6)).toEqual({ kind: 'next' });
    expect(decide(5, 9)).toEqual({ kind: 'gap', afterSeq: 5, throughSeq: 9 });
  });

  it('names a direct channel by its pair, whichever side opens it', () => {
    expect(directChannelId('alice', 'bob')).toBe(directChannelId('bob', 'alice'));
    expect(directChannelId('alice', 'bob')).not.toBe(directChannelId('alice', 'carol'));
    // The separator keeps ("ab","c") and ("a","bc") apart.
    expect(directChannelId('ab', 'c')).not.toBe(directChannelId('a', 'bc'));
    expect(directChannelId('alice', 'bob')).toMatch(/^d_[0-9a-z]{1,40}$/);
  });

  it('bounds a body in UTF-8 bytes and refuses lone surrogates and control characters', () => {
    expect(() => checkBody('é'.repeat(2), 4)).not.toThrow();
    expect(() => checkBody('é'.repeat(3), 4)).toThrow(MessageTooLargeError);
    expect(() => checkBody('😀', 4)).not.toThrow();
    expect(() => checkBody('a\ud83d', 100)).toThrow(InvalidTextError);
    expect(() => checkBody('\ude00b', 100)).toThrow(InvalidTextError);
    expect(() => checkBody('bell\u0007', 100)).toThrow(InvalidTextError);
    expect(() => checkBody('tab\tand\nnewline', 100)).not.toThrow();
  });

  it('admits a burst of the rate, then one frame per 1/rate seconds', () => {
    const bucket = new TokenBucket(5, 0);
    for (let index = 0; index < 5; index += 1) expect(bucket.take(0)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(100)).toBe(false);
    expect(bucket.take(200)).toBe(true);
    expect(bucket.take(200)).toBe(false);
    // A clock that steps back never mints tokens.
    expect(bucket.take(100)).toBe(false);
  });

  it('parses frames strictly and names the failing field', () => {
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ ok: true, frame: { type: 'ping' } });
    expect(parseClientFrame('{')).toMatchObject({ ok: false, code: 'CHAT_ERR_MALFORMED_FRAME' });
    const refused = parseClientFrame('{"type":"send","channelId":"g_1","clientMsgId":"c1","body":7}');
    expect(refused).toMatchObject({ ok: false, code: 'CHAT_ERR_INVALID_FRAME', ref: 'c1' });
    expect(refused.ok ? '' : refused.detail).toContain('body');
    expect(parseClientFrame('{"__proto__":{"type":"ping"}}')).toMatchObject({ ok: false });
  });
});
