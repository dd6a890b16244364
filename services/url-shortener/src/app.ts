import { Problem, type Redis, type ServiceApp, type TokenAuthority } from '@sysdesign/platform';
import rateLimit, { type RateLimitErrorContext } from '@sysdesign/redis-limiters/fastify';
import { type ClientRequest, clientAddressOf } from './domain/client.js';
import type { Links } from './domain/links.js';
import type { SelfReference } from './domain/target-url.js';
import { UniqueClicks } from './domain/unique-clicks.js';
import type { ShortenerMetrics } from './metrics.js';
import type { QrRenderer } from './qr/renderer.js';
import { registerAdminRoutes } from './routes/admin.js';
import { type RouteRateLimit, registerLinkRoutes } from './routes/links.js';
import { registerRedirectRoute } from './routes/redirect.js';
import type { ClickStore } from './store/click-store.js';
import type { ClickPublisher } from './workers/click-publisher.js';

export interface AppDeps {
  links: Links;
  clicks: ClickStore;
  publisher: ClickPublisher;
  authority: TokenAuthority;
  metrics: ShortenerMetrics;
  publicBaseUrl: string;
  /** Every origin that reaches this service (PUBLIC_BASE_URL and the listen addresses). */
  self: SelfReference;
  blockPrivateTargets: boolean;
  trustProxy: boolean;
  redirectStatus: 301 | 302;
  permanentRedirectMaxAgeSeconds: number;
  qr: { renderer: QrRenderer; cacheEntries: number };
  uniqueClicks: { windowMs: number; maxEntries: number };
  /** Absent: nothing is rate-limited. */
  rateLimits?: {
    create: RouteRateLimit;
    qr: RouteRateLimit;
    /** Shared counts across instances; without it each instance counts on its own. */
    redis?: Redis;
    /** Prefix of the limiter's Redis keys. */
    keyPrefix: string;
  };
  nowMs?: () => number;
}

/** The service's problem+json for a refusal of the rate-limit plugin (the platform's handler renders it). */
function rateLimitProblem(context: RateLimitErrorContext): Problem {
  const { policy, limit, remaining, retryAfterMs, detail } = context;
  if (context.reason === 'unavailable') {
    return new Problem('RATE_LIMITER_UNAVAILABLE', 503, 'Rate limiter unavailable', detail);
  }
  if (context.reason === 'cost-too-high') {
    return new Problem('RATE_LIMIT_COST_TOO_HIGH', 429, 'Request exceeds the rate limit', detail, {
      policy,
      limit,
    });
  }
  return new Problem('RATE_LIMITED', 429, 'Too many requests', detail, {
    policy,
    limit,
    remaining,
    retryAfterMs,
  });
}

/** The HTTP app over ready-made parts; `service.ts` makes the parts from configuration. */
export async function registerApp(app: ServiceApp, deps: AppDeps): Promise<ServiceApp> {
  const nowMs = deps.nowMs ?? Date.now;
  const limit = deps.rateLimits;
  if (limit) {
    // Registered before the routes (it hooks onRoute); only routes that ask are limited. It runs
    // at preHandler, after the creation route's optional authentication: a signed-in user has a
    // quota of their own, anonymous callers one per address (TRUST_PROXY decides which address).
    // Redis down: admit (fail open).
    const clientOf = (request: ClientRequest) => clientAddressOf(request, deps.trustProxy);
    await app.register(rateLimit, {
      global: false,
      hook: 'preHandler',
      key: (request) => (request.user ? `user:${request.user.id}` : `ip:${clientOf(request)}`),
      failMode: 'open',
      prefix: limit.keyPrefix,
      ...(limit.redis ? { redis: limit.redis } : {}),
      errorResponseBuilder: (_request, context) => rateLimitProblem(context),
      onExceeded: () => deps.metrics.rateLimited.inc(),
      onUnavailable: () => deps.metrics.rateLimiterUnavailable.inc(),
    });
  }
  registerLinkRoutes(app, {
    createRateLimit: limit?.create,
    links: deps.links,
    clicks: deps.clicks,
    authority: deps.authority,
    publicBaseUrl: deps.publicBaseUrl,
    self: deps.self,
    blockPrivateTargets: deps.blockPrivateTargets,
    qr: { ...deps.qr, rateLimit: limit?.qr },
    nowMs,
  });
  registerAdminRoutes(app, { links: deps.links, authority: deps.authority });
  registerRedirectRoute(app, {
    links: deps.links,
    publisher: deps.publisher,
    metrics: deps.metrics,
    status: deps.redirectStatus,
    permanentMaxAgeSeconds: deps.permanentRedirectMaxAgeSeconds,
    uniqueClicks: new UniqueClicks(deps.uniqueClicks.windowMs, deps.uniqueClicks.maxEntries, nowMs),
    trustProxy: deps.trustProxy,
    nowMs,
  });
  return app;
}
