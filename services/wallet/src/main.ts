import { runStandalone } from '@sysdesign/platform';
import { wallet } from './service.js';

await runStandalone(wallet);
