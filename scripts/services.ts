import { chat } from '@sysdesign/chat';
import { consoleService } from '@sysdesign/console';
import { fileSyncService } from '@sysdesign/file-sync';
import { idGenerator } from '@sysdesign/id-generator';
import { jobScheduler } from '@sysdesign/job-scheduler';
import { kvStore } from '@sysdesign/kv-store';
import { leaderboard } from '@sysdesign/leaderboard';
import { newsFeed } from '@sysdesign/news-feed';
import type { ServiceDefinition } from '@sysdesign/platform';
import { rateLimiter } from '@sysdesign/rate-limiter';
import { urlShortener } from '@sysdesign/url-shortener';
import { wallet } from '@sysdesign/wallet';

/**
 * Every service `pnpm start` runs, in start order. Adding a service is one line here (and a
 * root devDependency on its package).
 */
export const SERVICES: ServiceDefinition[] = [
  rateLimiter,
  kvStore,
  idGenerator,
  urlShortener,
  jobScheduler,
  leaderboard,
  chat,
  fileSyncService,
  wallet,
  newsFeed,
];

export const CONSOLE = consoleService;
