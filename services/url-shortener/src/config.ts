import { authVars, backendVars, boolVar, intVar, serviceVars, snowflakeVars } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'url-shortener';
export const DEFAULT_PORT = 3004;
export const DEFAULT_PUBLIC_BASE_URL = `http://localhost:${DEFAULT_PORT}`;

/** The base every short URL starts with: an http(s) origin, optionally with a path prefix. */
const publicBaseUrl = z
  .string()
  .default(DEFAULT_PUBLIC_BASE_URL)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (
        (url.protocol === 'http:' || url.protocol === 'https:') &&
        url.username === '' &&
        url.password === '' &&
        url.search === '' &&
        url.hash === ''
      );
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials, query or fragment')
  // `https://sho.rt/` and `https://sho.rt` name the same base.
  .transform((value) => value.replace(/\/+$/, ''));

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  REDIS_URL: backendVars.REDIS_URL,
  KAFKA_BROKERS: backendVars.KAFKA_BROKERS,
  AUTH_SECRET: authVars.AUTH_SECRET,
  ...snowflakeVars,
  /** Prefix of this service's Redis keys (cache, worker leases, rate limits). */
  REDIS_KEY_PREFIX: z.string().min(1).max(128).default('url-shortener:'),
  PUBLIC_BASE_URL: publicBaseUrl,
  /** How codes are made: base62 of a snowflake id, or the first 7 base62 characters of a hash of the URL. */
  CODE_STRATEGY: z.enum(['snowflake', 'hash']).default('snowflake'),
  /** Hash strategy: salted rehashes tried before giving up on a URL (each collision costs one). */
  HASH_MAX_ATTEMPTS: intVar(8, 1, 64),
  /** Hash strategy: bloom filter sizing; past this many codes its false-positive rate climbs. */
  BLOOM_EXPECTED_CODES: intVar(1_000_000, 1_000, 100_000_000),
  BLOOM_FALSE_POSITIVE_RATE: z.coerce.number().gt(0).lt(0.5).default(0.01),
  /** 302 (default): every click reaches us and is counted. 301: browsers cache it, saving load. */
  REDIRECT_STATUS: z
    .enum(['301', '302'])
    .default('302')
    .transform((value): 301 | 302 => (value === '301' ? 301 : 302)),
  /** How long a browser may cache a 301 (links with an expiry or a click limit always get 302). */
  PERMANENT_REDIRECT_MAX_AGE_SECONDS: intVar(86_400, 0, 31_536_000),
  /** Cache-aside for redirects: entry lifetime, the in-process LRU's bound, and the negative TTL. */
  CACHE_TTL_MS: intVar(600_000, 1_000, 86_400_000),
  CACHE_MAX_ENTRIES: intVar(100_000, 100, 10_000_000),
  NEGATIVE_CACHE_TTL_MS: intVar(5_000, 0, 300_000),
  /** Clicks are buffered this long (or until CLICK_BATCH_MAX) and published as one message. */
  CLICK_LINGER_MS: intVar(50, 0, 5_000),
  CLICK_BATCH_MAX: intVar(500, 1, 5_000),
  /** Clicks waiting to be published beyond this are dropped and counted, never slowing redirects. */
  CLICK_BUFFER_MAX: intVar(100_000, 1_000, 10_000_000),
  /** Run the click aggregator in this instance (turn off to run redirects only). */
  AGGREGATOR_ENABLED: boolVar(true),
  /** The aggregator flushes at the latest this long after the oldest click it holds. */
  FLUSH_INTERVAL_MS: intVar(2_000, 50, 60_000),
  /** ...or sooner, once it holds this many clicks... */
  FLUSH_MAX_CLICKS: intVar(10_000, 1, 1_000_000),
  /**
   * ...or once no new message arrived for this long. The aggregator holds each message until the
   * flush that counted it commits, so a partition it owns sends nothing more meanwhile: a long
   * idle wait caps throughput (250 ms let one instance count only ~15,000 clicks/s, and the backlog
   * grew without bound beyond that), a short one costs more flushes. 20 ms keeps up with a
   * saturated instance (~30,000 clicks/s) at about 20 flushes a second.
   */
  FLUSH_IDLE_MS: intVar(20, 1, 60_000),
  /** Ids of applied click messages are kept this long to recognise redeliveries. */
  DEDUPE_RETENTION_HOURS: intVar(168, 1, 8_760),
  /** Per-minute click counts older than this are deleted (totals, referrers and devices stay). */
  CLICK_MINUTES_RETENTION_HOURS: intVar(48, 2, 8_760),
  /** Creations per client per window (Redis-backed across instances when REDIS_URL is set). */
  CREATE_RATE_LIMIT: intVar(60, 1, 1_000_000),
  CREATE_RATE_WINDOW_MS: intVar(60_000, 1_000, 86_400_000),
  RATE_LIMIT_ENABLED: boolVar(true),
  /**
   * Believe X-Forwarded-For (its last address: the one our proxy appended) for the client's
   * identity in rate limits and unique clicks. Off: the socket's address, which nobody can forge.
   */
  TRUST_PROXY: boolVar(false),
  /** Refuse targets on loopback, private, link-local, CGNAT or metadata hosts (on in compose). */
  BLOCK_PRIVATE_TARGETS: boolVar(false),
  /** QR images are rendered on this many worker threads, off the event loop. */
  QR_RENDER_THREADS: intVar(1, 1, 16),
  /** QR renders waiting for a thread beyond this are refused with 503 and Retry-After. */
  QR_RENDER_QUEUE_MAX: intVar(16, 0, 10_000),
  /** Rendered QR images kept (LRU by code, format and size). */
  QR_CACHE_ENTRIES: intVar(1_000, 1, 1_000_000),
  /** QR requests per client per window (rendering is the service's most expensive answer). */
  QR_RATE_LIMIT: intVar(30, 1, 1_000_000),
  QR_RATE_WINDOW_MS: intVar(60_000, 1_000, 86_400_000),
  /** Referrer hosts kept per link per UTC day; the rest are counted as "other". */
  REFERRER_TOP_N: intVar(20, 1, 1_000),
  /** Per-day referrer counts older than this are deleted. */
  REFERRER_RETENTION_DAYS: intVar(90, 1, 3_650),
  /** Clicks of one client on one link within this window count once in the "unique" figure. */
  UNIQUE_CLICK_WINDOW_SECONDS: intVar(600, 1, 86_400),
  /** Clients remembered for the unique figure (per instance; beyond it the oldest are forgotten). */
  UNIQUE_CLICK_TRACKED_MAX: intVar(100_000, 1_000, 10_000_000),
});

export type Config = z.infer<typeof configSchema>;
