import { runStandalone } from '@sysdesign/platform';
import { leaderboard } from './service.js';

await runStandalone(leaderboard);
