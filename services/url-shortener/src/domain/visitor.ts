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

/** Strings longer than this are classified but not remembered. */
const MEMO_KEY_MAX_LENGTH = 512;
export const VISITOR_MEMO_ENTRIES = 1_024;

/**
 * `deviceClassOf` and `referrerHostOf` with a small memory: real traffic repeats a few hundred
 * User-Agents and referrers, and a redirect should not parse the same ones again. Bounded: when
 * full it starts over, so a flood of unique headers costs the plain computation, never memory.
 */
export class VisitorClassifier {
  private readonly devices = new Map<string, DeviceClass>();
  private readonly referrers = new Map<string, string>();

  deviceClass(userAgent: string | undefined): DeviceClass {
    if (userAgent === undefined || userAgent.length > MEMO_KEY_MAX_LENGTH) return deviceClassOf(userAgent);
    let device = this.devices.get(userAgent);
    if (device === undefined) {
      device = deviceClassOf(userAgent);
      if (this.devices.size >= VISITOR_MEMO_ENTRIES) this.devices.clear();
      this.devices.set(userAgent, device);
    }
    return device;
  }

  referrerHost(referer: string | undefined): string {
    if (referer === undefined || referer.length > MEMO_KEY_MAX_LENGTH) return referrerHostOf(referer);
    let host = this.referrers.get(referer);
    if (host === undefined) {
      host = referrerHostOf(referer);
      if (this.referrers.size >= VISITOR_MEMO_ENTRIES) this.referrers.clear();
      this.referrers.set(referer, host);
    }
    return host;
  }
}
