import { runStandalone } from '@sysdesign/platform';
import { kvStore } from './service.js';

await runStandalone(kvStore);
