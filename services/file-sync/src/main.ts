import { runStandalone } from '@sysdesign/platform';
import { fileSyncService } from './service.js';

await runStandalone(fileSyncService);
