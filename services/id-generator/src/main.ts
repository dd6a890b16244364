import { runStandalone } from '@sysdesign/platform';
import { idGenerator } from './service.js';

await runStandalone(idGenerator);
