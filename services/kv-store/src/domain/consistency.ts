/**
 * Tunable consistency, per request. A client names the replica counts it wants (`?w=2&r=1`) or a
 * level (`?consistency=one|quorum|all`); explicit counts win over the level, and whatever is not
 * named falls back to the node's defaults (W and R). R + W > N makes every read overlap every
 * acknowledged write (strict quorum): the trade-off the README measures.
 */

export const CONSISTENCY_LEVELS = ['one', 'quorum', 'all'] as const;
export type ConsistencyLevel = (typeof CONSISTENCY_LEVELS)[number];

export interface QuorumSizes {
  r: number;
  w: number;
}

export interface QuorumRequest {
  r?: number | undefined;
  w?: number | undefined;
  consistency?: ConsistencyLevel | undefined;
}

/** The smallest majority of `n` replicas: floor(n / 2) + 1. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Replicas a level stands for, out of `n`. */
export function replicasFor(level: ConsistencyLevel, n: number): number {
  switch (level) {
    case 'one':
      return 1;
    case 'quorum':
      return majority(n);
    case 'all':
      return n;
  }
}

/** R and W of one request: explicit counts, else the level, else the defaults. Bounds are the caller's (1..N). */
export function quorumFor(request: QuorumRequest, n: number, defaults: QuorumSizes): QuorumSizes {
  const level = request.consistency === undefined ? undefined : replicasFor(request.consistency, n);
  return {
    r: request.r ?? level ?? defaults.r,
    w: request.w ?? level ?? defaults.w,
  };
}

/** True when every read of R replicas meets every write acknowledged by W of N. */
export function isStrict(sizes: QuorumSizes, n: number): boolean {
  return sizes.r + sizes.w > n;
}
