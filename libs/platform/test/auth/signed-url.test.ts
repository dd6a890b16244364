import { describe, expect, it } from 'vitest';
import { signUrl, verifySignedUrl } from '../../src/auth/index.js';

const SECRET = 'signed-url-secret-long-enough-for-hmac!';
const NOW_MS = Date.UTC(2030, 0, 1);
const now = () => NOW_MS;

const invalid = { status: 403, code: 'AUTH_ERR_SIGNED_URL_INVALID' };

function uploadUrl(): string {
  return signUrl(SECRET, {
    method: 'put',
    path: '/v1/files/photos/a%20b.jpg',
    expiresAt: new Date(NOW_MS + 600_000),
    params: { maxBytes: 10_000_000, contentType: 'image/jpeg' },
    now,
  });
}

/** The URL with one query parameter set (or removed when value is undefined). */
function withParam(url: string, name: string, value: string | undefined): string {
  const [path, query] = url.split('?') as [string, string];
  const params = new URLSearchParams(query);
  if (value === undefined) params.delete(name);
  else params.set(name, value);
  return `${path}?${params.toString()}`;
}

describe('signed URLs', () => {
  it('verifies a URL it signed and returns its terms', async () => {
    // Proves the round trip: method, path, expiry and extra params signed, then read back.
    const url = uploadUrl();
    expect(url).toMatch(/^\/v1\/files\/photos\/a%20b\.jpg\?.*expires=\d+.*&signature=[A-Za-z0-9_-]{43}$/);
    expect(verifySignedUrl(SECRET, { method: 'PUT', url, now })).toEqual({
      path: '/v1/files/photos/a%20b.jpg',
      expiresAt: new Date(NOW_MS + 600_000),
      params: { maxBytes: '10000000', contentType: 'image/jpeg' },
    });
  });

  it('still verifies when a client re-encodes or reorders the query', async () => {
    // Proves values are signed decoded and sorted: %2F vs / and parameter order do not matter.
    const url = uploadUrl();
    const [path, query] = url.split('?') as [string, string];
    const reordered = query.split('&').reverse().join('&').replace('image%2Fjpeg', 'image/jpeg');
    expect(
      verifySignedUrl(SECRET, { method: 'PUT', url: `${path}?${reordered}`, now }).params.contentType,
    ).toBe('image/jpeg');
  });

  it('rejects the URL as expired one millisecond after its expiry', async () => {
    // Proves expiry with an injected clock: valid at the expiry instant, expired just after.
    const url = uploadUrl();
    expect(() => verifySignedUrl(SECRET, { method: 'PUT', url, now: () => NOW_MS + 600_000 })).not.toThrow();
    expect(() => verifySignedUrl(SECRET, { method: 'PUT', url, now: () => NOW_MS + 600_001 })).toThrow(
      expect.objectContaining({ status: 403, code: 'AUTH_ERR_SIGNED_URL_EXPIRED' }),
    );
  });

  it('rejects a tampered path', async () => {
    // Proves the path is covered: the same query on another blob's path fails.
    const url = uploadUrl().replace('a%20b.jpg', 'other.jpg');
    expect(() => verifySignedUrl(SECRET, { method: 'PUT', url, now })).toThrow(
      expect.objectContaining(invalid),
    );
  });

  it('rejects changed, added or removed parameters, including a pushed-out expiry', async () => {
    // Proves every parameter is covered: raising maxBytes, adding a term, dropping one or
    // extending the expiry each break the signature.
    const url = uploadUrl();
    const tampered = [
      withParam(url, 'maxBytes', '999999999'),
      withParam(url, 'owner', 'mallory'),
      withParam(url, 'contentType', undefined),
      withParam(url, 'expires', String(Math.floor(NOW_MS / 1000) + 86_400)),
      withParam(url, 'signature', undefined),
      `${url}&maxBytes=1`,
    ];
    for (const candidate of tampered) {
      expect(() => verifySignedUrl(SECRET, { method: 'PUT', url: candidate, now })).toThrow(
        expect.objectContaining(invalid),
      );
    }
  });

  it('rejects the URL for another method or under another secret', async () => {
    // Proves the method and the key are covered: a PUT URL cannot GET, nor verify elsewhere.
    const url = uploadUrl();
    expect(() => verifySignedUrl(SECRET, { method: 'GET', url, now })).toThrow(
      expect.objectContaining(invalid),
    );
    expect(() =>
      verifySignedUrl('some-other-secret-that-is-32-bytes-long', { method: 'PUT', url, now }),
    ).toThrow(expect.objectContaining(invalid));
    expect(() => verifySignedUrl(SECRET, { method: 'PUT', url: '/v1/files/photos/a%20b.jpg', now })).toThrow(
      expect.objectContaining(invalid),
    );
  });

  it('refuses to sign reserved names, bad paths and lifetimes over seven days', async () => {
    // Proves signUrl asserts its limits instead of minting URLs that are unsafe or never expire.
    const base = { method: 'GET', path: '/v1/x', expiresAt: new Date(NOW_MS + 60_000), now };
    expect(() => signUrl(SECRET, { ...base, params: { signature: 'x' } })).toThrow(/reserved/);
    expect(() => signUrl(SECRET, { ...base, path: 'relative' })).toThrow(RangeError);
    expect(() => signUrl(SECRET, { ...base, path: '/a?b=c' })).toThrow(RangeError);
    expect(() => signUrl(SECRET, { ...base, expiresAt: new Date(NOW_MS + 8 * 86_400_000) })).toThrow(
      RangeError,
    );
    expect(() => signUrl(SECRET, { ...base, expiresAt: new Date(NOW_MS - 1) })).toThrow(RangeError);
  });
});
