import { TokenAuthority, type TokenAuthorityOptions, type VerifiedToken } from '@sysdesign/platform';

/**
 * A TokenAuthority that remembers the tokens it verified, so a client reading its feed again and
 * again pays one HMAC check per token and minute rather than per request. Safe because the cache
 * key is the whole token string (header, claims and signature: any other string is verified in
 * full), only successes are kept, an entry is never served at or past the token's own `exp`
 * (the full check, with its clock tolerance, runs then), entries live at most `ttlMs`, and the
 * cache holds at most `entriesMax` tokens of at most `tokenCharsMax` characters (longer ones are
 * verified every time), so its memory is bounded whatever clients send.
 */

export interface TokenCacheOptions extends TokenAuthorityOptions {
  entriesMax: number;
  ttlMs: number;
  tokenCharsMax: number;
}

interface Entry {
  verified: VerifiedToken;
  /** The earlier of the token's `exp` and the entry's time to live. */
  untilMs: number;
}

export class CachingTokenAuthority extends TokenAuthority {
  private readonly entries = new Map<string, Entry>();
  private readonly nowMs: () => number;

  constructor(private readonly options: TokenCacheOptions) {
    super(options);
    this.nowMs = options.now ?? Date.now;
    if (!Number.isInteger(options.entriesMax) || options.entriesMax < 1) {
      throw new RangeError('entriesMax must be >= 1');
    }
  }

  get size(): number {
    return this.entries.size;
  }

  override async verify(token: string): Promise<VerifiedToken> {
    const nowMs = this.nowMs();
    const entry = this.entries.get(token);
    if (entry !== undefined) {
      if (nowMs < entry.untilMs) return copyOf(entry.verified);
      this.entries.delete(token);
    }
    const verified = await super.verify(token);
    if (token.length <= this.options.tokenCharsMax) {
      const untilMs = Math.min(verified.expiresAt.getTime(), nowMs + this.options.ttlMs);
      if (nowMs < untilMs) {
        this.entries.delete(token);
        this.entries.set(token, { verified: copyOf(verified), untilMs });
        if (this.entries.size > this.options.entriesMax) {
          this.entries.delete(this.entries.keys().next().value as string);
        }
      }
    }
    return verified;
  }
}

/** Callers may change what they are given; the cached claims stay as verified. */
function copyOf(verified: VerifiedToken): VerifiedToken {
  return { subject: verified.subject, scopes: [...verified.scopes], expiresAt: new Date(verified.expiresAt) };
}
