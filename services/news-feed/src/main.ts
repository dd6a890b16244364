import { runStandalone } from '@sysdesign/platform';
import { newsFeed } from './service.js';

await runStandalone(newsFeed);
