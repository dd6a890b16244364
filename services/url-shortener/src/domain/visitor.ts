/**
 * What a click records about its visitor: a device class from the User-Agent and the referring
 * host from the Referer header. Both are coarse on purpose: bounded cardinality for the counters,
 * and nothing that identifies a person (no full referrer URL, no IP).
 */

export const DEVICE_CLASSES = ['desktop', 'mobile', 'tablet', 'bot', 'other'] as const;
export type DeviceClass = (typeof DEVICE_CLASSES)[number];

/** The referrer of a click without a (usable) Referer header. */
export const DIRECT_REFERRER = 'direct';
const MAX_HOST_LENGTH = 253;
/** Longer headers are not parsed: a classification is not worth a hostile regex run. */
const MAX_USER_AGENT_LENGTH = 1_024;

const BOT =
  /bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|curl|wget|python-requests|httpclient|headless/i;
const TABLET = /ipad|tablet|kindle|silk|playbook|(android(?!.*mobile))/i;
const MOBILE = /mobi|iphone|ipod|android|blackberry|opera mini|iemobile|windows phone/i;
const DESKTOP = /windows nt|macintosh|mac os x|x11|linux|cros/i;

export function deviceClassOf(userAgent: string | undefined): DeviceClass {
  if (!userAgent || userAgent.length > MAX_USER_AGENT_LENGTH) return 'other';
  if (BOT.test(userAgent)) return 'bot';
  if (TABLET.test(userAgent)) return 'tablet';
  if (MOBILE.test(userAgent)) return 'mobile';
  if (DESKTOP.test(userAgent)) return 'desktop';
  return 'other';
}

/** The referring host, lower-case, or `direct` when the header is absent or not an http(s) URL. */
export function referrerHostOf(referer: string | undefined): string {
  if (!referer || referer.length > 4_096) return DIRECT_REFERRER;
  try {
    const url = new URL(referer);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '')
      return DIRECT_REFERRER;
    return url.hostname.length > MAX_HOST_LENGTH ? DIRECT_REFERRER : url.hostname;
  } catch {
    return DIRECT_REFERRER;
  }
}
