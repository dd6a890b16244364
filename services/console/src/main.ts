import { runStandalone } from '@sysdesign/platform';
import { consoleService } from './service.js';

await runStandalone(consoleService);
