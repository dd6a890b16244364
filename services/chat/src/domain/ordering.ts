/**
 * What one socket has been sent of one channel. Messages reach an instance out of order (two
 * instances append seq 5 and 6; their pub/sub notices race) or not at all (pub/sub is fire and
 * forget, a reconnect to Redis drops what was in flight). The store holds the truth, so the
 * cursor decides for each notice: already sent (drop it), the next one (send it), or a gap
 * (read the missing range from the store first). A socket therefore sees each channel's
 * messages in sequence order with no gap and no repeat.
 */

export type Decision =
  | { kind: 'stale' }
  | { kind: 'next' }
  /** Read `afterSeq + 1 .. throughSeq` from the store, in order, then go on. */
  | { kind: 'gap'; afterSeq: number; throughSeq: number };

export function decide(sentSeq: number, noticeSeq: number): Decision {
  if (noticeSeq <= sentSeq) return { kind: 'stale' };
  if (noticeSeq === sentSeq + 1) return { kind: 'next' };
  return { kind: 'gap', afterSeq: sentSeq, throughSeq: noticeSeq };
}
