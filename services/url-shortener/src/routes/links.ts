import {
  bearerTokenOf,
  type FieldError,
  requireUser,
  type ServiceApp,
  type TokenAuthority,
  userOf,
  validationProblem,
} from '@sysdesign/platform';
import { z } from 'zod';
import { aliasProblem } from '../domain/alias.js';
import { CODE_PATTERN } from '../domain/codes.js';
import { type Link, stateOf, toCached } from '../domain/link.js';
import type { Links } from '../domain/links.js';
import { LruCache } from '../domain/lru.js';
import { checkTargetUrl, MAX_URL_LENGTH, type SelfReference } from '../domain/target-url.js';
import { errors } from '../errors.js';
import type { QrRenderer } from '../qr/renderer.js';
import type { ClickStore } from '../store/click-store.js';

export const MAX_CLICKS_LIMIT = 1_000_000_000;
/** Expiry at most this far ahead: a typo'd year 29999 is an error, not a plan. */
export const MAX_EXPIRY_AHEAD_MS = 10 * 365 * 24 * 60 * 60 * 1000;
/** The only QR sizes, in pixels: a few presets keep the cache small and its hit rate high. */
export const QR_SIZES = { s: 128, m: 256, l: 512 } as const;
export const QR_MARGIN_MODULES = 2;
export const QR_CACHE_TTL_MS = 60 * 60_000;
const ALIAS_INPUT_MAX = 256;

const createBody = z.strictObject({
  url: z
    .string({ error: 'must be a string' })
    .max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`)
    .describe('The long URL: http or https, at most 2048 characters'),
  alias: z
    .string({ error: 'must be a string' })
    .max(ALIAS_INPUT_MAX, 'must be 3 to 32 characters')
    .optional()
    .describe('A custom code: [A-Za-z0-9_-]{3,32}, not a reserved word'),
  expiresAt: z.iso
    .datetime({
      offset: true,
      error: 'must be an ISO 8601 date-time with a time zone, e.g. 2030-01-01T00:00:00Z',
    })
    .optional()
    .describe('When the link stops redirecting (410 after)'),
  maxClicks: z
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(MAX_CLICKS_LIMIT, `must be at most ${MAX_CLICKS_LIMIT}`)
    .optional()
    .describe('Redirects allowed in all (410 after)'),
});

const codeParams = z.object({
  code: z
    .string()
    .regex(CODE_PATTERN, 'must be 1 to 32 of A-Z, a-z, 0-9, _ and -')
    .describe('The short code'),
});

const linkResponse = z.object({
  code: z.string(),
  shortUrl: z.string(),
  url: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  maxClicks: z.number().int().nullable(),
});

const statsResponse = linkResponse.extend({
  status: z.enum(['active', 'expired', 'exhausted']),
  remainingClicks: z.number().int().nullable(),
  clicks: z.object({
    total: z.number().int(),
    unique: z.number().int().describe('Clicks less repeats of one client within UNIQUE_CLICK_WINDOW_SECONDS'),
    perMinute: z.array(z.object({ minute: z.string(), clicks: z.number().int() })),
    topReferrers: z.array(z.object({ referrer: z.string(), clicks: z.number().int() })),
    devices: z.array(z.object({ device: z.string(), clicks: z.number().int() })),
  }),
});

const qrQuery = z.object({
  format: z.enum(['svg', 'png'], { error: 'must be svg or png' }).default('svg'),
  size: z
    .enum(['s', 'm', 'l'], { error: 'must be s, m or l' })
    .default('m')
    .describe(`s (${QR_SIZES.s} px), m (${QR_SIZES.m} px) or l (${QR_SIZES.l} px), square`),
});

/** A route's rate limit, enforced by @sysdesign/redis-limiters (registered by app.ts). */
export interface RouteRateLimit {
  limit: number;
  windowMs: number;
}

export interface QrOptions {
  renderer: QrRenderer;
  cacheEntries: number;
  /** Absent: QR codes are not rate-limited. */
  rateLimit?: RouteRateLimit | undefined;
}

export interface LinkRoutesOptions {
  links: Links;
  /** Absent: creation is not rate-limited. */
  createRateLimit?: RouteRateLimit | undefined;
  clicks: ClickStore;
  authority: TokenAuthority;
  publicBaseUrl: string;
  self: SelfReference;
  blockPrivateTargets: boolean;
  qr: QrOptions;
  nowMs: () => number;
}

type LinkBody = z.infer<typeof linkResponse>;
/** Fastify's request type, as the platform's auth hooks take it (this package does not depend on fastify). */
type FastifyRequest = Parameters<ReturnType<typeof requireUser>>[0];

/** What every link route shares: the store, the clock and the link's JSON shape. */
interface LinkRouteContext {
  links: Links;
  nowMs: () => number;
  shortUrlOf(code: string): string;
  bodyOf(link: Link): LinkBody;
  /** The live link of a code, or the 404/410 a client should see. */
  liveLink(code: string): Promise<Link>;
}

export function registerLinkRoutes(app: ServiceApp, options: LinkRoutesOptions): void {
  const { links } = options;
  const shortUrlOf = (code: string) => `${options.publicBaseUrl}/${code}`;
  const routes: LinkRouteContext = {
    links,
    nowMs: options.nowMs,
    shortUrlOf,
    bodyOf: (link) => ({
      code: link.code,
      shortUrl: shortUrlOf(link.code),
      url: link.url ?? '',
      createdAt: link.createdAt.toISOString(),
      expiresAt: link.expiresAt?.toISOString() ?? null,
      maxClicks: link.maxClicks ?? null,
    }),
    liveLink: async (code) => {
      const link = await links.find(code);
      if (!link) throw errors.URLSHORT_ERR_NOT_FOUND(`no short link ${code}`);
      if (link.deletedAt) throw errors.URLSHORT_ERR_DELETED(`${code} was deleted`);
      if (link.disabledAt) throw errors.URLSHORT_ERR_DISABLED(`${code} was disabled`);
      return link;
    },
  };
  registerCreateRoute(app, routes, options);
  registerStatsRoute(app, routes, options.clicks);
  registerDeleteRoute(app, routes, options.authority);
  registerQrRoute(app, routes, options.qr);
}

/**
 * Authentication is optional on creation: a valid bearer token makes its subject the owner (and
 * the rate-limit key); an invalid one is refused rather than ignored. It runs at onRequest, so
 * the limiter (at preHandler) already knows who asks.
 */
function optionalUser(authority: TokenAuthority) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (header === undefined) return;
    const verified = await authority.verify(bearerTokenOf(header));
    request.user = { id: verified.subject, scopes: verified.scopes };
  };
}

function rateLimitConfigOf(name: string, limit: RouteRateLimit | undefined) {
  if (!limit) return {};
  return {
    rateLimit: {
      name,
      policy: { algorithm: 'sliding_window_counter' as const, limit: limit.limit, windowMs: limit.windowMs },
    },
  };
}

/** The creation request's checks beyond its schema, all reported at once; the normalised URL and expiry. */
function checkCreateRequest(
  body: z.infer<typeof createBody>,
  options: Pick<LinkRoutesOptions, 'self' | 'blockPrivateTargets'>,
  nowMs: number,
): { url: string; expiresAt: Date | undefined } {
  const problems: FieldError[] = [];
  const target = checkTargetUrl(body.url, options.self, { blockPrivateTargets: options.blockPrivateTargets });
  if (!target.ok) problems.push({ in: 'body', field: 'url', message: target.reason });
  const aliasReason = body.alias === undefined ? undefined : aliasProblem(body.alias);
  if (aliasReason) problems.push({ in: 'body', field: 'alias', message: aliasReason });
  const expiry = body.expiresAt === undefined ? undefined : new Date(body.expiresAt);
  if (expiry && expiry.getTime() <= nowMs)
    problems.push({ in: 'body', field: 'expiresAt', message: 'must be in the future' });
  if (expiry && expiry.getTime() > nowMs + MAX_EXPIRY_AHEAD_MS) {
    problems.push({ in: 'body', field: 'expiresAt', message: 'must be at most 10 years ahead' });
  }
  if (problems.length > 0 || !target.ok) throw validationProblem(problems);
  return { url: target.url, expiresAt: expiry };
}

function registerCreateRoute(app: ServiceApp, routes: LinkRouteContext, options: LinkRoutesOptions): void {
  app.post(
    '/v1/urls',
    {
      onRequest: optionalUser(options.authority),
      config: rateLimitConfigOf('create-url', options.createRateLimit),
      schema: {
        summary: 'Shorten a URL',
        description:
          'Creates a short link (201). The same URL without alias, expiry or click limit returns its existing link ' +
          '(200). With a bearer token, the link belongs to its subject, who alone may delete it.',
        body: createBody,
        response: { 200: linkResponse, 201: linkResponse },
      },
    },
    async (request, reply) => {
      const { url, expiresAt } = checkCreateRequest(request.body, options, routes.nowMs());
      const { created, link } = await routes.links.create({
        url,
        alias: request.body.alias,
        expiresAt,
        maxClicks: request.body.maxClicks,
        owner: request.user?.id,
      });
      if (created) reply.header('location', `/v1/urls/${link.code}`);
      return reply.code(created ? 201 : 200).send(routes.bodyOf(link));
    },
  );
}

function registerStatsRoute(app: ServiceApp, routes: LinkRouteContext, clicks: ClickStore): void {
  app.get(
    '/v1/urls/:code',
    {
      schema: {
        summary: 'A short link and its clicks',
        description:
          'The link, and its clicks: the total, per minute for the last hour, the top referrers and the device classes. ' +
          'Counts lag redirects by up to the aggregator’s flush interval.',
        params: codeParams,
        response: { 200: statsResponse },
      },
    },
    async (request) => {
      const link = await routes.liveLink(request.params.code);
      const now = routes.nowMs();
      const exhausted = link.maxClicks !== undefined && link.redirectsUsed >= link.maxClicks;
      const status =
        stateOf(toCached(link), now) === 'expired' ? 'expired' : exhausted ? 'exhausted' : 'active';
      return {
        ...routes.bodyOf(link),
        status,
        remainingClicks:
          link.maxClicks === undefined ? null : Math.max(0, link.maxClicks - link.redirectsUsed),
        clicks: await clicks.stats(link.code, now),
      } as const;
    },
  );
}

function registerDeleteRoute(app: ServiceApp, routes: LinkRouteContext, authority: TokenAuthority): void {
  app.delete(
    '/v1/urls/:code',
    {
      schema: {
        summary: 'Delete a short link',
        description:
          'Only with the bearer token of its creator. The code is never issued again; its clicks are dropped.',
        params: codeParams,
      },
      preHandler: requireUser(authority),
    },
    async (request, reply) => {
      await routes.links.delete(request.params.code, userOf(request).id);
      return reply.code(204).send();
    },
  );
}

/**
 * The QR image of a short URL: one of three sizes, rendered off the event loop (503 when the
 * render queue is full), kept in an LRU, one render per key however many ask at once, and
 * rate-limited per client.
 */
function registerQrRoute(app: ServiceApp, routes: LinkRouteContext, qr: QrOptions): void {
  const qrCache = new LruCache<string | Buffer>(qr.cacheEntries, routes.nowMs);
  const rendering = new Map<string, Promise<string | Buffer>>();
  const imageOf = (code: string, query: z.infer<typeof qrQuery>): Promise<string | Buffer> => {
    const key = `${code}|${query.format}|${query.size}`;
    const cached = qrCache.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    let render = rendering.get(key);
    if (render === undefined) {
      render = qr.renderer
        .render({
          text: routes.shortUrlOf(code),
          format: query.format,
          sizePx: QR_SIZES[query.size],
          marginModules: QR_MARGIN_MODULES,
        })
        .then((image) => {
          qrCache.set(key, image, QR_CACHE_TTL_MS);
          return image;
        })
        .finally(() => rendering.delete(key));
      rendering.set(key, render);
    }
    return render;
  };
  app.get(
    '/v1/urls/:code/qr',
    {
      config: rateLimitConfigOf('qr', qr.rateLimit),
      schema: {
        summary: 'The short URL as a QR code',
        description:
          `SVG (default) or PNG, size s (${QR_SIZES.s} px), m (default, ${QR_SIZES.m} px) or l (${QR_SIZES.l} px). ` +
          '503 with Retry-After while the renderer is saturated.',
        params: codeParams,
        querystring: qrQuery,
      },
    },
    async (request, reply) => {
      const { code } = request.params;
      const link = await routes.liveLink(code);
      if (stateOf(toCached(link), routes.nowMs()) === 'expired')
        throw errors.URLSHORT_ERR_EXPIRED(`${code} has expired`);
      const image = await imageOf(code, request.query);
      return reply
        .type(request.query.format === 'svg' ? 'image/svg+xml; charset=utf-8' : 'image/png')
        .header('cache-control', 'public, max-age=3600')
        .header('x-content-type-options', 'nosniff')
        .send(image);
    },
  );
}
