import type { PeerDesign } from './design.js';
import { consistentHashingPeers } from './designs/consistent-hashing.js';
import { idGeneratorPeers } from './designs/id-generator.js';
import { jobQueuePeers } from './designs/job-queue.js';
import { kvStorePeers } from './designs/kv-store.js';
import { rateLimiterPeers } from './designs/rate-limiter.js';
import { redisLimitersPeers } from './designs/redis-limiters.js';
import { sortedSetPeers } from './designs/sorted-set.js';

/**
 * Every design with a peer benchmark, in the order `pnpm bench:peers` runs them. A new design adds its
 * module here when it lands: job-queue (BullMQ, graphile-worker, pg-boss) and the leaderboard service (redis-rank)
 * are next.
 */
export const PEER_DESIGNS: readonly PeerDesign[] = [
  redisLimitersPeers,
  rateLimiterPeers,
  idGeneratorPeers,
  consistentHashingPeers,
  kvStorePeers,
  sortedSetPeers,
  jobQueuePeers,
];
