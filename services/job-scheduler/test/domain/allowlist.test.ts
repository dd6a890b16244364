import { describe, expect, it } from 'vitest';
import { HostAllowlist, HostNotAllowedError, isPrivateAddress } from '../../src/domain/allowlist.js';

/** The SSRF guard: names must be listed, and addresses public unless private ones are allowed. */

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    'not-an-ip',
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('admits %s', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('HostAllowlist', () => {
  const allowlist = new HostAllowlist({
    hosts: ['hooks.example.com', '*.internal.example', '127.0.0.1'],
    allowPrivate: false,
  });

  it('admits listed names and wildcard subdomains, nothing else', () => {
    expect(allowlist.checkUrl('https://hooks.example.com/x').hostname).toBe('hooks.example.com');
    expect(allowlist.checkUrl('http://a.b.internal.example/').hostname).toBe('a.b.internal.example');
    expect(() => allowlist.checkUrl('https://evil.example.com/')).toThrow(HostNotAllowedError);
    expect(() => allowlist.checkUrl('https://internal.example.evil/')).toThrow(HostNotAllowedError);
  });

  it('refuses other schemes, credentials in the URL, and a listed private IP when private is not allowed', () => {
    expect(() => allowlist.checkUrl('file:///etc/passwd')).toThrow(/only http/);
    expect(() => allowlist.checkUrl('https://user:pw@hooks.example.com/')).toThrow(/credentials/);
    expect(() => allowlist.checkUrl('http://127.0.0.1:8080/')).toThrow(/private/);
    const permissive = new HostAllowlist({ hosts: ['127.0.0.1'], allowPrivate: true });
    expect(permissive.checkUrl('http://127.0.0.1:8080/').port).toBe('8080');
  });
});
