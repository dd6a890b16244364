import { TokenAuthority } from '@sysdesign/platform';
import { describe, expect, it } from 'vitest';
import { PostCodec } from '../src/hydrate.js';
import { CachingTokenAuthority } from '../src/token-cache.js';

const secret = 'a-test-secret-of-at-least-thirty-two-bytes';

function clock(startMs: number) {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms: number) => (nowMs += ms) };
}

/** Counts the full verifications (the HMAC checks) the cache lets through. */
function counted(options: ConstructorParameters<typeof CachingTokenAuthority>[0]) {
  const authority = new CachingTokenAuthority(options);
  let checks = 0;
  const parent = Object.getPrototypeOf(CachingTokenAuthority.prototype) as TokenAuthority;
  const original = parent.verify;
  return {
    authority,
    checks: () => checks,
    spy: (run: () => Promise<void>) => async () => {
      parent.verify = async function (this: TokenAuthority, token: string) {
        checks += 1;
        return original.call(this, token);
      };
      try {
        await run();
      } finally {
        parent.verify = original;
      }
    },
  };
}

describe('the verified-token cache', () => {
  it('verifies a token once, then answers from memory until its time to live', async () => {
    const time = clock(Date.UTC(2026, 0, 1));
    const issuer = new TokenAuthority({ secret, now: time.now });
    const token = await issuer.issue('alice', { ttlSeconds: 3_600 });
    const { authority, checks, spy } = counted({
      secret,
      now: time.now,
      entriesMax: 10,
      ttlMs: 60_000,
      tokenCharsMax: 2_048,
    });
    await spy(async () => {
      const first = await authority.verify(token);
      first.scopes.push('admin');
      const second = await authority.verify(token);
      expect(second.subject).toBe('alice');
      expect(second.scopes).toEqual([]);
      expect(checks()).toBe(1);
      time.advance(60_000);
      await authority.verify(token);
      expect(checks()).toBe(2);
    })();
  });

  it('never answers from memory at or past the token’s exp: the full check (and its 401) runs', async () => {
    const time = clock(Date.UTC(2026, 0, 1));
    const token = await new TokenAuthority({ secret, now: time.now }).issue('bob', { ttlSeconds: 30 });
    const authority = new CachingTokenAuthority({
      secret,
      now: time.now,
      entriesMax: 10,
      ttlMs: 600_000,
      tokenCharsMax: 2_048,
    });
    await authority.verify(token);
    time.advance(30_000 + 5_000 + 1_000);
    await expect(authority.verify(token)).rejects.toMatchObject({ status: 401 });
  });

  it('keeps no failures, no tokens over the length bound, and at most entriesMax tokens', async () => {
    const time = clock(Date.UTC(2026, 0, 1));
    const issuer = new TokenAuthority({ secret, now: time.now });
    const authority = new CachingTokenAuthority({
      secret,
      now: time.now,
      entriesMax: 3,
      ttlMs: 60_000,
      tokenCharsMax: 2_048,
    });
    const good = await issuer.issue('carol', { ttlSeconds: 600 });
    const forged = `${good.slice(0, -4)}AAAA`;
    await expect(authority.verify(forged)).rejects.toMatchObject({ status: 401 });
    await expect(authority.verify(forged)).rejects.toMatchObject({ status: 401 });
    expect(authority.size).toBe(0);
    for (let index = 0; index < 5; index += 1) {
      await authority.verify(await issuer.issue(`user-${index}`, { ttlSeconds: 600 }));
    }
    expect(authority.size).toBe(3);
    const short = new CachingTokenAuthority({
      secret,
      now: time.now,
      entriesMax: 3,
      ttlMs: 60_000,
      tokenCharsMax: 10,
    });
    await short.verify(good);
    expect(short.size).toBe(0);
  });
});

describe('the decoded-post memo', () => {
  const post = { id: 2n ** 60n + 7n, author: 'dave', score: 12345, body: 'hi', createdMs: 1, deleted: false };

  it('decodes the same text to the same frozen post, and a changed text afresh', () => {
    const codec = new PostCodec(2);
    const text = codec.encode(post);
    const first = codec.decode(text);
    expect(first).toEqual(post);
    expect(codec.decode(text)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const deleted = codec.decode(codec.encode({ ...post, deleted: true }));
    expect(deleted.deleted).toBe(true);
    expect(codec.decode(text).deleted).toBe(false);
  });

  it('holds at most entriesMax decoded posts', () => {
    const codec = new PostCodec(2);
    for (let index = 0; index < 5; index += 1) codec.decode(codec.encode({ ...post, id: BigInt(index) }));
    expect(codec.size).toBe(2);
  });
});
