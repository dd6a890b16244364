import { runStandalone } from '@sysdesign/platform';
import { rateLimiter } from './service.js';

await runStandalone(rateLimiter);
