import { describe, expect, it } from 'vitest';
import { canonicalHost } from '../../src/domain/host.js';
import { checkTargetUrl, selfReferenceOf } from '../../src/domain/target-url.js';

const PORT = 3004;
/** As the service builds it: PUBLIC_BASE_URL, and HOST=0.0.0.0 on a machine with two more addresses. */
const self = selfReferenceOf({
  publicBaseUrl: 'https://sho.rt',
  listen: { host: '0.0.0.0', port: PORT },
  interfaceAddresses: ['127.0.0.1', '::1', '10.1.2.3', 'fe80::1c2b:3aff:fe4d:5e6f'],
});
const refusedAsSelf = (input: string) =>
  expect(checkTargetUrl(input, self)).toEqual({ ok: false, reason: 'must not point back at this shortener' });

describe('canonical hosts', () => {
  it.each([
    ['localhost.', 'loopback'],
    ['LOCALHOST..', 'loopback'],
    ['app.localhost', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['[::7f00:1]', 'loopback'],
    ['[64:ff9b::7f00:1]', 'loopback'],
    ['[::1]', 'loopback'],
    ['[::]', 'loopback'],
    ['0.0.0.0', 'loopback'],
    ['127.9.9.9', 'loopback'],
    ['[::ffff:a01:203]', '10.1.2.3'],
    ['example.com.', 'example.com'],
  ])('reads %s as %s', (hostname, expected) => {
    const host = canonicalHost(hostname);
    const key = host.kind === 'loopback' ? 'loopback' : host.kind === 'name' ? host.name : host.address;
    expect(key).toBe(expected);
  });
});

describe('the self-reference check, however the host is spelled', () => {
  it.each([
    `http://localhost.:${PORT}/abc`,
    `http://localhost..:${PORT}/abc`,
    `http://[::ffff:127.0.0.1]:${PORT}/abc`,
    `http://[::ffff:7f00:1]:${PORT}/abc`,
    `http://[0:0:0:0:0:ffff:127.0.0.1]:${PORT}/abc`,
    `http://[::127.0.0.1]:${PORT}/abc`,
    `http://[64:ff9b::127.0.0.1]:${PORT}/abc`,
    `http://0.0.0.0:${PORT}/abc`,
    `http://[::]:${PORT}/abc`,
    `http://[::1]:${PORT}/abc`,
    `http://0x7f.1:${PORT}/abc`,
    `http://0x7f000001:${PORT}/abc`,
    `http://2130706433:${PORT}/abc`,
    `http://0177.0.0.1:${PORT}/abc`,
    `http://127.1:${PORT}/abc`,
    `http://127.0.0.1.:${PORT}/abc`,
    `http://127.42.0.9:${PORT}/abc`,
    `http://app.localhost:${PORT}/abc`,
    `http://10.1.2.3:${PORT}/abc`,
    `http://[::ffff:10.1.2.3]:${PORT}/abc`,
    `http://[fe80::1c2b:3aff:fe4d:5e6f]:${PORT}/abc`,
    'https://sho.rt/abc',
    'https://SHO.RT./abc',
    'http://sho.rt/abc',
    'https://sho.rt:443/abc',
  ])('refuses %s', (input) => refusedAsSelf(input));

  it('accepts the same hosts on ports nobody here listens on (the private-target option is for those)', () => {
    expect(checkTargetUrl(`http://localhost:${PORT + 1}/`, self).ok).toBe(true);
    expect(checkTargetUrl('http://10.1.2.3:8080/', self).ok).toBe(true);
    expect(checkTargetUrl('https://sho.rt:8443/', self).ok).toBe(true);
    expect(checkTargetUrl('https://other.example/', self).ok).toBe(true);
  });

  it('covers only the listen address given when HOST is not a wildcard', () => {
    const bound = selfReferenceOf({
      publicBaseUrl: 'https://sho.rt',
      listen: { host: '10.1.2.3', port: PORT },
    });
    expect(checkTargetUrl(`http://[::ffff:10.1.2.3]:${PORT}/`, bound).ok).toBe(false);
    expect(checkTargetUrl(`http://10.9.9.9:${PORT}/`, bound).ok).toBe(true);
  });
});

describe('BLOCK_PRIVATE_TARGETS', () => {
  const open = selfReferenceOf('https://sho.rt');
  const blocked = (input: string) => checkTargetUrl(input, open, { blockPrivateTargets: true });

  it.each([
    'http://localhost/',
    'http://localhost./',
    'http://127.0.0.1:8080/',
    'http://0x7f.1/',
    'http://2130706433/',
    'http://0.0.0.0/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://10.0.0.1/',
    'http://172.16.5.4/',
    'http://172.31.255.255/',
    'http://192.168.1.1/',
    'http://0xc0.0xa8.1.1/',
    'http://100.64.0.1/',
    'http://100.127.255.254/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://224.0.0.1/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://metadata/',
    'http://printer.local/',
    'http://router.home.arpa/',
    'http://intranet/',
  ])('refuses %s', (input) => {
    const result = blocked(input);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(/^must not point at /);
  });

  it.each([
    'https://example.com/',
    'http://8.8.8.8/',
    'http://172.32.0.1/',
    'http://100.128.0.1/',
    'http://192.169.0.1/',
    'http://[2001:4860:4860::8888]/',
  ])('accepts the public %s', (input) => {
    expect(blocked(input).ok).toBe(true);
  });

  it('is off unless asked for: the embedded mode may shorten a link to a local dev server', () => {
    expect(checkTargetUrl('http://192.168.1.1/', open).ok).toBe(true);
    expect(checkTargetUrl('http://localhost:5173/', open).ok).toBe(true);
  });
});
