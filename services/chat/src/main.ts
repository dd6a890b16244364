import { runStandalone } from '@sysdesign/platform';
import { chat } from './service.js';

await runStandalone(chat);
