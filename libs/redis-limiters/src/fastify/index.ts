/**
 * `@sysdesign/redis-limiters/fastify`: rate limiting for Fastify 5, shared through Redis.
 *
 * ```ts
 * import rateLimit, { keyBy } from '@sysdesign/redis-limiters/fastify';
 *
 * await app.register(rateLimit, {
 *   redis,                                   // an ioredis client; omit it to count in this process only
 *   policy: { algorithm: 'sliding_window_counter', limit: 100, windowMs: 60_000 },
 *   global: true,                            // every route (default); false: only routes that ask
 *   key: keyBy.ip,                           // or keyBy.header('x-api-key'), keyBy.user(fn), any (request) => string
 *   failMode: 'open',                        // Redis down: 'open' admits, 'closed' answers 503
 * });
 *
 * app.post('/v1/urls', {
 *   config: { rateLimit: { name: 'create-url', policy: { algorithm: 'token_bucket', limit: 10, windowMs: 60_000 } } },
 * }, handler);
 * app.get('/healthz', { config: { rateLimit: false } }, handler);   // never limited
 * app.get('/manual', { onRequest: app.rateLimit({ name: 'manual', policy }) }, handler);
 * ```
 *
 * Register it before the routes it should see (it hooks `onRoute`). Every limited response carries
 * `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds), `RateLimit-Policy`
 * and `RateLimit` (the IETF draft's structured fields). A refused request gets `Retry-After` (when
 * waiting helps) and the plugin throws what `errorResponseBuilder(request, context)` returns, as
 * @fastify/rate-limit does: by default a `RateLimitRefusedError` (a 429, or a 503 when failing
 * closed) that Fastify's error handler renders, or the application's own handler shapes. The
 * decision is on `request.rateLimit`.
 *
 * Stable API (semver): the default export, `RateLimitPluginOptions`, `RouteRateLimitOptions`,
 * `RateLimitErrorContext`, `RateLimitRefusedError`, `keyBy`, `request.rateLimit`,
 * `app.rateLimit()` and the header names.
 */
import type {
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { CircuitBreaker, type CircuitBreakerOptions } from '../circuit-breaker.js';
import { CostExceedsLimitError, LimiterUnavailableError } from '../errors.js';
import { type HeaderOptions, policyHeaderValue, writeRateLimitHeaders } from '../headers.js';
import { MemoryLimiter } from '../memory-limiter.js';
import { MemoryStore } from '../memory-store.js';
import type { OverLimitCacheOptions } from '../over-limit-cache.js';
import type { RateLimitPolicy } from '../policy.js';
import { type LimiterEvents, type RedisClient, RedisLimiter } from '../redis-limiter.js';
import type { LimitResult } from '../result.js';
import { defaultErrorResponseBuilder, type ErrorResponseBuilder } from './refusal.js';

export type KeyFunction = (request: FastifyRequest) => string | undefined;
export type CostFunction = (request: FastifyRequest) => number;

/** What a route may set in `config.rateLimit`; unset fields come from the plugin's options. */
export interface RouteRateLimitOptions {
  /** The route's own policy; with it and no `name`, the route is named `<METHOD> <url>`. */
  policy?: RateLimitPolicy;
  /** Names the counter: routes with the same name share one quota per key. */
  name?: string;
  key?: KeyFunction;
  cost?: number | CostFunction;
}

export interface RateLimitPluginOptions extends RouteRateLimitOptions {
  /** Shared Redis. Without it, counts live in this process (in-memory twins, same semantics). */
  redis?: RedisClient;
  /** Limit every route (default), or only routes whose `config.rateLimit` is an object. */
  global?: boolean;
  /** Redis cannot decide (down, slow, breaker open): `open` admits (default), `closed` answers 503. */
  failMode?: 'open' | 'closed';
  /** The longest a decision waits for Redis. Default 100 ms. */
  timeoutMs?: number;
  /** One breaker for all of this plugin's limiters. Default: 5 failures open it for 1 s. */
  breaker?: CircuitBreaker | CircuitBreakerOptions;
  /** Local memory of refused keys. Default `{ maxKeys: 10_000, maxTtlMs: 1_000 }`; false: off. */
  overLimitCache?: OverLimitCacheOptions | false;
  /** Prepended to every Redis key. Default `rl:`. */
  prefix?: string;
  headers?: HeaderOptions;
  /** Requests it returns true for are not limited (internal callers, health checks). */
  allow?: (request: FastifyRequest) => boolean;
  /** Called for every refused request. */
  onExceeded?: (request: FastifyRequest, decision: RateLimitDecision) => void;
  /** Called when Redis could not decide and the fail mode was applied. */
  onUnavailable?: (request: FastifyRequest, error: LimiterUnavailableError) => void;
  /** Where the check runs: `onRequest` (default; before the body is read) or `preHandler` (after auth). */
  hook?: 'onRequest' | 'preHandler';
  /**
   * What a refusal throws: the result goes to the application's error handler (Fastify's default
   * renders an Error's `statusCode`, `code` and `message`). Default: `RateLimitRefusedError`.
   */
  errorResponseBuilder?: ErrorResponseBuilder;
  /** Observes every Redis reply, failure and cache hit (metrics). */
  events?: LimiterEvents;
  /** The in-memory store, when there is no Redis (share one between apps in a test). */
  store?: MemoryStore;
}

/** A decision, as `request.rateLimit` holds it. */
export interface RateLimitDecision extends LimitResult {
  /** The policy's name. */
  name: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    rateLimit?: RouteRateLimitOptions | false;
  }
  interface FastifyRequest {
    /** The rate-limit decision of this request; null when the route is not limited. */
    rateLimit: RateLimitDecision | null;
  }
  interface FastifyInstance {
    /** A hook enforcing these options (merged over the plugin's) on routes it is added to. */
    rateLimit(options?: RouteRateLimitOptions): onRequestHookHandler;
  }
}

export const DEFAULT_POLICY_NAME = 'default';

/** Ready-made key functions. Each prefixes its kind, so an IP and a user id never share a counter. */
export const keyBy = {
  /** The client address (Fastify's `request.ip`, which honours `trustProxy`). */
  ip: ((request) => `ip:${request.ip}`) as KeyFunction,
  /** A header's value (an API key, a tenant id); requests without it are not limited. */
  header(name: string): KeyFunction {
    const lowerName = name.toLowerCase();
    return (request) => {
      const value = request.headers[lowerName];
      return typeof value === 'string' && value.length > 0 ? `${lowerName}:${value}` : undefined;
    };
  },
  /** The user your auth put on the request; anonymous requests are limited by IP. */
  user(userIdOf: (request: FastifyRequest) => string | number | undefined | null): KeyFunction {
    return (request) => {
      const id = userIdOf(request);
      return id === undefined || id === null || id === '' ? `ip:${request.ip}` : `user:${id}`;
    };
  },
};

interface ResolvedRoute {
  limiter: RedisLimiter | MemoryLimiter;
  name: string;
  policyHeader: string;
  key: KeyFunction;
  cost: number | CostFunction;
}

function windowText(windowMs: number): string {
  return windowMs % 1_000 === 0 ? `${windowMs / 1_000} s` : `${windowMs} ms`;
}

/** Route names become part of Redis keys: no braces (they would become the cluster hash tag). */
function routeName(method: string, url: string): string {
  return `${method} ${url}`.replace(/[{}]/g, '_').slice(0, 128);
}

const plugin: FastifyPluginAsync<RateLimitPluginOptions> = async (app, options) => {
  const failMode = options.failMode ?? 'open';
  const hookName = options.hook ?? 'onRequest';
  const buildError = options.errorResponseBuilder ?? defaultErrorResponseBuilder;
  const breaker =
    options.breaker instanceof CircuitBreaker
      ? options.breaker
      : new CircuitBreaker({
          ...options.breaker,
          onStateChange: (state) => {
            if (state === 'open') app.log.warn('rate limiter: Redis failing, circuit breaker open');
            else if (state === 'closed')
              app.log.info('rate limiter: Redis answering again, circuit breaker closed');
          },
        });
  const store = options.store ?? new MemoryStore();
  const limiters = new Map<string, ResolvedRoute['limiter']>();

  function limiterFor(name: string, policy: RateLimitPolicy): ResolvedRoute['limiter'] {
    const existing = limiters.get(name);
    if (existing !== undefined) {
      const same =
        existing.policy.algorithm === policy.algorithm &&
        existing.policy.limit === policy.limit &&
        existing.policy.windowMs === policy.windowMs &&
        existing.policy.burst === (policy.burst ?? policy.limit);
      if (!same) throw new Error(`rate limit "${name}" is configured twice with different policies`);
      return existing;
    }
    const common = { name, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) };
    const limiter = options.redis
      ? new RedisLimiter(options.redis, policy, {
          ...common,
          breaker,
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          ...(options.overLimitCache === undefined ? {} : { overLimitCache: options.overLimitCache }),
          ...(options.events === undefined ? {} : { events: options.events }),
        })
      : new MemoryLimiter(policy, { ...common, store });
    limiters.set(name, limiter);
    return limiter;
  }

  function resolve(route: RouteRateLimitOptions, defaultName: string): ResolvedRoute {
    const policy = route.policy ?? options.policy;
    if (policy === undefined) throw new Error('rate limit: no policy (set one on the plugin or the route)');
    const name =
      route.name ?? (route.policy !== undefined ? defaultName : (options.name ?? DEFAULT_POLICY_NAME));
    const limiter = limiterFor(name, policy);
    return {
      limiter,
      name,
      policyHeader: policyHeaderValue(name, limiter.policy),
      key: route.key ?? options.key ?? keyBy.ip,
      cost: route.cost ?? options.cost ?? 1,
    };
  }

  function makeHook(route: ResolvedRoute): onRequestHookHandler {
    return async function rateLimitHook(request, reply) {
      if (options.allow?.(request)) return;
      const key = route.key(request);
      if (key === undefined) return;
      const cost = typeof route.cost === 'number' ? route.cost : route.cost(request);
      let result: LimitResult;
      try {
        result = await route.limiter.limit(key, { cost });
      } catch (error) {
        return handleFailure(error, request, reply, route, cost);
      }
      const decision: RateLimitDecision = { ...result, name: route.name };
      request.rateLimit = decision;
      writeRateLimitHeaders((name, value) => reply.header(name, value), result, route, options.headers);
      if (result.allowed) return;
      options.onExceeded?.(request, decision);
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1_000));
      throw buildError(request, {
        reason: 'rate-limited',
        statusCode: 429,
        policy: route.name,
        limit: result.limit,
        remaining: result.remaining,
        retryAfterMs: result.retryAfterMs,
        windowMs: route.limiter.policy.windowMs,
        cost,
        detail: `rate limit "${route.name}" exceeded: ${route.limiter.policy.limit} per ${windowText(route.limiter.policy.windowMs)}; retry in ${seconds} s`,
      });
    };
  }

  function handleFailure(
    error: unknown,
    request: FastifyRequest,
    reply: FastifyReply,
    route: ResolvedRoute,
    cost: number,
  ): undefined {
    const { limit, windowMs } = route.limiter.policy;
    if (error instanceof LimiterUnavailableError) {
      options.onUnavailable?.(request, error);
      if (failMode === 'open') return undefined;
      const retryAfterMs = Math.max(1_000, breaker.cooldownMs);
      reply.header('retry-after', String(Math.ceil(retryAfterMs / 1_000)));
      throw buildError(request, {
        reason: 'unavailable',
        statusCode: 503,
        policy: route.name,
        limit,
        remaining: 0,
        retryAfterMs,
        windowMs,
        cost,
        detail: `the rate limiter cannot decide (${error.reason}) and fails closed; retry shortly`,
        error,
      });
    }
    if (error instanceof CostExceedsLimitError) {
      throw buildError(request, {
        reason: 'cost-too-high',
        statusCode: 429,
        policy: route.name,
        limit: error.capacity,
        remaining: 0,
        retryAfterMs: 0,
        windowMs,
        cost,
        detail: `this request costs ${cost} but rate limit "${route.name}" admits at most ${error.capacity} at once: it can never pass`,
        error,
      });
    }
    throw error;
  }

  function addHook(routeOptions: RouteOptions, hook: onRequestHookHandler): void {
    const existing = routeOptions[hookName];
    const hooks = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
    // Fastify types each hook list separately; the limiter's hook fits both.
    (routeOptions as unknown as Record<string, unknown>)[hookName] = [hook, ...hooks];
  }

  app.decorateRequest('rateLimit', null);
  app.decorate('rateLimit', (route: RouteRateLimitOptions = {}) =>
    makeHook(resolve(route, route.name ?? DEFAULT_POLICY_NAME)),
  );

  app.addHook('onRoute', (routeOptions) => {
    const config = routeOptions.config?.rateLimit;
    if (config === false) return;
    if (config === undefined && options.global === false) return;
    const method = Array.isArray(routeOptions.method) ? routeOptions.method.join(',') : routeOptions.method;
    addHook(routeOptions, makeHook(resolve(config ?? {}, routeName(method, routeOptions.url))));
  });
};

/** The plugin, wrapped so it applies to the scope it is registered in. */
const rateLimit = fp(plugin, { fastify: '5.x', name: '@sysdesign/redis-limiters' });
export default rateLimit;
export type { LimiterUnavailableError } from '../errors.js';
export type { RateLimitPolicy } from '../policy.js';
export type { LimitResult } from '../result.js';
export {
  defaultErrorResponseBuilder,
  type ErrorResponseBuilder,
  type RateLimitErrorContext,
  RateLimitRefusedError,
  type RefusalReason,
} from './refusal.js';
export { rateLimit };
