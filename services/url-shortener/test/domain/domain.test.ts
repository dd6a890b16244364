import { describe, expect, it } from 'vitest';
import { aliasProblem, RESERVED_ALIASES } from '../../src/domain/alias.js';
import { decodeBase62, encodeBase62, fixedBase62 } from '../../src/domain/base62.js';
import { countClicks, dayOf, MINUTE_MS, minuteSeries } from '../../src/domain/clicks.js';
import {
  CODE_PATTERN,
  HASH_CODE_LENGTH,
  hashCandidate,
  hashInput,
  snowflakeCode,
} from '../../src/domain/codes.js';
import { LruCache } from '../../src/domain/lru.js';
import { checkTargetUrl, selfReferenceOf } from '../../src/domain/target-url.js';
import { deviceClassOf, referrerHostOf } from '../../src/domain/visitor.js';

describe('base62', () => {
  it('round-trips 0, small numbers and the largest 64-bit id', () => {
    // Codes are base62 of snowflake ids: encode and decode must be exact inverses over 64 bits.
    for (const value of [0n, 1n, 61n, 62n, 3_843n, 2n ** 63n - 1n, 2n ** 64n - 1n]) {
      expect(decodeBase62(encodeBase62(value))).toBe(value);
    }
    expect(encodeBase62(61n)).toBe('Z');
    expect(encodeBase62(62n)).toBe('10');
    expect(encodeBase62(2n ** 63n - 1n)).toHaveLength(11);
  });

  it('pads and reduces to a fixed width', () => {
    expect(fixedBase62(0n, 7)).toBe('0000000');
    expect(fixedBase62(62n ** 7n + 5n, 7)).toBe('0000005');
  });

  it('rejects negative numbers and foreign characters', () => {
    expect(() => encodeBase62(-1n)).toThrow(RangeError);
    expect(() => decodeBase62('ab-c')).toThrow(RangeError);
    expect(() => decodeBase62('')).toThrow(RangeError);
  });
});

describe('code strategies', () => {
  it('hashes a URL to the same 7 base62 characters every time, and salted attempts to others', () => {
    // The hash strategy's dedupe rests on determinism; collision resolution on salts giving new codes.
    const url = 'https://example.com/some/long/path?q=1';
    const first = hashCandidate(url, 0);
    expect(first).toMatch(/^[0-9A-Za-z]{7}$/);
    expect(hashCandidate(url, 0)).toBe(first);
    const salted = new Set([0, 1, 2, 3, 4].map((attempt) => hashCandidate(url, attempt)));
    expect(salted.size).toBe(5);
    expect(HASH_CODE_LENGTH).toBe(7);
  });

  it('salts with a space, which no accepted URL contains, so salted inputs never equal a real URL', () => {
    expect(hashInput('https://a.example/', 0)).toBe('https://a.example/');
    expect(hashInput('https://a.example/', 3)).toBe('https://a.example/ 3');
  });

  it('spreads 20,000 distinct URLs over 7-character codes without a collision', () => {
    // 62^7 ≈ 3.5e12 codes: at 2e4 URLs the birthday bound makes a collision a ~6e-5 event.
    const codes = new Set<string>();
    for (let index = 0; index < 20_000; index++) codes.add(hashCandidate(`https://example.com/${index}`, 0));
    expect(codes.size).toBe(20_000);
  });

  it('makes snowflake codes of 10-11 characters that fit the code pattern', () => {
    expect(snowflakeCode(1_234_567_890_123_456_789n)).toMatch(/^[0-9A-Za-z]{10,11}$/);
    expect(CODE_PATTERN.test(snowflakeCode(2n ** 63n - 1n))).toBe(true);
  });
});

describe('aliases', () => {
  it.each([
    ['my-link', undefined],
    ['abc', undefined],
    ['A_b-9', undefined],
    ['x'.repeat(32), undefined],
    ['ab', 'must be 3 to 32 characters'],
    ['x'.repeat(33), 'must be 3 to 32 characters'],
    ['has space', 'may contain only letters, digits, _ and -'],
    ['dot.ted', 'may contain only letters, digits, _ and -'],
    ['ünï', 'may contain only letters, digits, _ and -'],
    ['../x', 'may contain only letters, digits, _ and -'],
    ['<script>', 'may contain only letters, digits, _ and -'],
    ['docs', '"docs" is reserved'],
    ['DOCS', '"DOCS" is reserved'],
    ['Metrics', '"Metrics" is reserved'],
    ['healthz', '"healthz" is reserved'],
    ['readyz', '"readyz" is reserved'],
  ])('judges alias %j', (alias, problem) => {
    expect(aliasProblem(alias)).toBe(problem);
  });

  it('reserves every path segment the service itself serves', () => {
    for (const word of ['v1', 'docs', 'metrics', 'healthz', 'readyz'])
      expect(RESERVED_ALIASES.has(word)).toBe(true);
  });
});

describe('target URL validation', () => {
  const self = selfReferenceOf('http://localhost:3004');

  it.each([
    ['https://example.com', 'https://example.com/'],
    ['HTTP://EXAMPLE.com:80/a', 'http://example.com/a'],
    ['https://例え.jp/パス', 'https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9'],
    ['https://example.com/a?b=1#frag', 'https://example.com/a?b=1#frag'],
    ['https://example.com:8443/x', 'https://example.com:8443/x'],
    ['https://localhost:4000/', 'https://localhost:4000/'],
  ])('accepts %s as %s', (input, normalised) => {
    expect(checkTargetUrl(input, self)).toEqual({ ok: true, url: normalised });
  });

  it.each([
    ['', 'must not be empty'],
    ['javascript:alert(1)', 'scheme javascript: is not allowed'],
    ['JavaScript:alert(document.cookie)', 'scheme javascript: is not allowed'],
    ['data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==', 'scheme data: is not allowed'],
    ['file:///etc/passwd', 'scheme file: is not allowed'],
    ['ftp://example.com/x', 'scheme ftp: is not allowed'],
    ['vbscript:msgbox', 'scheme vbscript: is not allowed'],
    ['mailto:a@example.com', 'scheme mailto: is not allowed'],
    ['//example.com/x', 'must be an absolute http or https URL'],
    ['example.com', 'must be an absolute http or https URL'],
    ['https://user:pass@example.com/', 'must not contain credentials'],
    ['https://bank.example@evil.example/', 'must not contain credentials'],
    ['https://example.com/a b', 'must not contain spaces'],
    ['java\tscript:alert(1)', 'must not contain spaces'],
    ['https://exa\nmple.com', 'must not contain spaces'],
    ['https://example.com/\u0000', 'must not contain spaces'],
    [' https://example.com', 'must not contain spaces'],
    ['http://', 'must be an absolute http or https URL'],
    ['https://[::1', 'must be an absolute http or https URL'],
    ['http://localhost:3004/abc', 'must not point back at this shortener'],
    ['http://LOCALHOST:3004/abc', 'must not point back at this shortener'],
    ['http://127.0.0.1:3004/abc', 'must not point back at this shortener'],
    ['https://localhost:3004/', 'must not point back at this shortener'],
    [`https://example.com/${'a'.repeat(2048)}`, 'must be at most 2048 characters'],
  ])('rejects %j', (input, reason) => {
    const result = checkTargetUrl(input, self);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(reason);
  });

  it('rejects a URL that fits 2048 characters only before normalisation', () => {
    // Each non-ASCII character becomes 9 percent-encoded ones: the stored form must fit too.
    const input = `https://example.com/${'é'.repeat(1000)}`;
    expect(input.length).toBeLessThanOrEqual(2048);
    expect(checkTargetUrl(input, self)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('once normalised'),
    });
  });

  it('treats only the base path as self when PUBLIC_BASE_URL has one', () => {
    const prefixed = selfReferenceOf('https://example.com/s');
    expect(checkTargetUrl('https://example.com/s/abc', prefixed).ok).toBe(false);
    expect(checkTargetUrl('https://example.com/s', prefixed).ok).toBe(false);
    expect(checkTargetUrl('https://example.com/blog/post', prefixed).ok).toBe(true);
    expect(checkTargetUrl('https://example.com/sale', prefixed).ok).toBe(true);
  });
});

describe('visitors', () => {
  it.each([
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148', 'mobile'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36', 'mobile'],
    ['Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)', 'tablet'],
    ['Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/120 Safari/537.36', 'tablet'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36', 'desktop'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Safari/605.1.15', 'desktop'],
    ['Googlebot/2.1 (+http://www.google.com/bot.html)', 'bot'],
    ['curl/8.5.0', 'bot'],
    ['Slackbot-LinkExpanding 1.0', 'bot'],
    ['SomethingElse/1.0', 'other'],
    ['', 'other'],
    [undefined, 'other'],
    [`Mozilla ${'x'.repeat(5000)}`, 'other'],
  ])('classifies %j as %s', (userAgent, device) => {
    expect(deviceClassOf(userAgent)).toBe(device);
  });

  it.each([
    ['https://news.ycombinator.com/item?id=1', 'news.ycombinator.com'],
    ['http://WWW.Example.COM/path', 'www.example.com'],
    [undefined, 'direct'],
    ['', 'direct'],
    ['not a url', 'direct'],
    ['android-app://com.google.android.gm/', 'direct'],
    ['javascript:alert(1)', 'direct'],
  ])('records the referrer %j as %s', (referer, host) => {
    expect(referrerHostOf(referer)).toBe(host);
  });
});

describe('counting clicks', () => {
  it('folds clicks into totals, minutes, referrers and devices', () => {
    const base = 1_700_000_000_000 - (1_700_000_000_000 % MINUTE_MS);
    const deltas = countClicks([
      {
        clicks: [
          { code: 'a', at: base + 1, referrer: 'direct', device: 'mobile' },
          { code: 'a', at: base + 59_999, referrer: 'x.example', device: 'mobile', unique: false },
          { code: 'a', at: base + MINUTE_MS, referrer: 'x.example', device: 'desktop', unique: true },
        ],
      },
      { clicks: [{ code: 'b', at: base, referrer: 'direct', device: 'bot' }] },
    ]);
    // A click not marked unique counts in the total only; one of an earlier version counts in both.
    expect(deltas.totals).toEqual([
      { code: 'a', clicks: 3, unique: 2 },
      { code: 'b', clicks: 1, unique: 1 },
    ]);
    expect(deltas.minutes).toEqual([
      { code: 'a', minuteMs: base, clicks: 2 },
      { code: 'a', minuteMs: base + MINUTE_MS, clicks: 1 },
      { code: 'b', minuteMs: base, clicks: 1 },
    ]);
    expect(deltas.referrers).toContainEqual({ code: 'a', dayMs: dayOf(base), key: 'x.example', clicks: 2 });
    expect(deltas.devices).toContainEqual({ code: 'a', key: 'mobile', clicks: 2 });
  });

  it('lays the last hour out as 60 minutes, oldest first, zeros included', () => {
    const now = 1_700_000_123_456;
    const current = now - (now % MINUTE_MS);
    const series = minuteSeries(
      new Map([
        [current, 4],
        [current - 59 * MINUTE_MS, 1],
        [current - 60 * MINUTE_MS, 9],
      ]),
      now,
    );
    expect(series).toHaveLength(60);
    expect(series[0]).toEqual({ minute: new Date(current - 59 * MINUTE_MS).toISOString(), clicks: 1 });
    expect(series[59]).toEqual({ minute: new Date(current).toISOString(), clicks: 4 });
    expect(series.reduce((sum, entry) => sum + entry.clicks, 0)).toBe(5);
  });
});

describe('the bounded LRU', () => {
  it('evicts the least recently used entry past its bound', () => {
    const lru = new LruCache<number>(2);
    lru.set('a', 1, 1_000);
    lru.set('b', 2, 1_000);
    lru.get('a');
    lru.set('c', 3, 1_000);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
    expect(lru.size).toBe(2);
  });

  it('expires entries by their own TTL on the injected clock', () => {
    let now = 0;
    const lru = new LruCache<string>(10, () => now);
    lru.set('short', 'x', 100);
    lru.set('long', 'y', 10_000);
    now = 100;
    expect(lru.get('short')).toBeUndefined();
    expect(lru.get('long')).toBe('y');
    lru.set('zero', 'z', 0);
    expect(lru.get('zero')).toBeUndefined();
  });
});
