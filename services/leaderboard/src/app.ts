import type { ServiceApp, TokenAuthority } from '@sysdesign/platform';
import type { Leaderboard } from './leaderboard.js';
import type { LiveHub } from './live.js';
import { registerBoardRoutes } from './routes/boards.js';
import { registerLiveRoute } from './routes/live.js';
import { registerPage } from './routes/page.js';
import { registerReadRoutes } from './routes/reads.js';
import { registerScoreRoutes } from './routes/scores.js';

export interface AppDeps {
  leaderboard: Leaderboard;
  hub: LiveHub;
  authority: TokenAuthority;
  batchMax: number;
  pageMax: number;
  listMax: number;
  aroundMax: number;
}

/** The HTTP app over ready-made parts; `service.ts` makes the parts from configuration. */
export function registerApp(app: ServiceApp, deps: AppDeps): ServiceApp {
  const { leaderboard, authority } = deps;
  registerBoardRoutes(app, { leaderboard, authority, pageMax: deps.pageMax });
  registerScoreRoutes(app, { leaderboard, authority, batchMax: deps.batchMax });
  registerReadRoutes(app, {
    leaderboard,
    pageMax: deps.pageMax,
    listMax: deps.listMax,
    aroundMax: deps.aroundMax,
  });
  registerLiveRoute(app, { leaderboard, hub: deps.hub });
  registerPage(app);
  return app;
}
