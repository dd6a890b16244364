import type { ServiceApp } from '@sysdesign/platform';
import { type ClientRequest, clientAddressOf } from '../domain/client.js';
import { CODE_PATTERN } from '../domain/codes.js';
import { stateOf } from '../domain/link.js';
import type { Links } from '../domain/links.js';
import type { UniqueClicks } from '../domain/unique-clicks.js';
import { VisitorClassifier } from '../domain/visitor.js';
import { errors } from '../errors.js';
import type { ShortenerMetrics } from '../metrics.js';
import type { ClickPublisher } from '../workers/click-publisher.js';

export interface RedirectOptions {
  links: Links;
  publisher: ClickPublisher;
  metrics: ShortenerMetrics;
  /** 302 (every click reaches us) or 301 (browsers cache the redirect). */
  status: 301 | 302;
  permanentMaxAgeSeconds: number;
  uniqueClicks: UniqueClicks;
  /** TRUST_PROXY: the client is X-Forwarded-For's last address rather than the socket's peer. */
  trustProxy: boolean;
  nowMs: () => number;
}

function refusalOf(code: string, state: 'expired' | 'deleted' | 'disabled', expiresAtMs: number | undefined) {
  if (state === 'expired')
    return errors.URLSHORT_ERR_EXPIRED(`${code} expired at ${new Date(expiresAtMs!).toISOString()}`);
  if (state === 'disabled') return errors.URLSHORT_ERR_DISABLED(`${code} was disabled`);
  return errors.URLSHORT_ERR_DELETED(`${code} was deleted`);
}

/**
 * `GET /{code}`: the hot path. No schema validation (a regex instead), the link from the cache,
 * the click handed to the publisher without waiting, and an empty 301/302. A link with an expiry
 * or a click limit always gets a 302: a cached permanent redirect would outlive either.
 */
export function registerRedirectRoute(app: ServiceApp, options: RedirectOptions): void {
  const { links, publisher, metrics, nowMs } = options;
  const counted = {
    301: metrics.redirects.labels('301'),
    302: metrics.redirects.labels('302'),
    404: metrics.redirects.labels('404'),
    410: metrics.redirects.labels('410'),
  };
  const visitors = new VisitorClassifier();
  const permanentCacheControl = `public, max-age=${options.permanentMaxAgeSeconds}`;
  const temporaryCacheControl = 'private, no-cache';

  app.get(
    '/:code',
    {
      schema: {
        summary: 'Follow a short link',
        description:
          'Redirects to the long URL (302 by default; 301 with REDIRECT_STATUS=301). 404 for an unknown code; 410 once ' +
          'expired, deleted or past its click limit. Each redirect is counted as a click, asynchronously.',
      },
    },
    async (request, reply) => {
      const { code } = request.params as { code: string };
      if (!CODE_PATTERN.test(code)) {
        counted[404].inc();
        throw errors.URLSHORT_ERR_NOT_FOUND(`no short link ${code.slice(0, 64)}`);
      }
      const link = await links.lookup(code);
      if (link === undefined) {
        counted[404].inc();
        throw errors.URLSHORT_ERR_NOT_FOUND(`no short link ${code}`);
      }
      const now = nowMs();
      const state = stateOf(link, now);
      if (state !== 'active') {
        counted[410].inc();
        throw refusalOf(code, state, link.expiresAtMs);
      }
      if (link.limited && !(await links.admitRedirect(code))) {
        counted[410].inc();
        throw errors.URLSHORT_ERR_CLICK_LIMIT_REACHED(`${code} reached its click limit`);
      }
      publisher.record({
        code,
        at: now,
        referrer: visitors.referrerHost(request.headers.referer),
        device: visitors.deviceClass(request.headers['user-agent']),
        unique: options.uniqueClicks.isFirst(
          code,
          clientAddressOf(request as ClientRequest, options.trustProxy),
        ),
      });
      const permanent = options.status === 301 && !link.limited && link.expiresAtMs === undefined;
      const status = permanent ? 301 : 302;
      counted[status].inc();
      return reply
        .code(status)
        .header('location', link.url)
        .header('cache-control', permanent ? permanentCacheControl : temporaryCacheControl)
        .send();
    },
  );
}
