import { createService, type ServiceApp, type ServiceOptions, type TokenAuthority } from '@sysdesign/platform';
import { SERVICE_NAME } from './config.js';
import type { Links } from './domain/links.js';
import { selfReferenceOf } from './domain/target-url.js';
import type { ShortenerMetrics } from './metrics.js';
import { registerLinkRoutes } from './routes/links.js';
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
  redirectStatus: 301 | 302;
  permanentRedirectMaxAgeSeconds: number;
  nowMs?: () => number;
}

/** The HTTP app over ready-made parts; `service.ts` makes the parts from configuration. */
export function registerApp(app: ServiceApp, deps: AppDeps): ServiceApp {
  const nowMs = deps.nowMs ?? Date.now;
  registerLinkRoutes(app, {
    links: deps.links,
    clicks: deps.clicks,
    authority: deps.authority,
    publicBaseUrl: deps.publicBaseUrl,
    self: selfReferenceOf(deps.publicBaseUrl),
    nowMs,
  });
  registerRedirectRoute(app, {
    links: deps.links,
    publisher: deps.publisher,
    metrics: deps.metrics,
    status: deps.redirectStatus,
    permanentMaxAgeSeconds: deps.permanentRedirectMaxAgeSeconds,
    nowMs,
  });
  return app;
}

export async function createApp(options: Omit<ServiceOptions, 'name'>): Promise<ServiceApp> {
  return createService({
    name: SERVICE_NAME,
    description:
      'Short codes for long URLs: base62 snowflake or hashed codes, cache-aside redirects, click analytics as a stream.',
    ...options,
  });
}
