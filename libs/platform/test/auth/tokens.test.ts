import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { CLOCK_TOLERANCE_SECONDS, TokenAuthority } from '../../src/auth/index.js';

const SECRET = 'a-test-secret-that-is-long-enough-32b';
const START_MS = Date.UTC(2030, 0, 1);

/** An authority on a clock the test moves by hand. */
function authorityAt(secret = SECRET) {
  const clock = { nowMs: START_MS };
  return { authority: new TokenAuthority({ secret, now: () => clock.nowMs }), clock };
}

const invalidToken = { status: 401, code: 'ERR_UNAUTHORIZED', extensions: { reason: 'invalid' } };

/** A token with our claims, signed however the test wants, to probe what verify accepts. */
function claims() {
  const issuedAt = Math.floor(START_MS / 1000);
  return new SignJWT({ scope: 'read' })
    .setSubject('mallory')
    .setIssuer('sysdesign')
    .setAudience('sysdesign')
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + 600);
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('TokenAuthority', () => {
  it('verifies the subject, scopes and expiry it issued', async () => {
    // Proves the round trip: issue then verify under one secret returns the same claims.
    const { authority } = authorityAt();
    const token = await authority.issue('alice', {
      ttlSeconds: 3600,
      scopes: ['wallet:read', 'wallet:write'],
    });
    expect(await authority.verify(token)).toEqual({
      subject: 'alice',
      scopes: ['wallet:read', 'wallet:write'],
      expiresAt: new Date(START_MS + 3600_000),
    });
  });

  it('accepts a token for the clock tolerance past exp and rejects it as expired from then on', async () => {
    // Proves expiry with an injected clock: a second before exp + tolerance passes, exp + tolerance fails.
    const { authority, clock } = authorityAt();
    const token = await authority.issue('alice', { ttlSeconds: 60 });
    clock.nowMs = START_MS + (60 + CLOCK_TOLERANCE_SECONDS - 1) * 1000;
    await expect(authority.verify(token)).resolves.toMatchObject({ subject: 'alice' });
    clock.nowMs += 1000;
    const failure = authority.verify(token);
    await expect(failure).rejects.toMatchObject({ status: 401, extensions: { reason: 'expired' } });
    await expect(failure).rejects.toMatchObject({
      headers: { 'WWW-Authenticate': expect.stringContaining('error="invalid_token"') },
    });
  });

  it('rejects a token whose signature or payload was altered', async () => {
    // Proves integrity: one changed signature character, or a payload swapped under the old
    // signature, both fail verification.
    const { authority } = authorityAt();
    const token = await authority.issue('alice', { ttlSeconds: 60, scopes: ['read'] });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    await expect(authority.verify(`${header}.${payload}.${flipped}`)).rejects.toMatchObject(invalidToken);
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = base64url({ ...decoded, sub: 'admin', scope: 'read admin' });
    await expect(authority.verify(`${header}.${forged}.${signature}`)).rejects.toMatchObject(invalidToken);
  });

  it('rejects a token signed with another secret', async () => {
    // Proves the key matters: a well-formed HS256 token under a different secret is invalid.
    const other = authorityAt('another-secret-also-long-enough-32-bytes').authority;
    const token = await other.issue('alice', { ttlSeconds: 60 });
    await expect(authorityAt().authority.verify(token)).rejects.toMatchObject(invalidToken);
  });

  it('rejects an unsigned token with alg none', async () => {
    // Proves the classic downgrade fails: header alg "none" and an empty signature.
    const issuedAt = Math.floor(START_MS / 1000);
    const payload = { sub: 'admin', iss: 'sysdesign', aud: 'sysdesign', iat: issuedAt, exp: issuedAt + 600 };
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`;
    await expect(authorityAt().authority.verify(token)).rejects.toMatchObject(invalidToken);
  });

  it('rejects RS256 and HS512 tokens: only HS256 is accepted', async () => {
    // Proves the algorithm allow-list: a valid RS256 token and an HS512 token under our own secret both fail.
    const { privateKey } = await generateKeyPair('RS256');
    const rs256 = await claims().setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    const hs512 = await claims().setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(SECRET));
    const { authority } = authorityAt();
    await expect(authority.verify(rs256)).rejects.toMatchObject(invalidToken);
    await expect(authority.verify(hs512)).rejects.toMatchObject(invalidToken);
    const hs256 = await claims().setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
    await expect(authority.verify(hs256)).resolves.toMatchObject({ subject: 'mallory', scopes: ['read'] });
  });

  it('rejects a token for another issuer or audience', async () => {
    // Proves iss and aud are checked: our secret, our algorithm, someone else's token.
    const key = new TextEncoder().encode(SECRET);
    const otherIssuer = await claims().setIssuer('elsewhere').setProtectedHeader({ alg: 'HS256' }).sign(key);
    const otherAudience = await claims()
      .setAudience('elsewhere')
      .setProtectedHeader({ alg: 'HS256' })
      .sign(key);
    const { authority } = authorityAt();
    await expect(authority.verify(otherIssuer)).rejects.toMatchObject(invalidToken);
    await expect(authority.verify(otherAudience)).rejects.toMatchObject(invalidToken);
  });

  it('rejects garbage and a scope claim that is not a string', async () => {
    // Proves malformed input is a 401, never a 500.
    const { authority } = authorityAt();
    await expect(authority.verify('not-a-jwt')).rejects.toMatchObject(invalidToken);
    await expect(authority.verify('x'.repeat(10_000))).rejects.toMatchObject(invalidToken);
    const key = new TextEncoder().encode(SECRET);
    const arrayScope = await claims().setProtectedHeader({ alg: 'HS256' }).sign(key);
    const withArray = await new SignJWT({ scope: ['admin'] })
      .setSubject('mallory')
      .setIssuer('sysdesign')
      .setAudience('sysdesign')
      .setExpirationTime(Math.floor(START_MS / 1000) + 60)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(key);
    await expect(authority.verify(arrayScope)).resolves.toBeDefined();
    await expect(authority.verify(withArray)).rejects.toMatchObject(invalidToken);
  });

  it('refuses a secret shorter than 32 bytes and unbounded lifetimes', async () => {
    // Proves the limits are asserted: weak keys and absurd TTLs are programmer errors.
    expect(() => new TokenAuthority({ secret: 'short' })).toThrow(/at least 32 bytes/);
    const { authority } = authorityAt();
    await expect(authority.issue('alice', { ttlSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(authority.issue('alice', { ttlSeconds: 365 * 24 * 3600 })).rejects.toThrow(RangeError);
    await expect(authority.issue('alice', { ttlSeconds: 60, scopes: ['has space'] })).rejects.toThrow(
      RangeError,
    );
  });
});
