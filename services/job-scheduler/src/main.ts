import { runStandalone } from '@sysdesign/platform';
import { jobScheduler } from './service.js';

await runStandalone(jobScheduler);
